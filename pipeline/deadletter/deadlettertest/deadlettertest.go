// Package deadlettertest is the contract every deadletter.Store passes before it counts as
// one, as every store.Store passes core/store/storetest and every watermill pub/sub passes
// tests.TestPubSub: each store's own tests call Run.
//
// It must never depend on an implementation: only on deadletter.
package deadlettertest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/pipeline/deadletter"
)

// Run runs the contract every Store must pass. open returns a new, empty store for each
// subtest; releasing it (closing a database) is open's job, with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) deadletter.Store) {
	t.Helper()
	tests := []struct {
		name string
		test func(t *testing.T, s deadletter.Store)
	}{
		{"PutNew", testPutNew},
		{"PutSameKey", testPutSameKey},
		{"PutDifferentKeys", testPutDifferentKeys},
		{"NotFound", testNotFound},
		{"MarkReplayed", testMarkReplayed},
		{"ListEmpty", testListEmpty},
		{"ListNewestFirst", testListNewestFirst},
		{"ListTies", testListTies},
		{"ListFilters", testListFilters},
		{"ListLimit", testListLimit},
		{"ListDefaultLimit", testListDefaultLimit},
		{"ListPagingWhileAdding", testListPagingWhileAdding},
		{"ListBadCursor", testListBadCursor},
		{"ConcurrentPutSameKey", testConcurrentPutSameKey},
		{"ConcurrentPutDifferentKeys", testConcurrentPutDifferentKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			require.NotNil(t, s, "open returned a nil store")
			tc.test(t, s)
		})
	}
}

const goroutines = 8

// The nanoseconds and the offset make a store that loses precision beyond the microsecond,
// or the instant with the zone, fail the round trips.
var (
	shanghai = time.FixedZone("CST", 8*3600)
	base     = time.Date(2026, 11, 23, 9, 0, 0, 123456789, shanghai)
)

