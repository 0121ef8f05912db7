package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// calendarCase is one `gongdan calendar` command line and the exact line it prints.
type calendarCase struct {
	name string
	args []string
	want string
}

func runCalendarCases(t *testing.T, config string, cases []calendarCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"calendar"}, c.args...)
			if config != "" {
				args = append(args, "--config", config)
			}
			code, out, errOut := runCLI(t, args...)
			require.Equal(t, 0, code, errOut)
			assert.Equal(t, c.want+"\n", out)
			assert.Empty(t, errOut)
		})
	}
}

func due(cal, start, d string) []string {
	return []string{"due", "--calendar", cal, "--start", start, "--duration", d}
}

func elapsed(cal, from, to string) []string {
	return []string{"elapsed", "--calendar", cal, "--from", from, "--to", to}
}

// The quickstart's cn-office calendar (Asia/Shanghai, 08:30–12:00 and 13:00–17:30 on
// weekdays) with the shipped cn-2025 and cn-2026 sets: the 2026 Spring Festival is off
// 02-15..02-23 and Saturdays 02-14 and 02-28 are worked (调休), with a weekday's hours.
func TestCalendarDueOverTheSpringFestival(t *testing.T) {
	runCalendarCases(t, "", []calendarCase{
		{"Friday evening into the make-up Saturday", due("cn-office", "2026-02-13T17:00:00+08:00", "90m"), "2026-02-14T09:30:00+08:00"},
		{"the make-up Saturday over the festival", due("cn-office", "2026-02-14T17:00:00+08:00", "1h"), "2026-02-24T09:00:00+08:00"},
		{"a start given in UTC is printed in +08:00", due("cn-office", "2026-02-13T09:00:00Z", "90m"), "2026-02-14T09:30:00+08:00"},
		{"a start in another zone", due("cn-office", "2026-02-14T10:00:00+01:00", "30m"), "2026-02-14T17:30:00+08:00"},
		{"a start on a festival day counts from the next opening", due("cn-office", "2026-02-16T10:00:00+08:00", "1h"), "2026-02-24T09:30:00+08:00"},
		{"a whole working day from the eve", due("cn-office", "2026-02-13T08:30:00+08:00", "16h"), "2026-02-14T17:30:00+08:00"},
		{"the second make-up Saturday", due("cn-office", "2026-02-27T17:00:00+08:00", "1h"), "2026-02-28T09:00:00+08:00"},
		{"the Sunday after it is off", due("cn-office", "2026-02-28T17:00:00+08:00", "1h"), "2026-03-02T09:00:00+08:00"},
		{"Friday into a plain weekend", due("cn-office", "2026-03-06T17:00:00+08:00", "1h"), "2026-03-09T09:00:00+08:00"},
	})
}

// National Day 2026: off 10-01..10-07; Sunday 09-20 and Saturday 10-10 are worked. The
// Mid-Autumn Festival is off 09-25..09-27.
func TestCalendarDueOverNationalDay(t *testing.T) {
	runCalendarCases(t, "", []calendarCase{
		{"Friday into the make-up Sunday", due("cn-office", "2026-09-18T17:00:00+08:00", "1h"), "2026-09-20T09:00:00+08:00"},
		{"over the Mid-Autumn Festival", due("cn-office", "2026-09-24T17:00:00+08:00", "1h"), "2026-09-28T09:00:00+08:00"},
		{"over the golden week", due("cn-office", "2026-09-30T17:00:00+08:00", "1h"), "2026-10-08T09:00:00+08:00"},
		{"Friday into the make-up Saturday", due("cn-office", "2026-10-09T17:00:00+08:00", "1h"), "2026-10-10T09:00:00+08:00"},
		{"a start in the golden week", due("cn-office", "2026-10-03T09:00:00+08:00", "8h"), "2026-10-08T17:30:00+08:00"},
		{"over New Year: both sets", due("cn-office", "2025-12-31T17:00:00+08:00", "1h"), "2026-01-04T09:00:00+08:00"},
	})
}

// A due time that falls exactly at a closing stays there: not at the next opening.
func TestCalendarDueAtAClosingStaysThere(t *testing.T) {
	runCalendarCases(t, "", []calendarCase{
		{"the evening closing", due("cn-office", "2026-02-13T17:00:00+08:00", "30m"), "2026-02-13T17:30:00+08:00"},
		{"the evening closing before the festival", due("cn-office", "2026-02-14T17:00:00+08:00", "30m"), "2026-02-14T17:30:00+08:00"},
		{"the lunch closing", due("cn-office", "2026-02-12T11:00:00+08:00", "1h"), "2026-02-12T12:00:00+08:00"},
		{"a start at lunch", due("cn-office", "2026-02-12T12:30:00+08:00", "1h"), "2026-02-12T14:00:00+08:00"},
		{"a start before the opening", due("cn-office", "2026-02-24T07:00:00+08:00", "30m"), "2026-02-24T09:00:00+08:00"},
		{"a start at the closing", due("cn-office", "2026-02-13T17:30:00+08:00", "1m"), "2026-02-14T08:31:00+08:00"},
	})
}

