package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gongdan/configs"
	"gongdan/core/sla"
)

// SLAConfig is the sla section: working calendars and the SLA policies that run on them. Their
// shapes and how they are built are core/sla's; config reads the holiday set files they name
// and places the problems.
type SLAConfig struct {
	// Calendars are working calendars: weekly hours, holidays, make-up workdays.
	Calendars []sla.CalendarSpec `yaml:"calendars"`
	// Policies are tried in order; the first whose when holds applies to a ticket.
	Policies []sla.PolicySpec `yaml:"policies"`

	// Built are the calendars by name; set by validation.
	Built map[string]*sla.Calendar `yaml:"-"`
	// BuiltPolicies are the policies, compiled; set by validation.
	BuiltPolicies *sla.Policies `yaml:"-"`
	// Fingerprint identifies the calendars (with their holiday sets' contents) and the
	// policies: when it changes, the engine arms the open tickets' SLA timers again.
	Fingerprint string `yaml:"-"`
}

// validate builds the calendars and the policies.
func (s *SLAConfig) validate(defaultZone *time.Location, dir string) []problem {
	// The fingerprint: the section as written and the contents of the holiday sets it takes,
	// in the order they are taken.
	fp := sha256.New()
	_ = json.NewEncoder(fp).Encode([]any{s.Calendars, s.Policies})
	calendars, cerrs := sla.BuildCalendars(s.Calendars, defaultZone, sla.Sources{
		HolidaySet: func(name string) (sla.HolidaySet, error) { return loadHolidaySet(name, dir, fp) },
		Zone:       time.LoadLocation,
	})
	s.Built = calendars
	s.Fingerprint = hex.EncodeToString(fp.Sum(nil))[:16]
	policies, perrs := sla.BuildPolicies(s.Policies, s.Built)
	s.BuiltPolicies = policies
	var ps []problem
	for _, e := range append(cerrs, perrs...) {
		ps = append(ps, problemf(e.Path, "%s", e.Msg))
	}
	return ps
}

// HolidaySets lists the names of the shipped holiday sets.
func HolidaySets() []string {
	names, _ := fs.Glob(configs.Calendars, "calendars/*.yaml")
	for i, n := range names {
		names[i] = strings.TrimSuffix(strings.TrimPrefix(n, "calendars/"), ".yaml")
	}
	return names
}

// loadHolidaySet reads a shipped set by name, or a file (a name ending in .yaml or .yml,
// relative to dir), and writes the contents of a set it could read to taken. Errors name the
// file and the line.
func loadHolidaySet(name, dir string, taken io.Writer) (sla.HolidaySet, error) {
	var data []byte
	var file string
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		file = name
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return sla.HolidaySet{}, fmt.Errorf("cannot read the holiday set: %w", err)
		}
	} else {
		file = "configs/calendars/" + name + ".yaml (shipped)"
		var err error
		if data, err = configs.Calendars.ReadFile("calendars/" + name + ".yaml"); err != nil {
			return sla.HolidaySet{}, fmt.Errorf("no holiday set %q ships with gongdan (there are: %s); a file of your own is named by its path, like my-holidays.yaml",
				name, strings.Join(HolidaySets(), ", "))
		}
	}
	set, err := sla.ParseHolidaySet(data)
	if err != nil {
		return sla.HolidaySet{}, fmt.Errorf("%s: %v", file, err)
	}
	taken.Write(data)
	return set, nil
}
