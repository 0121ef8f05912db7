package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"gongdan/core/sla"
)

const calendarUsage = `usage:
  gongdan calendar due     [--config FILE] --calendar NAME --start RFC3339 --duration 90m
  gongdan calendar elapsed [--config FILE] --calendar NAME --from RFC3339 --to RFC3339

due prints the time (RFC 3339, in the calendar's zone) at which a target of --duration of
working time started at --start falls due; elapsed prints the working time between two
times (Go duration syntax). Calendars are those of the config's sla.calendars.`

// calendarCmd is `gongdan calendar due|elapsed`.
func calendarCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "due" && args[0] != "elapsed") {
		return usageError("%s", calendarUsage)
	}
	verb := args[0]
	fs := newFlagSet("calendar "+verb, stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	name := fs.String("calendar", "", "a calendar under sla.calendars")
	start := fs.String("start", "", "due: when the target starts (RFC 3339)")
	duration := fs.Duration("duration", 0, "due: the working time of the target (90m, 8h)")
	from := fs.String("from", "", "elapsed: the start (RFC 3339)")
	to := fs.String("to", "", "elapsed: the end (RFC 3339)")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return usageError("calendar %s: unexpected argument %q", verb, fs.Arg(0))
	}
	if *name == "" {
		return usageError("calendar %s: --calendar is required\n\n%s", verb, calendarUsage)
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	cal := cfg.SLA.Built[*name]
	if cal == nil {
		return userError(fmt.Errorf("no calendar %q in sla.calendars (there are: %s)", *name,
			strings.Join(slices.Sorted(maps.Keys(cfg.SLA.Built)), ", ")))
	}
	parse := func(flag, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, usageError("calendar %s: --%s is required\n\n%s", verb, flag, calendarUsage)
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, usageError("calendar %s: --%s %q is not an RFC 3339 time (like 2026-02-13T17:00:00+08:00)", verb, flag, v)
		}
		if !sla.InRange(t) {
			return time.Time{}, usageError("calendar %s: --%s %q is outside the years calendars work in (1700 to 2200)", verb, flag, v)
		}
		return t, nil
	}
	switch verb {
	case "due":
		t, err := parse("start", *start)
		if err != nil {
			return err
		}
		if *duration <= 0 {
			return usageError("calendar due: --duration must be more than 0 (like 90m or 8h)")
		}
		due, ok := cal.Add(t, *duration)
		if !ok {
			return userError(fmt.Errorf("calendar %s has no working time in the five years after %s", cal.Name, t.Format(time.RFC3339)))
		}
		fmt.Fprintln(stdout, due.In(calendarZone(cal)).Format(time.RFC3339))
	case "elapsed":
		a, err := parse("from", *from)
		if err != nil {
			return err
		}
		b, err := parse("to", *to)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, cal.Elapsed(a, b))
	}
	return nil
}

func calendarZone(c *sla.Calendar) *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}
