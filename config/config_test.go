package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"gongdan/config"
	"gongdan/connectors"
	_ "gongdan/connectors/all"
	"gongdan/core/sla"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// webhookOnly stands in for the connector registry: it knows one type, webhook, whose own keys
// are secret and topics.
func webhookOnly(file string, c config.Connector) []*config.Error {
	if c.Type != "webhook" {
		return []*config.Error{{File: file, Line: c.Line, Path: c.Path + ".type", Msg: fmt.Sprintf("unknown connector type %q (one of: webhook)", c.Type)}}
	}
	var errs []*config.Error
	for i := 0; i+1 < len(c.Raw.Content); i += 2 {
		switch k := c.Raw.Content[i]; k.Value {
		case "name", "type", "secret", "topics":
		default:
			errs = append(errs, &config.Error{File: file, Line: k.Line, Path: c.Path + "." + k.Value, Msg: fmt.Sprintf("unknown key %q", k.Value)})
		}
	}
	return errs
}

// unsetenv removes name from the environment for the rest of the test.
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // restores the previous value when the test ends
	require.NoError(t, os.Unsetenv(name))
}

// errorLines returns the lines of err, which must be config.Errors.
func errorLines(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	var errs config.Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, strings.Count(err.Error(), "\n")+1, "one line per error")
	return strings.Split(err.Error(), "\n")
}

