package intakeauth_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors/intakeauth"
)

func budget(t *testing.T, item string) *intakeauth.Budget {
	t.Helper()
	c, errs := conf(t, item)
	require.Empty(t, errs)
	return intakeauth.NewBudget(c, budgetDefaults)
}

// A source over its requests a minute is answered 429 with when to come back; another source
// is not held up by it; a minute later it is taken again.
func TestBudgetRequestsPerMinute(t *testing.T) {
	b := budget(t, "") // the defaults: 3 a minute
	for i := range 3 {
		release, p := b.Admit(httptest.NewRecorder(), "token phones", 100, now)
		require.Nil(t, p, "request %d", i)
		release()
	}
	w := httptest.NewRecorder()
	_, p := b.Admit(w, "token phones", 100, now)
	require.NotNil(t, p)
	assert.Equal(t, http.StatusTooManyRequests, p.Status)
	assert.Equal(t, "/problems/too-many-requests", p.Type)
	assert.Equal(t, "20", w.Header().Get("Retry-After"), "one request comes back every 20 s")
	assert.Contains(t, p.Detail, "token phones is over its budget")

	release, p := b.Admit(httptest.NewRecorder(), "address 10.0.0.9", 100, now)
	require.Nil(t, p, "another source has a budget of its own")
	release()
	release, p = b.Admit(httptest.NewRecorder(), "token phones", 100, now.Add(20*time.Second))
	require.Nil(t, p, "refilled")
	release()
	assert.Equal(t, int64(1), b.Refused()["over_rate"])
}

func TestBudgetBytesPerMinute(t *testing.T) {
	b := budget(t, "budget: {requests_per_minute: 100, bytes_per_minute: 2097152}\n")
	release, p := b.Admit(httptest.NewRecorder(), "s", 1<<20+1<<19, now)
	require.Nil(t, p)
	release()
	w := httptest.NewRecorder()
	_, p = b.Admit(w, "s", 1<<20, now)
	require.NotNil(t, p, "1.5 MiB of 2 MiB spent: 1 MiB more is over")
	assert.Equal(t, http.StatusTooManyRequests, p.Status)
	assert.Equal(t, "15", w.Header().Get("Retry-After"))
	// The refused request spent nothing: half a MiB is still there.
	release, p = b.Admit(httptest.NewRecorder(), "s", 1<<19, now)
	require.Nil(t, p)
	release()

	_, p = b.Admit(httptest.NewRecorder(), "t", 2<<20+1, now)
	require.NotNil(t, p)
	assert.Equal(t, http.StatusRequestEntityTooLarge, p.Status, "larger than a whole minute's bytes: never taken")
	assert.Contains(t, p.Detail, "budget.bytes_per_minute 2097152")
}

// Uploads at once are bounded for the connector as a whole: the next is answered 503 until
// one is done.
func TestBudgetConcurrent(t *testing.T) {
	b := budget(t, "budget: {concurrent: 1}\n")
	release, p := b.Admit(httptest.NewRecorder(), "a", 1, now)
	require.Nil(t, p)
	w := httptest.NewRecorder()
	_, p = b.Admit(w, "b", 1, now)
	require.NotNil(t, p)
	assert.Equal(t, http.StatusServiceUnavailable, p.Status)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	release()
	release, p = b.Admit(httptest.NewRecorder(), "b", 1, now)
	require.Nil(t, p)
	release()
}

// A request of unknown size (chunked) is charged as it is read, and cut off when the source's
// bytes run out.
func TestBudgetMeter(t *testing.T) {
	b := budget(t, "budget: {bytes_per_minute: 1048576}\n")
	release, p := b.Admit(httptest.NewRecorder(), "s", -1, now)
	require.Nil(t, p)
	defer release()
	w := httptest.NewRecorder()
	n, err := io.Copy(io.Discard, b.Meter(w, "s", bytes.NewReader(make([]byte, 1<<20+1)), fixed))
	var be *intakeauth.BudgetError
	require.True(t, errors.As(err, &be), "read %d bytes, err %v", n, err)
	assert.Equal(t, http.StatusTooManyRequests, be.Problem.Status)
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.LessOrEqual(t, n, int64(1<<20+1))
	p, ok := intakeauth.IsBudgetError(err)
	assert.True(t, ok)
	assert.Equal(t, be.Problem, p)

	// Within the budget, the reader is read to its end.
	b = budget(t, "")
	got, err := io.ReadAll(b.Meter(httptest.NewRecorder(), "s", strings.NewReader("abc"), fixed))
	require.NoError(t, err)
	assert.Equal(t, "abc", string(got))
}