func TestCalendarElapsedOverTheFestivals(t *testing.T) {
	runCalendarCases(t, "", []calendarCase{
		{"Friday 17:00 to the Tuesday after the festival", elapsed("cn-office", "2026-02-13T17:00:00+08:00", "2026-02-24T09:00:00+08:00"), "9h0m0s"},
		{"the same in UTC", elapsed("cn-office", "2026-02-13T09:00:00Z", "2026-02-24T01:00:00Z"), "9h0m0s"},
		// Thu, Fri, Sat 02-14, then Tue 02-24 to Fri 02-27, and Sat 02-28: 8 working days.
		{"two and a half weeks", elapsed("cn-office", "2026-02-12T08:30:00+08:00", "2026-03-02T08:30:00+08:00"), "64h0m0s"},
		{"the festival itself", elapsed("cn-office", "2026-02-15T00:00:00+08:00", "2026-02-24T00:00:00+08:00"), "0s"},
		{"over lunch", elapsed("cn-office", "2026-02-12T11:00:00+08:00", "2026-02-12T14:00:00+08:00"), "2h0m0s"},
		// Sun 09-20 worked, Mid-Autumn Fri 09-25 off, golden week off, Sat 10-10 worked.
		{"September 14 to October 12", elapsed("cn-office", "2026-09-14T00:00:00+08:00", "2026-10-12T00:00:00+08:00"), "128h0m0s"},
		{"to before from", elapsed("cn-office", "2026-02-24T09:00:00+08:00", "2026-02-13T17:00:00+08:00"), "0s"},
	})
}

func TestCalendarAlwaysCountsEveryHour(t *testing.T) {
	runCalendarCases(t, "", []calendarCase{
		{"due over the festival", due("24x7", "2026-02-14T17:00:00+08:00", "90m"), "2026-02-14T18:30:00+08:00"},
		{"due from UTC, printed in +08:00", due("24x7", "2026-02-14T23:00:00Z", "2h"), "2026-02-15T09:00:00+08:00"},
		{"due over National Day", due("24x7", "2026-09-30T17:00:00+08:00", "48h"), "2026-10-02T17:00:00+08:00"},
		{"elapsed over the festival", elapsed("24x7", "2026-02-13T17:00:00+08:00", "2026-02-24T09:00:00+08:00"), "256h0m0s"},
	})
}

// A config of one's own: a Europe/Berlin calendar with a holiday set file next to the
// config, and a plant calendar that extends it with Saturday mornings and works Good Friday.
func TestCalendarWithAConfigOfOnesOwn(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "de-xmas.yaml"), []byte(`name: de-xmas
holidays:
  - {dates: "2026-12-24..2026-12-26", name: Weihnachten}
`), 0o600))
	cfg := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`sla:
  calendars:
    - name: berlin
      timezone: Europe/Berlin
      hours:
        mon: ["09:00-17:00"]
        tue: ["09:00-17:00"]
        wed: ["09:00-17:00"]
        thu: ["09:00-17:00"]
        fri: ["09:00-15:00"]
      holiday_sets: [de-xmas.yaml]
      holidays: ["2026-04-03", "2026-04-06"]
    - name: berlin-plant
      extends: berlin
      hours:
        sat: ["08:00-12:00"]
      workdays: ["2026-04-03"]
`), 0o600))
	code, out, errOut := runCLI(t, "validate", "--config", cfg)
	require.Equal(t, 0, code, out+errOut)

	runCalendarCases(t, cfg, []calendarCase{
		// Summer time ends on Sunday 2026-10-25: the due time is printed in +01:00.
		{"Friday's short hours, over the change of offset", due("berlin", "2026-10-23T14:00:00+02:00", "2h"), "2026-10-26T10:00:00+01:00"},
		{"the plant works Saturday mornings", due("berlin-plant", "2026-10-23T14:00:00+02:00", "2h"), "2026-10-24T09:00:00+02:00"},
		{"summer time begins on Sunday 2026-03-29", due("berlin", "2026-03-27T14:00:00+01:00", "2h"), "2026-03-30T10:00:00+02:00"},
		{"a start in +08:00 is printed in Berlin's zone", due("berlin", "2026-02-16T16:00:00+08:00", "1h"), "2026-02-16T10:00:00+01:00"},
		{"Good Friday and Easter Monday off", due("berlin", "2026-04-02T16:00:00+02:00", "3h"), "2026-04-07T11:00:00+02:00"},
		{"the plant works Good Friday, with Monday's hours", due("berlin-plant", "2026-04-02T16:00:00+02:00", "8h"), "2026-04-03T16:00:00+02:00"},
		{"Christmas from the set file", due("berlin", "2026-12-23T16:00:00+01:00", "2h"), "2026-12-28T10:00:00+01:00"},
		{"a holiday on a Saturday beats the plant's Saturday hours", due("berlin-plant", "2026-12-23T16:00:00+01:00", "2h"), "2026-12-28T10:00:00+01:00"},
		{"elapsed on Good Friday", elapsed("berlin", "2026-04-03T00:00:00+02:00", "2026-04-04T00:00:00+02:00"), "0s"},
		{"elapsed on Good Friday at the plant", elapsed("berlin-plant", "2026-04-03T00:00:00+02:00", "2026-04-04T00:00:00+02:00"), "8h0m0s"},
		{"elapsed over the change of offset", elapsed("berlin", "2026-10-23T14:00:00+02:00", "2026-10-26T10:00:00+01:00"), "2h0m0s"},
	})

	code, out, errOut = runCLI(t, "calendar", "due", "--config", cfg, "--calendar", "cn-office", "--start", "2026-02-13T17:00:00+08:00", "--duration", "1h")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, "no calendar \"cn-office\" in sla.calendars (there are: berlin, berlin-plant)\n", errOut)
}

