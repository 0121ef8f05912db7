package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/ticket"
)

// TestListPlans: every filter and order of List reads through an index — no scan of a table
// but the newest-first walk of the tickets' rowid or the due-first walk of the SLA board's
// index (each stops at the page's end) — and sorts no more than it must: several states are
// a page of each state's index merged (at most a page per state sorted); an SLA status
// newest first walks the tickets and looks each up in the board, sorting nothing. The queue must answer in milliseconds over a million tickets
// (issue 22).
func TestListPlans(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "gongdan.db"))
	require.NoError(t, err)
	defer s.Close()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	cursor := store.EncodeCursor(1000)
	dueCursor := store.EncodeDueCursor(now, "GD-20261207-000001")
	sorts := map[string]bool{"states": true, "states, a team, cursor": true}
	cases := map[string]store.Query{
		"newest":                 {},
		"newest, next page":      {Cursor: cursor},
		"a state":                {States: []ticket.State{"new"}},
		"states":                 {States: []ticket.State{"new", "assigned"}},
		"states, a team, cursor": {States: []ticket.State{"new", "assigned"}, Teams: []string{"suzhou-a"}, Cursor: cursor},
		"a team":                 {Teams: []string{"suzhou-a"}},
		"an assignee":            {Assignees: []string{"eng-li"}},
		"an urgency":             {Urgencies: []string{"red"}},
		"a connector":            {Connectors: []string{"hotline"}},
		"a tag":                  {Tags: []string{"催单"}},
		"two tags":               {Tags: []string{"催单", "急停"}},
		"a tag, next page":       {Tags: []string{"催单"}, Cursor: cursor},
		"due, a tag":             {Sort: store.SortDue, Tags: []string{"催单"}},
		"text":                   {Q: "急停按钮"},
		"breached":               {SLA: store.SLABreached, Now: now},
		"at risk":                {SLA: store.SLAAtRisk, Now: now},
		"no SLA":                 {SLA: store.SLANone, Now: now},
		"due":                    {Sort: store.SortDue, Now: now},
		"due, next page":         {Sort: store.SortDue, Cursor: dueCursor},
		"due, a team":            {Sort: store.SortDue, Teams: []string{"suzhou-a"}},
		"due, at risk":           {Sort: store.SortDue, SLA: store.SLAAtRisk, Now: now},
		"state, connector, tag":  {States: []ticket.State{"new"}, Connectors: []string{"hotline"}, Tags: []string{"催单"}},
		"team, breached, cursor": {Teams: []string{"suzhou-a"}, SLA: store.SLABreached, Now: now, Cursor: cursor},
	}
	for name, q := range cases {
		query, args, err := listSQL(q, 50)
		require.NoError(t, err, name)
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		require.NoError(t, err, name)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Close())
		text := strings.Join(plan, "\n")
		t.Logf("%s:\n%s", name, text)
		if !sorts[name] {
			assert.NotContains(t, text, "USE TEMP B-TREE FOR ORDER BY", "%s: sorts its whole result", name)
		}
		for _, line := range plan {
			if strings.HasPrefix(line, "SCAN ") && line != "SCAN t" && !strings.Contains(line, "USING COVERING INDEX sla_board_due") &&
				!strings.Contains(line, "VIRTUAL TABLE") && !strings.HasPrefix(line, "SCAN (subquery-") {
				t.Errorf("%s: scans a table: %s", name, line)
			}
		}
	}
}