func TestLoadReportsEveryProblem(t *testing.T) {
	cases := []struct {
		name      string
		file      string
		env       map[string]string
		unset     []string
		validator func(string, config.Connector) []*config.Error
		want      []string
	}{
		{
			name: "typos in keys, with did-you-mean when one is close",
			file: "typo.yaml",
			want: []string{
				`testdata/typo.yaml:3: server.tokns: unknown key "tokns"; did you mean "tokens"?`,
				`testdata/typo.yaml:6: server.log.levle: unknown key "levle"; did you mean "level"?`,
				`testdata/typo.yaml:7: stor: unknown key "stor"; did you mean "store"?`,
				`testdata/typo.yaml:9: colour: unknown key "colour" (known here: server, store, bus, connectors, normalize, routing, sla, notify, devices, knowledge, tracking, confirm, followup, cards, predict, console)`,
			},
		},
		{
			name: "values of the wrong type",
			file: "wrong_type.yaml",
			want: []string{
				`testdata/wrong_type.yaml:2: server.max_body_bytes: want a whole number, got "lots"`,
				`testdata/wrong_type.yaml:3: server.timezone: want a string, got a list`,
				`testdata/wrong_type.yaml:8: server.tokens[0].demo: want true or false, got "yes"`,
				`testdata/wrong_type.yaml:9: server.log: want a mapping (key: value lines), got a string`,
				// Not also "bus.url: required when embedded is false": embedded stays unset.
				`testdata/wrong_type.yaml:11: bus.embedded: want true or false, got "true please"`,
				`testdata/wrong_type.yaml:12: connectors: want a list (lines starting with -), got a mapping`,
			},
		},
		{
			name: "unknown role",
			file: "unknown_role.yaml",
			want: []string{
				`testdata/unknown_role.yaml:4: server.tokens[1].role: unknown role "enginer" (one of: admin, supervisor, dispatcher, engineer, agent, qa, customer, system)`,
				`testdata/unknown_role.yaml:5: server.tokens[2].actor: "connector:hooks": actor ids starting connector: are the connectors' own in the audit trail; pick another id`,
			},
		},
		{
			name: "missing token fields are reported at the token's line",
			file: "missing_token_fields.yaml",
			want: []string{
				`testdata/missing_token_fields.yaml:3: server.tokens[0].token: required: the bearer token clients send`,
				`testdata/missing_token_fields.yaml:3: server.tokens[0].actor: required: the actor id the token acts as, like disp-chen`,
				`testdata/missing_token_fields.yaml:3: server.tokens[0].role: required: one of admin, supervisor, dispatcher, engineer, agent, qa, customer, system`,
				`testdata/missing_token_fields.yaml:4: server.tokens[1].token: too short: a token needs at least 16 characters (openssl rand -hex 24 makes a good one); demo: true marks a well-known demo token instead`,
				`testdata/missing_token_fields.yaml:7: server.tokens[2].actor: required: the actor id the token acts as, like disp-chen`,
			},
		},
		{
			name:      "duplicate, malformed and missing connector names; missing type",
			file:      "duplicate_connectors.yaml",
			validator: webhookOnly,
			want: []string{
				`testdata/duplicate_connectors.yaml:6: connectors[2].name: duplicate connector name "hooks": connectors[0] (line 2) has it already; names must be unique`,
				`testdata/duplicate_connectors.yaml:8: connectors[3].name: "Plant MQTT" is not a valid connector name; use lowercase letters, digits, - and _, starting with a letter or digit (it becomes part of URLs like /ingest/<name>)`,
				`testdata/duplicate_connectors.yaml:10: connectors[4].name: required: the connector's name, used in URLs like /ingest/<name>`,
				`testdata/duplicate_connectors.yaml:11: connectors[5].type: required: the kind of connector, like webhook or mqtt`,
				`testdata/duplicate_connectors.yaml:12: connectors[6].name: "api" is reserved for drafts sent to POST /api/v1/tickets; name the connector after its source`,
			},
		},
		{
			name:      "the connector registry's verdict is used",
			file:      "unknown_connector.yaml",
			validator: webhookOnly,
			want: []string{
				`testdata/unknown_connector.yaml:4: connectors[0].type: unknown connector type "mqtt" (one of: webhook)`,
			},
		},
		{
			name:  "unset environment variables without a default",
			file:  "env.yaml",
			env:   map[string]string{"TEST_SUFFIX": "x"},
			unset: []string{"TEST_HTTP", "TEST_TZ", "TEST_ADMIN_TOKEN", "TEST_ACTOR", "TEST_ROLE"},
			want: []string{
				`testdata/env.yaml:5: server.tokens[0].token: environment variable TEST_ADMIN_TOKEN is not set`,
				`testdata/env.yaml:9: server.tokens[1].actor: environment variable TEST_ACTOR is not set`,
			},
		},
		{
			name: "bad time zone",
			file: "bad_timezone.yaml",
			want: []string{
				`testdata/bad_timezone.yaml:2: server.timezone: unknown time zone "Asia/Shangai"; want an IANA name like Asia/Shanghai or UTC`,
			},
		},
		{
			name: "demo tokens on a public address",
			file: "demo_public.yaml",
			want: []string{
				`testdata/demo_public.yaml:2: server.http: refusing to listen on "0.0.0.0:8080" with demo tokens (or no tokens); set real tokens in server.tokens`,
			},
		},
		{
			name: "empty file",
			file: "empty.yaml",
			want: []string{
				`testdata/empty.yaml: the file is empty; a config needs at least a server: section (configs/gongdan.yaml in the source is a commented example)`,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			for _, k := range tc.unset {
				unsetenv(t, k)
			}
			cfg, err := config.LoadWith(filepath.Join("testdata", tc.file), tc.validator)
			assert.Equal(t, tc.want, errorLines(t, err))
			assert.Nil(t, cfg)
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  []string
	}{
		{"only comments", "# nothing here\n", []string{
			`inline.yaml: the file is empty; a config needs at least a server: section (configs/gongdan.yaml in the source is a commented example)`}},
		{"an empty document", "---\n", []string{
			`inline.yaml: the file is empty; a config needs at least a server: section (configs/gongdan.yaml in the source is a commented example)`}},
		{"top level is a list", "- server\n", []string{
			`inline.yaml:1: the top level must be a mapping of sections (server:, store:, bus:, connectors:), not a list`}},
		{"top level is a string", "server\n", []string{
			`inline.yaml:1: the top level must be a mapping of sections (server:, store:, bus:, connectors:), not a string`}},
		{"YAML syntax error", "server:\n  tokens: [1\n", []string{
			`inline.yaml:2: YAML syntax: did not find expected ',' or ']'`}},
		{"tab in the indentation", "server:\n  http: 127.0.0.1:8080\n\ttimezone: UTC\n", []string{
			`inline.yaml:3: YAML syntax: a tab in the indentation; YAML indents with spaces only`}},
		{"two documents", "server: {}\n---\nstore: {}\n", []string{
			`inline.yaml:2: a config file holds one YAML document, and a second one starts here; remove the --- and what follows, or merge it into the first`}},
		{"duplicate key", "server:\n  http: 127.0.0.1:8080\n  timezone: UTC\n  http: 127.0.0.1:9090\n", []string{
			`inline.yaml:4: server.http: mapping key "http" already defined at line 2`}},
		{"duplicate key inside a connector", "connectors:\n  - name: a\n    type: webhook\n    secret: x\n    secret: y\n", []string{
			`inline.yaml:5: connectors[0].secret: mapping key "secret" already defined at line 4`}},
		{"no tokens on a public address", "server: {http: ':8080'}\n", []string{
			`inline.yaml:1: server.http: refusing to listen on ":8080" with demo tokens (or no tokens); set real tokens in server.tokens`}},
		{"listen address without a port", "server:\n  http: 127.0.0.1\n", []string{
			`inline.yaml:2: server.http: "127.0.0.1" is not a listen address; want host:port like 127.0.0.1:8080`}},
		{"an unknown notify section", "store: {}\nnotify:\n  chanels: []\n", []string{
			`inline.yaml:3: notify.chanels: unknown key "chanels"; did you mean "channels"?`}},
		{"a notify template without its id and data", "connectors: [{name: gzh, type: webhook}]\nnotify:\n  customers:\n    templates:\n      resolved: {url: x}\n", []string{
			`inline.yaml:3: notify.customers: customers are told where they wrote, and there is no wechat.officialaccount or wechat.kf connector; or add notify.channels.sms or email to reach them there`,
			`inline.yaml:5: notify.customers.templates.resolved.template_id: required: the template's id in the account's 模板库`,
			`inline.yaml:5: notify.customers.templates.resolved.data: required: the template's keys (first, keyword1, …, remark) and their values`}},
		{"notify through a connector that is not WeCom", "connectors: [{name: hooks, type: webhook}]\nnotify:\n  wecom: {connector: hooks}\n  customers: {}\n", []string{
			`inline.yaml:3: notify.wecom.connector: hooks is a webhook connector; WeCom app messages need a wechat.work one`,
			`inline.yaml:4: notify.customers: customers are told where they wrote, and there is no wechat.officialaccount or wechat.kf connector; or add notify.channels.sms or email to reach them there`}},
		{"routing and calendar mistakes at their lines", `sla:
  calendars:
    - name: cn-office
      hours: {mon: ["09:00-12:00", "11:00-13:00"], fri: ["9-17"], sun: ["18:00-08:00"], xyz: []}
      holidays: ["2026-13-01", "2026-02-15..2026-02-23"]
      workdays: ["2026-02-16"]
    - {name: 24x7, always: true}
  policies: [{id: orange}]
routing:
  engineers:
    - {id: eng-li, radius_km: 5, status: away, max_open: -1}
    - {id: eng-li}
  teams:
    - {id: a, members: [eng-li, ghost], overflow: b}
  rules:
    - {id: r1, when: 'category ==', during: {calendar: office}, route_to: {team: a}, set: {urgency: purple}}
    - {id: r2, route_to: {}}
  weights: {distance: 0, capacity: 0, ftfr: 0}
`, []string{
			`inline.yaml:4: sla.calendars[0].hours.mon[1]: "11:00-13:00" overlaps or precedes the span before it; list spans in order`,
			`inline.yaml:4: sla.calendars[0].hours.fri[0]: "9-17" is not a span; write HH:MM-HH:MM like 09:00-12:00`,
			`inline.yaml:4: sla.calendars[0].hours.sun[0]: "18:00-08:00" ends before it starts; a span over midnight is two spans on two days`,
			`inline.yaml:4: sla.calendars[0].hours.xyz: unknown weekday "xyz" (mon, tue, wed, thu, fri, sat, sun)`,
			`inline.yaml:5: sla.calendars[0].holidays[0]: "2026-13-01" is not a date; write YYYY-MM-DD, or YYYY-MM-DD..YYYY-MM-DD for a range`,
			`inline.yaml:6: sla.calendars[0].workdays[0]: 2026-02-16 is both a holiday and a workday`,
			`inline.yaml:8: sla.policies[0].calendar: required: the calendar the clocks run on (a name under sla.calendars; one with always: true for round the clock)`,
			`inline.yaml:8: sla.policies[0]: needs a target: response, resolution or next_update`,
			`inline.yaml:11: routing.engineers[0].status: unknown status "away" (one of: on_duty, off, leave, suspended)`,
			`inline.yaml:11: routing.engineers[0].max_open: must not be negative (0: no cap)`,
			`inline.yaml:11: routing.engineers[0].radius_km: needs a home location (home: {lat, lon}) to measure from`,
			`inline.yaml:12: routing.engineers[1].id: "eng-li" is used twice`,
			`inline.yaml:14: routing.teams[0].members[1]: "ghost" is not an engineer under routing.engineers`,
			`inline.yaml:14: routing.teams[0].overflow: team "b" does not exist`,
			`inline.yaml:16: routing.rules[0].set.urgency: unknown urgency "purple" (one of: blue, yellow, orange, red)`,
			`inline.yaml:16: routing.rules[0].when: unexpected token EOF (1:11)`,
			`inline.yaml:16: routing.rules[0].during.calendar: unknown calendar "office" (sla.calendars has: 24x7, cn-office)`,
			`inline.yaml:17: routing.rules[1].route_to: needs a team or an engineer`,
			`inline.yaml:18: routing.weights: all weights are 0: every candidate would score the same`}},
		{"SLA calendars and policies at their lines", `sla:
  calendars:
    - {name: base, hours: {mon: ["09:00-18:00"]}, holiday_sets: [cn-2026, cn-2099]}
    - {name: child, extends: nobody}
    - {name: other, hours: {mon: ["09:00-18:00"]}, holiday_sets: [missing.yaml]}
    - {name: round, always: true}
    - {name: round-office, extends: round, hours: {mon: ["09:00-18:00"]}}
  policies:
    - {id: p1, calendar: base, response: 30m, warn_at: 1.5, pause_in: [closed],
       tiers: [{name: red, after: 30m, notify: [team_lead, boss], reroute: true}, {name: yellow, after: 5m, quiet: nocal}]}
    - {id: p1, calendar: base, resolution: -1h, when: 'urgency =='}
`, []string{
			`inline.yaml:3: sla.calendars[0].holiday_sets[1]: no holiday set "cn-2099" ships with gongdan (there are: cn-2025, cn-2026); a file of your own is named by its path, like my-holidays.yaml`,
			`inline.yaml:4: sla.calendars[1].extends: no calendar "nobody" before this one; list the calendar it extends first`,
			`inline.yaml:4: sla.calendars[1].hours: required unless always: true: working hours per weekday, like mon: ["09:00-12:00", "13:00-18:00"]`,
			`inline.yaml:5: sla.calendars[2].holiday_sets[0]: cannot read the holiday set: open missing.yaml: no such file or directory`,
			`inline.yaml:7: sla.calendars[4].hours: calendar "round", which this one extends, is always: true (every hour); hours would change nothing: extend a calendar with hours`,
			`inline.yaml:9: sla.policies[0].pause_in[0]: "closed" is not a state a clock can pause in (one of: new, assigned, accepted, in_progress, awaiting_parts, paused, escalated)`,
			`inline.yaml:9: sla.policies[0].warn_at: is a share of the target: more than 0 and less than 1 (0.8 warns at 80%), or 0 for no warning`,
			`inline.yaml:10: sla.policies[0].tiers[0].notify[1]: "boss" is neither a role (assignee, team_lead, supervisor, regional_director) nor a person (user:<id>)`,
			`inline.yaml:10: sla.policies[0].tiers[1].quiet: unknown calendar "nocal" (sla.calendars has: base, child, other, round, round-office)`,
			`inline.yaml:10: sla.policies[0].tiers[1].after: tiers go in order: 30m0s comes before 5m0s`,
			`inline.yaml:10: sla.policies[0].tiers[0].reroute: needs routing: there is no routing section to route the ticket again with`,
			`inline.yaml:11: sla.policies[1].id: "p1" is used twice`,
			`inline.yaml:11: sla.policies[1].resolution: must be more than 0`,
			`inline.yaml:11: sla.policies[1].when: unexpected token EOF (1:10)`}},
		{"max_body_bytes negative", "server:\n  max_body_bytes: -1\n", []string{
			`inline.yaml:2: server.max_body_bytes: must be more than 0 (the default is 1048576, 1 MiB)`}},
		{"max_body_bytes overflows", "server:\n  max_body_bytes: 99999999999999999999\n", []string{
			`inline.yaml:2: server.max_body_bytes: 99999999999999999999 is too large`}},
		{"log format and level", "server:\n  log: {format: xml, level: trace}\n", []string{
			`inline.yaml:2: server.log.format: unknown log format "xml" (one of: text, json)`,
			`inline.yaml:2: server.log.level: unknown log level "trace" (one of: debug, info, warn, error)`}},
		{"unknown key in a list item, nothing close", "server:\n  tokens:\n    - {token: 0123456789abcdef, actor: a, role: admin, colour: red}\n", []string{
			`inline.yaml:3: server.tokens[0].colour: unknown key "colour" (known here: token, actor, role, demo)`}},
		{"a one-letter key is nobody's typo", "a: 1\n", []string{
			`inline.yaml:1: a: unknown key "a" (known here: server, store, bus, connectors, normalize, routing, sla, notify, devices, knowledge, tracking, confirm, followup, cards, predict, console)`}},
		{"a key that is not a name", "server:\n  [http]: 127.0.0.1:8080\n", []string{
			`inline.yaml:2: server: a key must be a plain name, not a list`}},
		{"a merge key that does not merge a mapping", "server:\n  <<: 5\n", []string{
			`inline.yaml:2: server: << merges mappings (<<: *defaults), not a number`}},
		{"postgres without dsn (placed at the store mapping)", "server: {}\nstore:\n  driver: postgres\n", []string{
			`inline.yaml:2: store.dsn: required with driver postgres, like dsn: "${PG_DSN}"`}},
		{"postgres with a path", "store: {driver: postgres, dsn: x, path: a.db}\n", []string{
			`inline.yaml:1: store.path: only for driver sqlite; postgres takes dsn`}},
		{"unknown store driver", "store: {driver: mysql}\n", []string{
			`inline.yaml:1: store.driver: unknown store driver "mysql" (one of: sqlite, postgres)`}},
		{"embedded NATS and a url", "bus:\n  embedded: true\n  url: nats://10.0.0.7:4222\n", []string{
			`inline.yaml:2: bus.embedded: embedded: true and a url together; drop url to run NATS inside gongdan, or drop embedded to use the server at url`}},
		{"external NATS without a url", "bus:\n  embedded: false\n", []string{
			`inline.yaml:1: bus.url: required when embedded is false: the NATS server to use, like nats://127.0.0.1:4222`}},
		{"external NATS with a dir", "bus: {url: nats://h:4222, dir: nats}\n", []string{
			`inline.yaml:1: bus.dir: only for embedded NATS; an external server keeps its own storage`}},
		{"a url that is not NATS is not quoted (it may hold a password)", "bus: {url: 'http://user:pw@h:1'}\n", []string{
			`inline.yaml:1: bus.url: want a NATS URL like nats://host:4222 (schemes: nats, tls, ws, wss; several separated by commas)`}},
		{"memory bus with NATS keys", "bus: {driver: memory, embedded: false, url: nats://h:1, dir: x}\n", []string{
			`inline.yaml:1: bus.embedded: only for driver nats`,
			`inline.yaml:1: bus.url: only for driver nats`,
			`inline.yaml:1: bus.dir: only for driver nats`}},
		{"sync_always with an external server", "bus: {url: nats://h:4222, sync_always: true}\n", []string{
			`inline.yaml:1: bus.sync_always: only for embedded NATS; for an external server set jetstream { sync_interval: always } in its config`}},
		{"unknown bus driver", "bus: {driver: kafka}\n", []string{
			`inline.yaml:1: bus.driver: unknown bus driver "kafka" (one of: nats, memory)`}},
		{"a publish timeout too short to wait for a stored message", "bus:\n  publish_timeout: 10ms\n", []string{
			`inline.yaml:2: bus.publish_timeout: 10ms: want 1s to 1m0s; it bounds how long an intake request waits when the bus cannot store a message (default 2s)`}},
		{"a publish timeout beyond the duplicate window", "bus: {url: nats://h:4222, publish_timeout: 5m}\n", []string{
			`inline.yaml:1: bus.publish_timeout: 5m0s: want 1s to 1m0s; it bounds how long an intake request waits when the bus cannot store a message (default 2s)`}},
		{"a negative publish timeout", "bus:\n  publish_timeout: -1s\n", []string{
			`inline.yaml:2: bus.publish_timeout: -1s: want 1s to 1m0s; it bounds how long an intake request waits when the bus cannot store a message (default 2s)`}},
		{"a publish timeout that is not a duration", "bus:\n  publish_timeout: 2\n", []string{
			`inline.yaml:2: bus.publish_timeout: want a duration like 30s, 5m or 7d, got "2"`}},
		{"memory bus with a publish timeout", "bus: {driver: memory, publish_timeout: 1s}\n", []string{
			`inline.yaml:1: bus.publish_timeout: only for driver nats; the memory bus stores in memory and does not wait`}},
		{"malformed ${}", "server:\n  http: '${1X}'\n", []string{
			`inline.yaml:2: server.http: malformed ${...}: write ${NAME} or ${NAME:-default} with NAME made of letters, digits and _, or $$ for a literal $`}},
		{"unterminated ${", "server:\n  http: '127.0.0.1:${PORT'\n", []string{
			`inline.yaml:2: server.http: unterminated ${ (close it with }, or write $$ for a literal $)`}},
		{"normalize: a bad device pattern, an empty keyword, a missing dictionary", "normalize:\n  dictionary: no-such.yaml\n  device_patterns: ['E\\d{9}', '(', 'x*']\n  urgency_keywords: {red: [起火, '']}\n  times: maybe\n", []string{
			`inline.yaml:2: normalize.dictionary: cannot read the fault dictionary: open no-such.yaml: no such file or directory`,
			`inline.yaml:3: normalize.device_patterns[1]: "(" is not a valid regexp: error parsing regexp: missing closing ): ` + "`(`",
			`inline.yaml:3: normalize.device_patterns[2]: "x*" matches the empty text, so it would find a serial in every message`,
			`inline.yaml:4: normalize.urgency_keywords.red[1]: empty keyword; remove it`,
			`inline.yaml:5: normalize.times: want true or false, got "maybe"`}},
		{"problems are sorted by line", "server:\n  log: {format: xml}\n  tokns: []\nstor: {}\n", []string{
			`inline.yaml:2: server.log.format: unknown log format "xml" (one of: text, json)`,
			`inline.yaml:3: server.tokns: unknown key "tokns"; did you mean "tokens"?`,
			`inline.yaml:4: stor: unknown key "stor"; did you mean "store"?`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseWith("inline.yaml", []byte(tc.input), webhookOnly)
			assert.Equal(t, tc.want, errorLines(t, err))
			assert.Nil(t, cfg)
		})
	}
}

// TestWithoutACheckConnectorsAreNotJudged: config checks only what it owns, a connector's name
// and type; its type and its other keys are the connector registry's to judge (ParseWith).
func TestWithoutACheckConnectorsAreNotJudged(t *testing.T) {
	cfg, err := config.Load("testdata/unknown_connector.yaml")
	require.NoError(t, err)
	require.Len(t, cfg.Connectors, 1)
	assert.Equal(t, "mqtt", cfg.Connectors[0].Type)
}

func TestConnectorCheckErrorsAreMergedInLineOrder(t *testing.T) {
	_, err := config.ParseWith("merge.yaml", []byte("server:\n  tokns: []\nconnectors:\n  - name: hooks\n    type: webhook\n    secrte: x\nstor: {}\n"), webhookOnly)
	assert.Equal(t, []string{
		`merge.yaml:2: server.tokns: unknown key "tokns"; did you mean "tokens"?`,
		`merge.yaml:6: connectors[0].secrte: unknown key "secrte"`,
		`merge.yaml:7: stor: unknown key "stor"; did you mean "store"?`,
	}, errorLines(t, err))
}

func TestLoadValid(t *testing.T) {
	t.Setenv("TEST_ADMIN_TOKEN", "admin-token-0123456789")
	t.Setenv("TEST_HOOK_SECRET", "hook-secret")
	unsetenv(t, "TEST_PG_DSN")
	var got []config.Connector
	cfg, err := config.LoadWith("testdata/valid.yaml", func(file string, c config.Connector) []*config.Error {
		assert.Equal(t, "testdata/valid.yaml", file)
		got = append(got, c)
		return webhookOnly(file, c)
	})
	require.NoError(t, err)

	assert.Equal(t, "testdata/valid.yaml", cfg.File)
	s := cfg.Server
	assert.Equal(t, "127.0.0.1:9090", s.HTTP)
	assert.Equal(t, "Europe/Berlin", s.Timezone)
	require.NotNil(t, s.Location)
	assert.Equal(t, "Europe/Berlin", s.Location.String())
	assert.Equal(t, int64(2097152), s.MaxBodyBytes)
	assert.Equal(t, config.Log{Format: "json", Level: "debug"}, s.Log)
	assert.Equal(t, []config.Token{
		{Token: "admin-token-0123456789", Actor: "admin-1", Role: "admin"},
		{Token: "0123456789abcdef-dispatch", Actor: "disp-chen", Role: "dispatcher"},
		{Token: "demo-engineer", Actor: "eng-li", Role: "engineer", Demo: true},
	}, s.Tokens)
	assert.Equal(t, config.Store{Driver: "postgres", DSN: "postgres://gongdan@localhost/gongdan"}, cfg.Store)
	require.NotNil(t, cfg.Bus.Embedded)
	assert.False(t, *cfg.Bus.Embedded, "a url means external NATS")
	assert.Equal(t, "nats", cfg.Bus.Driver)
	assert.Equal(t, "nats://10.0.0.7:4222", cfg.Bus.URL)
	assert.Empty(t, cfg.Bus.Dir, "no storage directory for external NATS")

	require.Len(t, cfg.Connectors, 2)
	assert.Equal(t, cfg.Connectors, got, "the validator sees every connector as the config keeps it")
	hooks, plant := cfg.Connectors[0], cfg.Connectors[1]
	assert.Equal(t, []any{"hooks", "webhook", 20, "connectors[0]"}, []any{hooks.Name, hooks.Type, hooks.Line, hooks.Path})
	assert.Equal(t, []any{"plant-2", "webhook", 23, "connectors[1]"}, []any{plant.Name, plant.Type, plant.Line, plant.Path})
	var own struct {
		Secret string   `yaml:"secret"`
		Topics []string `yaml:"topics"`
	}
	require.NoError(t, hooks.Raw.Decode(&own))
	assert.Equal(t, "hook-secret", own.Secret, "connector values come ${VAR}-expanded")
	require.NoError(t, plant.Raw.Decode(&own))
	assert.Equal(t, []string{"factory/+/telemetry"}, own.Topics)

	require.NotNil(t, cfg.Routing, "an empty section is kept")
	assert.NotNil(t, cfg.Routing.Router, "and routes nothing")
	assert.Empty(t, cfg.SLA.Calendars, "a null section is as good as absent")
	assert.Nil(t, cfg.Notify.WeCom)
}

func TestDefaults(t *testing.T) {
	cfg, err := config.Parse("defaults.yaml", []byte("server: {}\n"))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", cfg.Server.HTTP)
	assert.Equal(t, "Asia/Shanghai", cfg.Server.Timezone)
	require.NotNil(t, cfg.Server.Location)
	assert.Equal(t, "Asia/Shanghai", cfg.Server.Location.String())
	assert.Equal(t, int64(1<<20), cfg.Server.MaxBodyBytes)
	assert.Equal(t, config.Log{Format: "text", Level: "info"}, cfg.Server.Log)
	assert.Empty(t, cfg.Server.Tokens)
	assert.Equal(t, config.Store{Driver: "sqlite", Path: "gongdan.db"}, cfg.Store)
	require.NotNil(t, cfg.Bus.Embedded)
	assert.True(t, *cfg.Bus.Embedded)
	assert.Equal(t, config.Bus{Driver: "nats", Embedded: cfg.Bus.Embedded, Dir: "nats", PublishTimeout: config.Duration(2 * time.Second)}, cfg.Bus)

	cfg, err = config.Parse("memory.yaml", []byte("bus: {driver: memory}\n"))
	require.NoError(t, err)
	assert.Equal(t, config.Bus{Driver: "memory"}, cfg.Bus, "no NATS defaults for the memory bus")
}

func TestBusPublishTimeout(t *testing.T) {
	cfg, err := config.Parse("bus.yaml", []byte("bus: {publish_timeout: 1500ms}\n"))
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, cfg.Bus.PublishTimeout.Std())
	cfg, err = config.Parse("bus.yaml", []byte("bus: {url: nats://h:4222}\n"))
	require.NoError(t, err)
	assert.Equal(t, config.DefaultBusPublishTimeout, cfg.Bus.PublishTimeout.Std(), "external NATS has the default too")
}

func TestEnvExpansion(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		unset []string
		check func(t *testing.T, s config.Server)
	}{
		{
			name:  "set variables are used; unset ones with a default take it; $$ is a literal $",
			env:   map[string]string{"TEST_ADMIN_TOKEN": "admin-token-0123456789", "TEST_SUFFIX": "sfx", "TEST_ACTOR": "eng-li"},
			unset: []string{"TEST_HTTP", "TEST_TZ", "TEST_ROLE"},
			check: func(t *testing.T, s config.Server) {
				assert.Equal(t, "127.0.0.1:8080", s.HTTP)
				assert.Equal(t, "Asia/Shanghai", s.Timezone)
				require.Len(t, s.Tokens, 2)
				assert.Equal(t, config.Token{Token: "admin-token-0123456789", Actor: "admin-${TEST_ADMIN_TOKEN}", Role: "admin"}, s.Tokens[0])
				assert.Equal(t, config.Token{Token: "pa$word-sfx-0123456789", Actor: "eng-li", Role: "engineer"}, s.Tokens[1])
			},
		},
		{
			name: "a set variable wins over the default; an empty one does not",
			env:  map[string]string{"TEST_HTTP": "127.0.0.2:9000", "TEST_TZ": "", "TEST_ROLE": "qa", "TEST_ADMIN_TOKEN": "admin-token-0123456789", "TEST_SUFFIX": "", "TEST_ACTOR": "qa-sun"},
			check: func(t *testing.T, s config.Server) {
				assert.Equal(t, "127.0.0.2:9000", s.HTTP)
				assert.Equal(t, "Asia/Shanghai", s.Timezone)
				require.Len(t, s.Tokens, 2)
				assert.Equal(t, config.Token{Token: "pa$word--0123456789", Actor: "qa-sun", Role: "qa"}, s.Tokens[1])
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			for _, k := range tc.unset {
				unsetenv(t, k)
			}
			cfg, err := config.Load("testdata/env.yaml")
			require.NoError(t, err)
			tc.check(t, cfg.Server)
		})
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	// Problems in what an alias or a merge brings in are placed where it is used.
	_, err := config.Parse("anchors.yaml", []byte(`
server:
  tokens:
    - &admin {token: 0123456789abcdef, actor: admin-1, role: enginer}
    - <<: *admin
      token: fedcba9876543210
      actor: admin-2
    - *admin
`))
	assert.Equal(t, []string{
		`anchors.yaml:4: server.tokens[0].role: unknown role "enginer" (one of: admin, supervisor, dispatcher, engineer, agent, qa, customer, system)`,
		`anchors.yaml:5: server.tokens[1].role: unknown role "enginer" (one of: admin, supervisor, dispatcher, engineer, agent, qa, customer, system)`,
		`anchors.yaml:8: server.tokens[2].role: unknown role "enginer" (one of: admin, supervisor, dispatcher, engineer, agent, qa, customer, system)`,
		`anchors.yaml:8: server.tokens[2].token: the same token as server.tokens[0]; every token must be different`,
	}, errorLines(t, err))

	cfg, err := config.Parse("anchors.yaml", []byte(`
server:
  tokens:
    - &admin {token: 0123456789abcdef, actor: admin-1, role: admin}
    - <<: *admin
      token: fedcba9876543210
      actor: admin-2
`))
	require.NoError(t, err)
	assert.Equal(t, []config.Token{
		{Token: "0123456789abcdef", Actor: "admin-1", Role: "admin"},
		{Token: "fedcba9876543210", Actor: "admin-2", Role: "admin"},
	}, cfg.Server.Tokens)
}

func TestSecretsNeverPrinted(t *testing.T) {
	const secret = "hunter2-hunter2-hunter2"
	t.Setenv("TEST_SECRET", secret)
	t.Setenv("TEST_SHORT_SECRET", "hunter3")

	_, err := config.Load("testdata/secret.yaml")
	lines := errorLines(t, err)
	assert.Equal(t, []string{
		`testdata/secret.yaml:4: server.tokens[1].role: unknown role "enginer" (one of: admin, supervisor, dispatcher, engineer, agent, qa, customer, system)`,
		`testdata/secret.yaml:4: server.tokens[1].token: the same token as server.tokens[0]; every token must be different`,
		`testdata/secret.yaml:5: server.tokens[2].token: too short: a token needs at least 16 characters (openssl rand -hex 24 makes a good one); demo: true marks a well-known demo token instead`,
		`testdata/secret.yaml:8: store.dsn: only for driver postgres; sqlite takes path`,
	}, lines)
	assert.NotContains(t, err.Error(), "hunter")

	_, err = config.Parse("inline.yaml", []byte("server:\n  tokens:\n    - {token: [hunter2-hunter2-hunter2], actor: a, role: admin}\n"))
	assert.Equal(t, []string{`inline.yaml:3: server.tokens[0].token: want a string, got a list`}, errorLines(t, err))

	cfg, err := config.ParseWith("secret.yaml", []byte(`
server:
  tokens:
    - {token: "${TEST_SECRET}", actor: admin-1, role: admin}
store: {driver: postgres, dsn: "postgres://gongdan:${TEST_SECRET}@db/gongdan"}
connectors:
  - {name: hooks, type: webhook, secret: "${TEST_SECRET}"}
`), webhookOnly)
	require.NoError(t, err)
	require.Equal(t, secret, cfg.Server.Tokens[0].Token.Reveal(), "the secret is in the config")
	require.Contains(t, cfg.Store.DSN.Reveal(), secret)

	jsonOut, err := json.Marshal(cfg)
	require.NoError(t, err)
	yamlOut, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	var textLog, jsonLog bytes.Buffer
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("config", "cfg", cfg, "token", cfg.Server.Tokens[0].Token)
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("config", "cfg", cfg, "token", cfg.Server.Tokens[0].Token)

	for name, out := range map[string]string{
		"%v":       fmt.Sprintf("%v", cfg),
		"%+v":      fmt.Sprintf("%+v", cfg),
		"%#v":      fmt.Sprintf("%#v", cfg),
		"%s token": fmt.Sprintf("%s", cfg.Server.Tokens[0].Token),
		"json":     string(jsonOut),
		"yaml":     string(yamlOut),
		"text log": textLog.String(),
		"json log": jsonLog.String(),
	} {
		assert.NotContains(t, out, "hunter2", name)
		assert.Contains(t, out, "[redacted]", name)
	}
}

func TestSecret(t *testing.T) {
	s := config.Secret("hunter2")
	assert.Equal(t, "hunter2", s.Reveal())
	assert.Equal(t, "[redacted]", s.String())
	assert.Equal(t, `config.Secret("[redacted]")`, fmt.Sprintf("%#v", s))
	assert.Equal(t, slog.StringValue("[redacted]"), s.LogValue())
	j, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `"[redacted]"`, string(j))
	y, err := yaml.Marshal(s)
	require.NoError(t, err)
	assert.Equal(t, "'[redacted]'\n", string(y))

	var empty config.Secret
	assert.Empty(t, empty.String(), "a missing secret is visibly missing")
	j, err = json.Marshal(empty)
	require.NoError(t, err)
	assert.JSONEq(t, `""`, string(j))
}