// An IPv6 sender holds a whole /64: were each of its addresses a source, it would have 2^64
// budgets. Every address of a /64 is one source; an IPv4 address (mapped or not) is its own.
func TestAnIPv6SourceIsItsSlash64(t *testing.T) {
	for _, c := range []struct{ remote, token, want string }{
		{remote: "[2001:db8:1:2:aaaa::1]:5000", want: "address 2001:db8:1:2::/64"},
		{remote: "[2001:db8:1:2:ffff:ffff:ffff:ffff]:6000", want: "address 2001:db8:1:2::/64"},
		{remote: "[2001:db8:1:3::1]:5000", want: "address 2001:db8:1:3::/64"},
		{remote: "[fe80::1%eth0]:80", want: "address fe80::/64"},
		{remote: "[::ffff:10.0.0.9]:80", want: "address 10.0.0.9"},
		{remote: "10.0.0.9:80", want: "address 10.0.0.9"},
		{remote: "10.0.0.9", want: "address 10.0.0.9"},
		{remote: "pipe", want: "address pipe"},
		{remote: "[2001:db8:1:2::1]:5000", token: "phones", want: "token phones"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/ingest/p", nil)
		r.RemoteAddr = c.remote
		assert.Equal(t, c.want, intakeauth.Source(r, intakeauth.Caller{Token: c.token}), c.remote)
	}

	// Spending from one address of a /64 spends for all of them.
	b := budget(t, "") // 3 requests a minute
	source := func(remote string) string {
		r := httptest.NewRequest(http.MethodPost, "/ingest/p", nil)
		r.RemoteAddr = remote
		return intakeauth.Source(r, intakeauth.Caller{})
	}
	for i := range 3 {
		release, p := b.Admit(httptest.NewRecorder(), source(fmt.Sprintf("[2001:db8:1:2::%x]:5000", i+1)), 1, now)
		require.Nil(t, p, "request %d", i)
		release()
	}
	_, p := b.Admit(httptest.NewRecorder(), source("[2001:db8:1:2::99]:5000"), 1, now)
	require.NotNil(t, p, "a fourth address of the same /64 is the same sender")
	assert.Equal(t, http.StatusTooManyRequests, p.Status)
	release, p := b.Admit(httptest.NewRecorder(), source("[2001:db8:1:3::1]:5000"), 1, now)
	require.Nil(t, p, "another /64 is another sender")
	release()
}

// When the table of sources is full, the one seen least recently is forgotten: never one in
// use, whose sender would get full buckets by being forgotten. An attacker over its budget
// that keeps trying while a thousand other sources come and go stays over it (forgetting any
// entry, as before, forgot it within a few dozen of them).
func TestBudgetForgetsTheLeastRecentlySeenSource(t *testing.T) {
	b := budget(t, "") // 3 requests a minute
	b.SetMaxSources(10)
	spend := func(source string) {
		for range 3 {
			release, p := b.Admit(httptest.NewRecorder(), source, 1, now)
			require.Nil(t, p, source)
			release()
		}
	}
	spend("attacker")
	for i := range 1000 {
		spend(fmt.Sprintf("address 10.0.%d.%d", i/256, i%256))
		w := httptest.NewRecorder()
		_, p := b.Admit(w, "attacker", 1, now)
		require.NotNil(t, p, "after %d other sources, the attacker's spent bucket is still there", i+1)
		assert.Equal(t, http.StatusTooManyRequests, p.Status)
		require.LessOrEqual(t, b.Tracked(), 10, "the table stays bounded")
	}

	// Which one goes: the least recently seen. Order now, most recent first: attacker, the
	// 1000th, …, the 992nd. Seeing the 992nd makes the 993rd the least recent.
	_, p := b.Admit(httptest.NewRecorder(), "address 10.0.3.223", 1, now) // the 992nd, spent
	require.NotNil(t, p, "the 992nd is still kept, and spent")
	spend("a newcomer") // forgets the 993rd
	release, p := b.Admit(httptest.NewRecorder(), "address 10.0.3.224", 1, now)
	require.Nil(t, p, "the 993rd was forgotten: its buckets are full again")
	release()
	_, p = b.Admit(httptest.NewRecorder(), "address 10.0.3.223", 1, now)
	assert.NotNil(t, p, "the 992nd was not")
}

// One source holds at most concurrent_per_source places (2 by default): its next request is
// answered 429 with Retry-After, takes none of the others' places, and another source is taken.
func TestBudgetConcurrentPerSource(t *testing.T) {
	b := budget(t, "budget: {requests_per_minute: 100, concurrent: 4}\n")
	var releases []func()
	for range 2 {
		release, p := b.Admit(httptest.NewRecorder(), "address 203.0.113.9", -1, now)
		require.Nil(t, p)
		releases = append(releases, release)
	}
	for range 3 { // refused, and none of them holds a place
		w := httptest.NewRecorder()
		_, p := b.Admit(w, "address 203.0.113.9", -1, now)
		require.NotNil(t, p)
		assert.Equal(t, http.StatusTooManyRequests, p.Status)
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
		assert.Contains(t, p.Detail, "budget.concurrent_per_source")
	}
	for _, other := range []string{"address 198.51.100.4", "token phones"} {
		release, p := b.Admit(httptest.NewRecorder(), other, -1, now)
		require.Nil(t, p, "%s gets one of the two places left", other)
		releases = append(releases, release)
	}
	releases[0]()
	release, p := b.Admit(httptest.NewRecorder(), "address 203.0.113.9", -1, now)
	require.Nil(t, p, "a place of its own is free again")
	release()
	for _, r := range releases[1:] {
		r()
	}
	assert.Equal(t, int64(3), b.Refused()["busy_source"])
	assert.Zero(t, b.Refused()["busy"])
}