func TestCalendarErrors(t *testing.T) {
	const start = "2026-02-13T17:00:00+08:00"
	for _, c := range []struct {
		name     string
		args     []string
		code     int
		stderr   string // exact, unless contains is set
		contains bool
	}{
		{"unknown calendar", due("cn-oficce", start, "1h"), 1,
			"no calendar \"cn-oficce\" in sla.calendars (there are: 24x7, cn-office)\n", false},
		{"unknown calendar, elapsed", elapsed("nope", start, start), 1,
			"no calendar \"nope\" in sla.calendars (there are: 24x7, cn-office)\n", false},
		{"bad --start", due("cn-office", "2026-02-13 17:00", "1h"), 2,
			"calendar due: --start \"2026-02-13 17:00\" is not an RFC 3339 time (like 2026-02-13T17:00:00+08:00)\n", false},
		{"bad --from", elapsed("cn-office", "yesterday", start), 2,
			"calendar elapsed: --from \"yesterday\" is not an RFC 3339 time (like 2026-02-13T17:00:00+08:00)\n", false},
		{"bad --to", elapsed("cn-office", start, "2026-02-30T09:00:00+08:00"), 2,
			"calendar elapsed: --to \"2026-02-30T09:00:00+08:00\" is not an RFC 3339 time (like 2026-02-13T17:00:00+08:00)\n", false},
		{"missing --duration", []string{"due", "--calendar", "cn-office", "--start", start}, 2,
			"calendar due: --duration must be more than 0 (like 90m or 8h)\n", false},
		{"a negative --duration", due("cn-office", start, "-5m"), 2,
			"calendar due: --duration must be more than 0 (like 90m or 8h)\n", false},
		{"missing --start", []string{"due", "--calendar", "cn-office", "--duration", "1h"}, 2,
			"calendar due: --start is required\n\n" + calendarUsage + "\n", false},
		{"missing --to", []string{"elapsed", "--calendar", "cn-office", "--from", start}, 2,
			"calendar elapsed: --to is required\n\n" + calendarUsage + "\n", false},
		{"missing --calendar", []string{"due", "--start", start, "--duration", "1h"}, 2,
			"calendar due: --calendar is required\n\n" + calendarUsage + "\n", false},
		{"unknown verb", []string{"add", "--calendar", "cn-office"}, 2, calendarUsage + "\n", false},
		{"no verb", nil, 2, calendarUsage + "\n", false},
		{"an argument too many", append(due("cn-office", start, "1h"), "now"), 2,
			"calendar due: unexpected argument \"now\"\n", false},
		{"a --duration that is not one", due("cn-office", start, "soon"), 2,
			`invalid value "soon" for flag -duration`, true},
		{"an unknown flag", append(due("cn-office", start, "1h"), "--zone", "UTC"), 2,
			"flag provided but not defined: -zone", true},
		{"a config that is not there", append(due("cn-office", start, "1h"), "--config", filepath.Join(t.TempDir(), "nope.yaml")), 1,
			"nope.yaml", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"calendar"}, c.args...)...)
			assert.Equal(t, c.code, code, errOut)
			assert.Empty(t, out)
			if c.contains {
				assert.Contains(t, errOut, c.stderr)
			} else {
				assert.Equal(t, c.stderr, errOut)
			}
		})
	}
}