func TestDuration(t *testing.T) {
	cases := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "5m", want: 5 * time.Minute},
		{in: "2h", want: 2 * time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "0", want: 0},
		{in: "30d", want: 30 * 24 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "d", wantErr: `want a duration like 30s, 5m or 7d, got "d"`},
		{in: "-1d", wantErr: `want a duration like 30s, 5m or 7d, got "-1d"`},
		{in: "1d-1h", wantErr: `want a duration like 30s, 5m or 7d, got "1d-1h"`},
		{in: "1.5d", wantErr: `want a duration like 30s, 5m or 7d, got "1.5d"`},
		{in: "30", wantErr: `want a duration like 30s, 5m or 7d, got "30"`},
		{in: "soon", wantErr: `want a duration like 30s, 5m or 7d, got "soon"`},
		{in: "[30s]", wantErr: `want a duration like 30s, 5m or 7d, got a list`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var v struct {
				D config.Duration `yaml:"d"`
			}
			err := yaml.Unmarshal([]byte("d: "+tc.in), &v)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tc.wantErr, err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, v.D.Std())
		})
	}
	out, err := yaml.Marshal(struct{ D config.Duration }{config.Duration(90 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, "d: 1m30s\n", string(out))
}

func TestQuickstart(t *testing.T) {
	cfg, err := config.Quickstart(connectors.Global.Validate)
	require.NoError(t, err)
	assert.Empty(t, cfg.File, "the quickstart has no file")
	assert.Equal(t, "127.0.0.1:8080", cfg.Server.HTTP)
	assert.True(t, config.IsLoopback(cfg.Server.HTTP))
	require.NotNil(t, cfg.Server.Location)
	assert.Equal(t, "Asia/Shanghai", cfg.Server.Location.String())
	assert.Equal(t, config.Log{Format: "text", Level: "info"}, cfg.Server.Log)
	assert.Equal(t, config.Store{Driver: "sqlite", Path: "gongdan.db"}, cfg.Store)
	require.NotNil(t, cfg.Bus.Embedded)
	assert.True(t, *cfg.Bus.Embedded)
	assert.Equal(t, "nats", cfg.Bus.Dir)
	require.Len(t, cfg.Connectors, 3)
	assert.Equal(t, "hooks", cfg.Connectors[0].Name)
	assert.Equal(t, "webhook", cfg.Connectors[1].Type)
	assert.Equal(t, "mqtt", cfg.Connectors[2].Type, "the quickstart has devices connect to its embedded broker")

	require.Len(t, cfg.Server.Tokens, 9)
	var roles []string
	for _, tok := range cfg.Server.Tokens {
		assert.True(t, tok.Demo, tok.Actor)
		assert.True(t, strings.HasPrefix(tok.Token.Reveal(), "demo-"), tok.Actor)
		roles = append(roles, tok.Role)
	}
	for _, r := range ticket.Roles {
		assert.Contains(t, roles, string(r), "a demo token for every role")
	}
	assert.Equal(t, config.Token{Token: "demo-engineer-2", Actor: "eng-zhao", Role: "engineer", Demo: true}, cfg.Server.Tokens[4])
}

func TestResolvePaths(t *testing.T) {
	abs, err := filepath.Abs("somewhere")
	require.NoError(t, err)
	cases := []struct {
		name         string
		store, bus   string
		wantS, wantB string
	}{
		{"relative paths go under the data directory", "gongdan.db", "nats", filepath.Join("data", "gongdan.db"), filepath.Join("data", "nats")},
		{"nested relative paths", "db/g.db", "../bus", filepath.Join("data", "db", "g.db"), "bus"},
		{"absolute paths stay", filepath.Join(abs, "g.db"), abs, filepath.Join(abs, "g.db"), abs},
		{"empty paths stay empty", "", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{Store: config.Store{Path: tc.store}, Bus: config.Bus{Dir: tc.bus}}
			cfg.ResolvePaths("data")
			assert.Equal(t, tc.wantS, cfg.Store.Path)
			assert.Equal(t, tc.wantB, cfg.Bus.Dir)
		})
	}
}