// sample is a dead letter as the pipeline records it, with every field set.
func sample(key string, lastFailedAt time.Time) deadletter.DeadLetter {
	return deadletter.DeadLetter{
		Key:           key,
		Connector:     "wecom",
		Handler:       "normalize.hooks",
		Topic:         "gongdan.raw.wecom",
		Error:         `normalize: field "customer.phone": 不是手机号: "1381234"`,
		Attempts:      3,
		FirstFailedAt: lastFailedAt.Add(-90*time.Second - 987*time.Nanosecond),
		LastFailedAt:  lastFailedAt,
		MessageID:     "msg-" + key,
		Metadata: map[string]string{
			"content-type": "application/json",
			"connector":    "wecom",
			"客户":           "苏州精密",
			"empty":        "",
			`quote"and\`:   "line\nbreak",
		},
		// Not valid UTF-8, with a NUL: the payload is bytes, not text.
		Payload: append([]byte(`{"title":"3号线急停按钮失灵","phone":"13812345678"}`), 0x00, 0xff, 0xfe, '\n'),
	}
}

// at is the i-th minute after base.
func at(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }

func put(t *testing.T, s deadletter.Store, dl deadletter.DeadLetter) deadletter.DeadLetter {
	t.Helper()
	got, err := s.PutDeadLetter(t.Context(), dl)
	require.NoError(t, err, "PutDeadLetter(%s)", dl.Key)
	require.NotEmpty(t, got.ID, "PutDeadLetter(%s) returned no ID", dl.Key)
	return got
}

func get(t *testing.T, s deadletter.Store, id string) deadletter.DeadLetter {
	t.Helper()
	got, err := s.DeadLetter(t.Context(), id)
	require.NoError(t, err, "DeadLetter(%s)", id)
	return got
}

func markReplayed(t *testing.T, s deadletter.Store, id string, when time.Time) deadletter.DeadLetter {
	t.Helper()
	got, err := s.MarkReplayed(t.Context(), id, when)
	require.NoError(t, err, "MarkReplayed(%s)", id)
	return got
}

// sameInstant: a store keeps times to the microsecond at least, in any zone.
func sameInstant(t *testing.T, want, got time.Time, what string) bool {
	t.Helper()
	d := got.Sub(want)
	return assert.True(t, d > -time.Microsecond && d < time.Microsecond,
		"%s: stored %s, got back %s (off by %s)", what, want.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano), d)
}

// assertSame checks that got is want as stored: every field but the ID, times to the
// microsecond, an empty map or payload as nil or empty.
func assertSame(t *testing.T, want, got deadletter.DeadLetter, what string) {
	t.Helper()
	assert.Equal(t, want.Key, got.Key, "%s: Key", what)
	assert.Equal(t, want.Connector, got.Connector, "%s: Connector", what)
	assert.Equal(t, want.Handler, got.Handler, "%s: Handler", what)
	assert.Equal(t, want.Topic, got.Topic, "%s: Topic", what)
	assert.Equal(t, want.Error, got.Error, "%s: Error", what)
	assert.Equal(t, want.Attempts, got.Attempts, "%s: Attempts", what)
	sameInstant(t, want.FirstFailedAt, got.FirstFailedAt, what+": FirstFailedAt")
	sameInstant(t, want.LastFailedAt, got.LastFailedAt, what+": LastFailedAt")
	assert.Equal(t, want.State, got.State, "%s: State", what)
	assert.Equal(t, want.Replays, got.Replays, "%s: Replays", what)
	if want.ReplayedAt == nil {
		assert.Nil(t, got.ReplayedAt, "%s: ReplayedAt", what)
	} else if assert.NotNil(t, got.ReplayedAt, "%s: ReplayedAt", what) {
		sameInstant(t, *want.ReplayedAt, *got.ReplayedAt, what+": ReplayedAt")
	}
	assert.Equal(t, want.MessageID, got.MessageID, "%s: MessageID", what)
	if len(want.Metadata) == 0 {
		assert.Empty(t, got.Metadata, "%s: Metadata", what)
	} else {
		assert.Equal(t, want.Metadata, got.Metadata, "%s: Metadata", what)
	}
	if len(want.Payload) == 0 {
		assert.Empty(t, got.Payload, "%s: Payload", what)
	} else {
		assert.Equal(t, want.Payload, got.Payload, "%s: Payload, byte for byte", what)
	}
}

// assertEqual checks that two reads of one record agree, ID included.
func assertEqual(t *testing.T, want, got deadletter.DeadLetter, what string) {
	t.Helper()
	assert.Equal(t, want.ID, got.ID, "%s: ID", what)
	assertSame(t, want, got, what)
}

func ids(dls []deadletter.DeadLetter) []string {
	if len(dls) == 0 {
		return nil
	}
	out := make([]string, len(dls))
	for i, dl := range dls {
		out[i] = dl.ID
	}
	return out
}

// listPages pages through DeadLetters, checking the paging on the way: no page is larger
// than asked, no page after the first is empty, the cursor moves on.
func listPages(t *testing.T, s deadletter.Store, q deadletter.Query) [][]deadletter.DeadLetter {
	t.Helper()
	var pages [][]deadletter.DeadLetter
	for {
		page, err := s.DeadLetters(t.Context(), q)
		require.NoError(t, err, "DeadLetters(%+v)", q)
		limit := q.Limit
		if limit <= 0 {
			limit = 50
		}
		require.LessOrEqual(t, len(page.DeadLetters), limit, "DeadLetters(%+v) returned more than the limit", q)
		if q.Cursor != "" {
			require.NotEmpty(t, page.DeadLetters, "DeadLetters(%+v): a non-empty NextCursor led to an empty page", q)
		}
		pages = append(pages, page.DeadLetters)
		if page.NextCursor == "" {
			return pages
		}
		require.NotEqual(t, q.Cursor, page.NextCursor, "DeadLetters(%+v): NextCursor does not move on", q)
		require.Less(t, len(pages), 10000, "DeadLetters keeps returning a NextCursor")
		q.Cursor = page.NextCursor
	}
}

func listAll(t *testing.T, s deadletter.Store, q deadletter.Query) []deadletter.DeadLetter {
	t.Helper()
	var out []deadletter.DeadLetter
	for _, page := range listPages(t, s, q) {
		out = append(out, page...)
	}
	return out
}

// testPutNew: a new Key is stored as given, with an ID the store picks and state dead, and
// reads back the same through DeadLetter and DeadLetters.
func testPutNew(t *testing.T, s deadletter.Store) {
	in := sample("normalize.hooks/env-1", at(0))
	in.ID = "DL-picked-by-the-caller"
	want := sample("normalize.hooks/env-1", at(0))
	want.State = deadletter.StateDead

	got := put(t, s, in)
	assert.NotEqual(t, in.ID, got.ID, "the store picks the ID")
	assertSame(t, want, got, "PutDeadLetter's result")

	// What the caller does with its copy afterwards must not reach the store.
	in.Metadata["content-type"] = "text/plain"
	in.Payload[0] = 'X'
	got.Metadata["connector"] = "dingtalk"
	got.Payload[1] = 'Y'

	read := get(t, s, got.ID)
	want.ID = got.ID
	assertEqual(t, want, read, "DeadLetter")

	all := listAll(t, s, deadletter.Query{})
	if assert.Len(t, all, 1) {
		assertEqual(t, want, all[0], "DeadLetters")
	}

	// A record without metadata or payload.
	bare := deadletter.DeadLetter{Key: "intake/env-2", Connector: "email", Handler: "intake", Topic: "gongdan.drafts",
		Error: "boom", Attempts: 1, FirstFailedAt: at(1), LastFailedAt: at(1), MessageID: "m-2"}
	gotBare := put(t, s, bare)
	assert.NotEqual(t, got.ID, gotBare.ID)
	bare.ID, bare.State = gotBare.ID, deadletter.StateDead
	assertEqual(t, bare, gotBare, "PutDeadLetter's result without metadata or payload")
	assertEqual(t, bare, get(t, s, gotBare.ID), "DeadLetter without metadata or payload")
}

// testPutSameKey: a known Key updates its record, even after a replay, and keeps what the
// failures share.
func testPutSameKey(t *testing.T, s deadletter.Store) {
	const key = "normalize.hooks/env-1"
	first := put(t, s, sample(key, at(0)))
	replayedAt := at(5).Add(333 * time.Microsecond)
	replayed := markReplayed(t, s, first.ID, replayedAt)
	require.Equal(t, deadletter.StateReplayed, replayed.State)

	again := deadletter.DeadLetter{
		ID:            "DL-ignored",
		Key:           key,
		Connector:     "wecom",
		Handler:       "normalize.hooks",
		Topic:         "gongdan.raw.wecom",
		Error:         "normalize: template: no field \"title\"",
		Attempts:      2,
		FirstFailedAt: at(6), // later than the first failure: must not replace it
		LastFailedAt:  at(7).Add(4 * time.Microsecond),
		MessageID:     "msg-redelivered",
		Metadata:      map[string]string{"content-type": "text/plain", "retry": "1"}, // replaced, not merged
		Payload:       []byte("second payload"),
	}
	got := put(t, s, again)

	want := again
	want.ID = first.ID
	want.Attempts = 3 + 2
	want.FirstFailedAt = first.FirstFailedAt
	want.State = deadletter.StateDead
	want.Replays = 1
	want.ReplayedAt = &replayedAt
	assertEqual(t, want, got, "PutDeadLetter's result for a known key")
	assertEqual(t, want, get(t, s, first.ID), "DeadLetter after a second failure")
	assert.NotContains(t, got.Metadata, "connector", "metadata are replaced, not merged")

	// And once more, without a replay in between.
	third := again
	third.Attempts, third.Error, third.LastFailedAt, third.Payload, third.Metadata = 1, "third", at(9), nil, nil
	got = put(t, s, third)
	want.Attempts, want.Error, want.LastFailedAt, want.Payload, want.Metadata = 6, "third", at(9), nil, nil
	assertEqual(t, want, got, "PutDeadLetter's result for a third failure")
	assertEqual(t, want, get(t, s, first.ID), "DeadLetter after a third failure")

	all := listAll(t, s, deadletter.Query{})
	assert.Equal(t, []string{first.ID}, ids(all), "one key, one record")
}

func testPutDifferentKeys(t *testing.T, s deadletter.Store) {
	a := sample("normalize.hooks/env-1", at(0))
	b := sample("intake/env-1", at(1)) // same message, another handler
	b.Handler, b.Error, b.Attempts = "intake", "intake: store unavailable", 1
	gotA, gotB := put(t, s, a), put(t, s, b)
	assert.NotEqual(t, gotA.ID, gotB.ID, "different keys, different records")
	a.ID, a.State = gotA.ID, deadletter.StateDead
	b.ID, b.State = gotB.ID, deadletter.StateDead
	assertEqual(t, a, get(t, s, gotA.ID), "first key")
	assertEqual(t, b, get(t, s, gotB.ID), "second key")
	assert.ElementsMatch(t, []string{gotA.ID, gotB.ID}, ids(listAll(t, s, deadletter.Query{})))
}

func testNotFound(t *testing.T, s deadletter.Store) {
	stored := put(t, s, sample("k", at(0)))
	for _, id := range []string{"", "DL-999999", "DL-000000", "nonsense", stored.ID + "0", "0" + stored.ID, "k"} {
		if id == stored.ID {
			continue
		}
		_, err := s.DeadLetter(t.Context(), id)
		assert.True(t, errors.Is(err, deadletter.ErrNotFound), "DeadLetter(%q): want ErrNotFound, got %v", id, err)
		_, err = s.MarkReplayed(t.Context(), id, at(1))
		assert.True(t, errors.Is(err, deadletter.ErrNotFound), "MarkReplayed(%q): want ErrNotFound, got %v", id, err)
	}
	// The failed MarkReplayed calls touched nothing.
	all := listAll(t, s, deadletter.Query{})
	if assert.Len(t, all, 1) {
		assertEqual(t, stored, all[0], "the one record after lookups of unknown ids")
	}
}

func testMarkReplayed(t *testing.T, s deadletter.Store) {
	stored := put(t, s, sample("k", at(0)))
	other := put(t, s, sample("other", at(1)))

	first := at(10).Add(789 * time.Nanosecond)
	got := markReplayed(t, s, stored.ID, first)
	want := stored
	want.State, want.Replays, want.ReplayedAt = deadletter.StateReplayed, 1, &first
	assertEqual(t, want, got, "MarkReplayed's result")
	assertEqual(t, want, get(t, s, stored.ID), "DeadLetter after MarkReplayed")

	second := at(20)
	got = markReplayed(t, s, stored.ID, second)
	want.Replays, want.ReplayedAt = 2, &second
	assertEqual(t, want, got, "MarkReplayed's result, second replay")
	assertEqual(t, want, get(t, s, stored.ID), "DeadLetter after a second MarkReplayed")

	assertEqual(t, other, get(t, s, other.ID), "the other record is untouched")
}

func testListEmpty(t *testing.T, s deadletter.Store) {
	for _, q := range []deadletter.Query{{}, {Limit: 1}, {Connector: "wecom", State: deadletter.StateDead}} {
		page, err := s.DeadLetters(t.Context(), q)
		require.NoError(t, err, "DeadLetters(%+v) on an empty store", q)
		assert.Empty(t, page.DeadLetters, "DeadLetters(%+v) on an empty store", q)
		assert.Empty(t, page.NextCursor, "DeadLetters(%+v) on an empty store", q)
	}
}

// testListNewestFirst: the newest failure first, whatever order the records came in; a new
// failure of an old record moves it to the top.
func testListNewestFirst(t *testing.T, s deadletter.Store) {
	minutes := []int{3, 0, 5, 1, 4, 2}
	byMinute := map[int]string{}
	for _, m := range minutes {
		byMinute[m] = put(t, s, sample(fmt.Sprintf("k-%d", m), at(m))).ID
	}
	want := []string{byMinute[5], byMinute[4], byMinute[3], byMinute[2], byMinute[1], byMinute[0]}
	all := listAll(t, s, deadletter.Query{})
	assert.Equal(t, want, ids(all), "newest last failure first")
	for i := 1; i < len(all); i++ {
		assert.True(t, all[i-1].LastFailedAt.After(all[i].LastFailedAt), "DeadLetters[%d] and [%d] out of order", i-1, i)
	}

	put(t, s, sample("k-0", at(6)))
	want = append([]string{byMinute[0]}, want[:5]...)
	assert.Equal(t, want, ids(listAll(t, s, deadletter.Query{})), "a failure again moves its record to the top")
	assert.Equal(t, want, ids(listAll(t, s, deadletter.Query{Limit: 4})), "the same order across pages")
}

// testListTies: records that failed at the same instant come in one order, the same in
// every listing and across pages of any size, between the records around them.
func testListTies(t *testing.T, s deadletter.Store) {
	before := put(t, s, sample("before", at(0))).ID
	var tied []string
	for i := range 5 {
		tied = append(tied, put(t, s, sample(fmt.Sprintf("tie-%d", i), at(1))).ID)
	}
	after := put(t, s, sample("after", at(2))).ID

	all := ids(listAll(t, s, deadletter.Query{}))
	require.Len(t, all, 7)
	assert.Equal(t, after, all[0], "the newest failure first")
	assert.Equal(t, before, all[6], "the oldest failure last")
	assert.ElementsMatch(t, tied, all[1:6], "the ties between them")
	for _, limit := range []int{1, 2, 3, 7} {
		for range 2 {
			assert.Equal(t, all, ids(listAll(t, s, deadletter.Query{Limit: limit})),
				"limit %d: ties must come in the same order every time", limit)
		}
	}
	assert.Equal(t, all, ids(listAll(t, s, deadletter.Query{State: deadletter.StateDead, Connector: "wecom", Limit: 2})),
		"ties in the same order with filters")
}

func testListFilters(t *testing.T, s deadletter.Store) {
	type rec struct {
		key, connector string
		replay         bool
	}
	recs := []rec{
		{"w1", "wecom", false}, {"d1", "dingtalk", true}, {"w2", "wecom", true}, {"e1", "email", false},
		{"w3", "wecom", false}, {"d2", "dingtalk", false}, {"w4", "wecom", true},
	}
	idOf := map[string]string{}
	for i, r := range recs {
		dl := sample(r.key, at(i))
		dl.Connector = r.connector
		idOf[r.key] = put(t, s, dl).ID
		if r.replay {
			markReplayed(t, s, idOf[r.key], at(100+i))
		}
	}
	newestFirst := func(keys ...string) []string {
		out := make([]string, len(keys))
		for i, k := range keys {
			out[len(keys)-1-i] = idOf[k]
		}
		return out
	}
	for _, c := range []struct {
		q    deadletter.Query
		want []string
	}{
		{deadletter.Query{}, newestFirst("w1", "d1", "w2", "e1", "w3", "d2", "w4")},
		{deadletter.Query{Connector: "wecom"}, newestFirst("w1", "w2", "w3", "w4")},
		{deadletter.Query{Connector: "dingtalk"}, newestFirst("d1", "d2")},
		{deadletter.Query{Connector: "slack"}, nil},
		{deadletter.Query{State: deadletter.StateDead}, newestFirst("w1", "e1", "w3", "d2")},
		{deadletter.Query{State: deadletter.StateReplayed}, newestFirst("d1", "w2", "w4")},
		{deadletter.Query{Connector: "wecom", State: deadletter.StateDead}, newestFirst("w1", "w3")},
		{deadletter.Query{Connector: "wecom", State: deadletter.StateReplayed}, newestFirst("w2", "w4")},
		{deadletter.Query{Connector: "email", State: deadletter.StateReplayed}, nil},
		{deadletter.Query{Connector: "wecom", State: deadletter.StateDead, Limit: 1}, newestFirst("w1", "w3")},
		{deadletter.Query{State: deadletter.StateReplayed, Limit: 2}, newestFirst("d1", "w2", "w4")},
	} {
		got := listAll(t, s, c.q)
		assert.Equal(t, c.want, ids(got), "DeadLetters(%+v)", c.q)
		for _, dl := range got {
			if c.q.Connector != "" {
				assert.Equal(t, c.q.Connector, dl.Connector, "DeadLetters(%+v): %s", c.q, dl.ID)
			}
			if c.q.State != "" {
				assert.Equal(t, c.q.State, dl.State, "DeadLetters(%+v): %s", c.q, dl.ID)
			}
		}
	}

	// A replayed record that fails again is dead again.
	put(t, s, sample("w2", at(50)))
	assert.Equal(t, append([]string{idOf["w2"]}, newestFirst("w1", "w3")...),
		ids(listAll(t, s, deadletter.Query{Connector: "wecom", State: deadletter.StateDead})), "w2 failed again")
	assert.Equal(t, newestFirst("w4"),
		ids(listAll(t, s, deadletter.Query{Connector: "wecom", State: deadletter.StateReplayed})), "w2 failed again")
}

func testListLimit(t *testing.T, s deadletter.Store) {
	const n = 7
	var want []string
	for i := range n {
		want = append([]string{put(t, s, sample(fmt.Sprintf("k-%d", i), at(i))).ID}, want...)
	}
	for _, limit := range []int{1, 2, 3, n - 1, n, n + 1, 100} {
		pages := listPages(t, s, deadletter.Query{Limit: limit})
		var got []string
		for i, page := range pages {
			if i < len(pages)-1 {
				assert.Len(t, page, limit, "limit %d: every page but the last is full", limit)
			}
			got = append(got, ids(page)...)
		}
		assert.Equal(t, want, got, "limit %d: paging must visit every record once, newest first", limit)
		assert.Len(t, pages, (n+limit-1)/limit, "limit %d: the page that ends the list has no NextCursor", limit)
	}
}

func testListDefaultLimit(t *testing.T, s deadletter.Store) {
	const n = 51
	for i := range n {
		put(t, s, sample(fmt.Sprintf("k-%02d", i), at(i)))
	}
	page, err := s.DeadLetters(t.Context(), deadletter.Query{})
	require.NoError(t, err)
	assert.Len(t, page.DeadLetters, 50, "Limit 0 means 50")
	require.NotEmpty(t, page.NextCursor, "51 records, 50 on the first page")
	rest, err := s.DeadLetters(t.Context(), deadletter.Query{Cursor: page.NextCursor})
	require.NoError(t, err)
	if assert.Len(t, rest.DeadLetters, 1) {
		assert.Equal(t, "k-00", rest.DeadLetters[0].Key, "the oldest on the last page")
	}
	assert.Empty(t, rest.NextCursor)
}

// testListPagingWhileAdding: records added between two pages, newer, older or failed at the
// same instant as those listed, neither repeat nor push a record out of the pages to come.
// They may or may not appear themselves.
func testListPagingWhileAdding(t *testing.T, s deadletter.Store) {
	// Minutes, newest first: 8 7 6 (4 4 4 4) 2 1 0 — pages of 2 end inside the ties.
	minutes := []int{0, 1, 2, 4, 4, 4, 4, 6, 7, 8}
	for i, m := range minutes {
		dl := sample(fmt.Sprintf("orig-%d", i), at(m))
		if i%2 == 1 {
			dl.Connector = "dingtalk"
		}
		put(t, s, dl)
	}
	added := 0 // across queries: every key added is new
	for _, q := range []deadletter.Query{{Limit: 2}, {Limit: 3, State: deadletter.StateDead}, {Limit: 1, Connector: "wecom"}} {
		want := ids(listAll(t, s, deadletter.Query{Connector: q.Connector, State: q.State}))
		require.NotEmpty(t, want)
		isWanted := map[string]bool{}
		for _, id := range want {
			isWanted[id] = true
		}

		var seen []string
		for pages := 0; ; pages++ {
			page, err := s.DeadLetters(t.Context(), q)
			require.NoError(t, err, "DeadLetters(%+v)", q)
			require.LessOrEqual(t, len(page.DeadLetters), q.Limit)
			seen = append(seen, ids(page.DeadLetters)...)
			if page.NextCursor == "" {
				break
			}
			require.Less(t, pages, 100, "DeadLetters(%+v) keeps returning a NextCursor", q)
			// Between the first pages (so that the paging ends): one newer than all, one older
			// than all, one at the instant of the last record listed, one among the ties.
			if pages < 4 {
				last := page.DeadLetters[len(page.DeadLetters)-1]
				for _, when := range []time.Time{at(1000 + added), at(-1000 - added), last.LastFailedAt, at(4)} {
					put(t, s, sample(fmt.Sprintf("added-%d", added), when))
					added++
				}
			}
			q.Cursor = page.NextCursor
		}

		counts := map[string]int{}
		var seenWanted []string
		for _, id := range seen {
			counts[id]++
			if counts[id] == 2 {
				t.Errorf("DeadLetters(%+v): %s listed twice while paging", q, id)
			}
			if isWanted[id] {
				seenWanted = append(seenWanted, id)
			}
		}
		assert.Equal(t, want, seenWanted, "DeadLetters(%+v): every record there was at the first page, once, in order", q)
	}
}

func testListBadCursor(t *testing.T, s deadletter.Store) {
	put(t, s, sample("a", at(0)))
	put(t, s, sample("b", at(1)))
	for _, cursor := range []string{
		"not a cursor!",
		"%%%",
		base64.RawURLEncoding.EncodeToString([]byte("foobar")),
		base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0xfe}),
	} {
		_, err := s.DeadLetters(t.Context(), deadletter.Query{Cursor: cursor})
		assert.ErrorIs(t, err, deadletter.ErrBadCursor, "DeadLetters with cursor %q must fail with ErrBadCursor", cursor)
	}
}

// testConcurrentPutSameKey: concurrent failures of one message make one record and lose no
// attempt; each Put sees the ones before it.
func testConcurrentPutSameKey(t *testing.T, s deadletter.Store) {
	const perGoroutine = 10
	var mu sync.Mutex
	var results []deadletter.DeadLetter
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				dl := sample("shared", at(g*perGoroutine+i))
				dl.FirstFailedAt = at(-1)
				dl.Attempts = g + 1
				dl.MessageID = fmt.Sprintf("msg-%d-%d", g, i)
				got, err := s.PutDeadLetter(t.Context(), dl)
				if !assert.NoError(t, err, "PutDeadLetter") {
					return
				}
				mu.Lock()
				results = append(results, got)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, results, goroutines*perGoroutine)

	sum := perGoroutine * goroutines * (goroutines + 1) / 2
	attempts := make([]int, len(results))
	for i, r := range results {
		assert.Equal(t, results[0].ID, r.ID, "one key, one ID")
		attempts[i] = r.Attempts
	}
	slices.Sort(attempts)
	assert.Equal(t, len(attempts), len(slices.Compact(slices.Clone(attempts))),
		"every Put returns the attempts after it, so no two return the same count: %v", attempts)
	assert.Equal(t, sum, attempts[len(attempts)-1], "the last Put returns every attempt")

	all := listAll(t, s, deadletter.Query{})
	if assert.Len(t, all, 1, "one key, one record") {
		assert.Equal(t, results[0].ID, all[0].ID)
		assert.Equal(t, sum, all[0].Attempts, "attempts are the sum of every Put's")
		sameInstant(t, at(-1), all[0].FirstFailedAt, "FirstFailedAt")
		assert.Equal(t, deadletter.StateDead, all[0].State)
	}
}

// testConcurrentPutDifferentKeys: concurrent failures of different messages each get their
// own record and ID.
func testConcurrentPutDifferentKeys(t *testing.T, s deadletter.Store) {
	const perGoroutine = 10
	var mu sync.Mutex
	byKey := map[string]deadletter.DeadLetter{}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				dl := sample(fmt.Sprintf("k-%d-%d", g, i), at(i))
				got, err := s.PutDeadLetter(t.Context(), dl)
				if !assert.NoError(t, err, "PutDeadLetter") {
					return
				}
				mu.Lock()
				byKey[dl.Key] = got
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, byKey, goroutines*perGoroutine)
	idSet := map[string]bool{}
	for _, dl := range byKey {
		idSet[dl.ID] = true
	}
	assert.Len(t, idSet, len(byKey), "every key its own ID")

	all := listAll(t, s, deadletter.Query{Limit: 7})
	assert.Len(t, all, len(byKey))
	for _, dl := range all {
		if want, ok := byKey[dl.Key]; assert.True(t, ok, "listed %s with unknown key %q", dl.ID, dl.Key) {
			assertEqual(t, want, dl, "listed "+dl.Key)
		}
	}
	assert.ElementsMatch(t, slices.Collect(maps.Keys(idSet)), ids(all))
}
