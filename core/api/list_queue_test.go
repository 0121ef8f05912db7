package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listPage reads GET /api/v1/tickets?q as the supervisor.
func listPage(t *testing.T, c *client, q string) (ids []string, next string, due map[string]time.Time) {
	t.Helper()
	r := c.do("GET", "/api/v1/tickets?"+q, "tok-sup", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var page struct {
		Tickets []struct{ ID string }
		Next    string               `json:"next_cursor"`
		Due     map[string]time.Time `json:"sla_due"`
	}
	require.NoError(t, json.Unmarshal(r.body, &page))
	for _, tk := range page.Tickets {
		ids = append(ids, tk.ID)
	}
	return ids, page.Next, page.Due
}

// TestListQueueFilters: the console queue's filters of GET /api/v1/tickets — SLA status,
// connector, tags — and the nearest-due order with its cursor.
func TestListQueueFilters(t *testing.T) {
	c := newSLAServer(t)
	withTags := func(title, urgency string, tags ...string) string {
		b, _ := json.Marshal(tags)
		body := strings.Replace(strings.Replace(draftJSON, `"urgency":"orange"`, `"urgency":"`+urgency+`","tags":`+string(b), 1),
			`"title":"3号线急停按钮失灵"`, `"title":"`+title+`"`, 1)
		r := c.do("POST", "/api/v1/tickets", "tok-agent", body)
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		return r.json(t)["id"].(string)
	}
	a := withTags("A", "orange", "急停", "催单") // responds by t0+30m
	c.clock.Advance(10 * time.Minute)
	b := withTags("B", "orange", "急停") // by t0+40m
	none := withTags("C", "blue")      // no policy: no clock
	c.clock.Advance(25 * time.Minute)  // t0+35m: A breached, B at risk

	list := func(q string) []string {
		ids, _, _ := listPage(t, c.client, q)
		return ids
	}
	assert.Equal(t, []string{a}, list("sla=breached"))
	assert.Equal(t, []string{b}, list("sla=at_risk"))
	assert.Empty(t, list("sla=on_time"))
	assert.Equal(t, []string{none}, list("sla=none"))
	assert.Equal(t, []string{b, a}, list("tag=%E6%80%A5%E5%81%9C"))                     // 急停
	assert.Equal(t, []string{a}, list("tag=%E6%80%A5%E5%81%9C&tag=%E5%82%AC%E5%8D%95")) // 急停 and 催单
	assert.Equal(t, []string{none, b, a}, list("connector=api"), "tickets sent to the API")
	assert.Empty(t, list("connector=wechat,hotline"))
	assert.Equal(t, []string{a, b}, list("sort=due"), "nearest due first; only tickets with a clock")
	assert.Equal(t, []string{none, b, a}, list("sort=newest"))

	// Paging nearest due first.
	first, next, due := listPage(t, c.client, "sort=due&limit=1")
	assert.Equal(t, []string{a}, first)
	require.NotEmpty(t, next)
	assert.True(t, c.t0.Add(30*time.Minute).Equal(due[a]), "the page says when A falls due: %v", due)
	second, next2, _ := listPage(t, c.client, "sort=due&limit=1&cursor="+url.QueryEscape(next))
	assert.Equal(t, []string{b}, second)
	assert.Empty(t, next2)

	// Mistakes are named.
	for q, field := range map[string]string{
		"sla=late": "sla", "sort=oldest": "sort", "sort=due&cursor=" + url.QueryEscape(mustNext(t, c.client, "limit=1")): "cursor",
		"cursor=" + url.QueryEscape(next):                       "cursor",
		"tag=1&tag=2&tag=3&tag=4&tag=5&tag=6&tag=7&tag=8&tag=9": "tag",
	} {
		p := requireProblem(t, c.do("GET", "/api/v1/tickets?"+q, "tok-sup", ""), 400, "bad-request")
		assert.Equal(t, field, p["field"], q)
	}
}

func mustNext(t *testing.T, c *client, q string) string {
	t.Helper()
	_, next, _ := listPage(t, c, q)
	require.NotEmpty(t, next)
	return next
}