func TestIsLoopback(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1:8080":         true,
		"127.1.2.3:8080":         true,
		"localhost:8080":         true,
		"LOCALHOST:80":           true,
		"[::1]:8080":             true,
		"[::ffff:127.0.0.1]:80":  true,
		"0.0.0.0:8080":           false,
		":8080":                  false,
		"[::]:8080":              false,
		"192.168.1.10:8080":      false,
		"example.com:8080":       false,
		"127.0.0.1":              false, // no port: not an address
		"localhost.example:8080": false,
	}
	for addr, want := range cases {
		assert.Equal(t, want, config.IsLoopback(addr), addr)
	}
}

func TestErrorFormat(t *testing.T) {
	errs := config.Errors{
		{File: "a.yaml", Line: 7, Path: "server.tokens[1].role", Msg: "unknown role"},
		{File: "a.yaml", Msg: "the file is empty"},
		{File: "a.yaml", Line: 3, Msg: "YAML syntax: oops"},
	}
	assert.Equal(t, "a.yaml:7: server.tokens[1].role: unknown role\na.yaml: the file is empty\na.yaml:3: YAML syntax: oops", errs.Error())
	var one *config.Error
	require.ErrorAs(t, fmt.Errorf("wrapped: %w", errs), &one)
	assert.Equal(t, "unknown role", one.Msg)
	assert.True(t, slices.ContainsFunc(errs.Unwrap(), func(e error) bool { return errors.Is(e, errs[2]) }))
}

func TestLoadMissingFileNamesIt(t *testing.T) {
	_, err := config.Load("testdata/no-such-file.yaml")
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "testdata/no-such-file.yaml")
}

// The normalize section reaches the enricher: the operator's dictionary (relative to the
// config file), device patterns and urgency words, with the defaults for what is not given.
func TestNormalizeSection(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "dicts", "elevators.yaml"), "categories:\n  - name: 困人\n    keywords: [困人, 关在电梯里]\n")
	writeFile(t, filepath.Join(dir, "gongdan.yaml"), `normalize:
  dictionary: dicts/elevators.yaml
  device_patterns: ['ELV-\d{6}', 'SN[:：]?\s*([A-Z0-9]{8})']
  urgency_keywords: {orange: [停梯]}
  addresses: false
`)
	cfg, err := config.Load(filepath.Join(dir, "gongdan.yaml"))
	require.NoError(t, err)
	e := cfg.Normalize.Enricher

	d := e.Enrich(draft.Draft{Title: "有人关在电梯里", Description: "ELV-204512 停梯了，苏州市工业园区星湖街328号"})
	assert.Equal(t, "困人", d.Category, "the operator's dictionary")
	assert.Equal(t, "ELV-204512", d.Device.ID)
	assert.Equal(t, draft.Urgency("orange"), d.Urgency, "orange words replaced")
	assert.Empty(t, d.Location.Address, "addresses: false")

	d = e.Enrich(draft.Draft{Title: "机器冒烟", Description: "序列号 SN: AB12CD34"})
	assert.Equal(t, "AB12CD34", d.Device.ID, "the pattern's group is the id")
	assert.Equal(t, draft.Urgency("red"), d.Urgency, "red keeps the default words")
	assert.Empty(t, d.Category, "the shipped dictionary is replaced, not merged")

	// A broken dictionary names its file and line.
	writeFile(t, filepath.Join(dir, "dicts", "elevators.yaml"), "categories:\n  - name: 困人\n  - name: 困人\n    keywords: [困人]\n")
	_, err = config.Load(filepath.Join(dir, "gongdan.yaml"))
	require.Error(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "gongdan.yaml") + `:2: normalize.dictionary: ` + filepath.Join(dir, "dicts", "elevators.yaml") +
		`: dictionary line 2: category "困人" has no keywords or synonyms, so it can never match`}, errorLines(t, err))
}

// Without the section, drafts are enriched with the shipped dictionary and every extractor
// but device serials (no pattern is a safe default).
func TestNormalizeDefaults(t *testing.T) {
	cfg, err := config.Parse("inline.yaml", []byte("server: {}\n"))
	require.NoError(t, err)
	d := cfg.Normalize.Enricher.Enrich(draft.Draft{Title: "3号线急停按钮失灵", Description: "E202308001，苏州市工业园区星湖街328号"})
	assert.Equal(t, "急停故障", d.Category)
	assert.Equal(t, "苏州市工业园区星湖街328号", d.Location.Address)
	assert.Empty(t, d.Device.ID)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o750))
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
}

// Calendars take shipped holiday sets, extend one another, and their own dates override
// what they take.
func TestCalendarsFromHolidaySetsAndExtends(t *testing.T) {
	cfg, err := config.Parse("inline.yaml", []byte(`sla:
  calendars:
    - name: cn-office
      timezone: Asia/Shanghai
      hours: {mon: ["08:30-12:00", "13:00-17:30"], tue: ["08:30-12:00", "13:00-17:30"], wed: ["08:30-12:00", "13:00-17:30"],
              thu: ["08:30-12:00", "13:00-17:30"], fri: ["08:30-12:00", "13:00-17:30"]}
      holiday_sets: [cn-2025, cn-2026]
      holidays: ["2026-12-24"]
    - name: plant
      extends: cn-office
      hours: {sat: ["09:00-12:00"]}
      workdays: ["2026-10-07"]
      holidays: ["2026-02-14"]
  policies:
    - {id: orange, when: 'urgency == "orange"', calendar: cn-office, response: 30m, resolution: 4h, warn_at: 0.8,
       tiers: [{name: yellow, after: 5m, notify: [assignee], quiet: cn-office}, {name: black, after: 2h, notify: [regional_director], escalate: true}]}
`))
	require.NoError(t, err)
	day := func(s string) sla.Date {
		d, err := time.Parse("2006-01-02", s)
		require.NoError(t, err)
		return sla.DateOf(d)
	}
	office, plant := cfg.SLA.Built["cn-office"], cfg.SLA.Built["plant"]
	require.NotNil(t, office)
	require.NotNil(t, plant)
	for _, d := range []string{"2025-01-28", "2025-10-08", "2026-02-15", "2026-02-23", "2026-10-07", "2026-12-24"} {
		assert.True(t, office.Holidays[day(d)], "office holiday %s", d)
	}
	for _, d := range []string{"2025-01-26", "2025-10-11", "2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10"} {
		assert.True(t, office.Workdays[day(d)], "office make-up workday %s", d)
	}
	assert.Equal(t, "Asia/Shanghai", plant.Location.String(), "the time zone is inherited")
	assert.True(t, plant.Holidays[day("2026-02-16")], "holidays are inherited")
	assert.False(t, plant.Holidays[day("2026-10-07")], "a workday of its own overrides an inherited holiday")
	assert.True(t, plant.Workdays[day("2026-10-07")])
	assert.False(t, plant.Workdays[day("2026-02-14")], "a holiday of its own overrides an inherited workday")
	assert.True(t, plant.Holidays[day("2026-02-14")])
	assert.Equal(t, office.Week[time.Monday], plant.Week[time.Monday], "hours are inherited")
	assert.Equal(t, []sla.Span{{Start: 9 * 60, End: 12 * 60}}, plant.Week[time.Saturday], "and extended")
	assert.Empty(t, office.Week[time.Saturday], "the extended calendar is not changed")

	p := cfg.SLA.BuiltPolicies.Choose(sla.Env{Urgency: "orange"})
	require.NotNil(t, p)
	assert.Equal(t, "orange", p.ID)
	assert.Equal(t, office, p.Calendar)
	assert.Equal(t, office, p.Tiers[0].Quiet)
	assert.True(t, p.Tiers[1].Escalate)
	assert.Nil(t, cfg.SLA.BuiltPolicies.Choose(sla.Env{Urgency: "blue"}))
}

// The SLA fingerprint changes with the policies, the calendars and the holiday sets, and only
// with them.
func TestSLAFingerprint(t *testing.T) {
	parse := func(doc string) string {
		cfg, err := config.Parse("inline.yaml", []byte(doc))
		require.NoError(t, err)
		return cfg.SLA.Fingerprint
	}
	base := "sla:\n  calendars: [{name: c, always: true, holiday_sets: [cn-2026]}]\n  policies: [{id: p, calendar: c, response: 30m}]\n"
	a := parse(base)
	assert.Len(t, a, 16)
	assert.Equal(t, a, parse(base+"server: {timezone: Asia/Shanghai}\n"), "other sections do not count")
	assert.NotEqual(t, a, parse(strings.Replace(base, "30m", "20m", 1)), "a goal")
	assert.NotEqual(t, a, parse(strings.Replace(base, "cn-2026", "cn-2025", 1)), "a holiday set")
}

// TestSLAFingerprintIsPinned: the fingerprint of an SLA section is what it was when it was
// pinned. A change re-arms every open ticket's SLA timers on upgrade, so it may change only
// with the section's meaning, never with how the code that reads it is arranged. (It changes,
// by design, if cn-2026.yaml or the test's files are edited.)
func TestSLAFingerprintIsPinned(t *testing.T) {
	cfg, err := config.Load("testdata/sla_fingerprint.yaml")
	require.NoError(t, err)
	require.True(t, cfg.SLA.Built["plant"].Holidays[sla.Date{Year: 2026, Month: time.August, Day: 5}], "the file's set was taken")
	assert.Equal(t, "5f38d7fddbe0e729", cfg.SLA.Fingerprint)
}
