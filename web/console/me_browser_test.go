package console_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
	"gongdan/internal/testkit/browserkit"
)

// TestAnOfflineTapIsSentOnceWhenBackOnline (issue 22: offline-tolerant forms): in Chromium at
// a phone's size, the engineer taps 接单 while the network is gone; the form is kept (the page
// says one is waiting), nothing is done; back online, the page sends it, with its command id,
// and the ticket is accepted once.
func TestAnOfflineTapIsSentOnceWhenBackOnline(t *testing.T) {
	browser := browserkit.Browser(t, 90*time.Second)
	s := newSite(t)
	tk := s.create(t, estop("地下室没有信号"))
	require.Equal(t, "eng-li", tk.Assignee)
	var offline atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if offline.Load() && r.Method == http.MethodPost {
			// The connection drops: what a phone out of signal sees.
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.(net.Conn).Close()
			}
			return
		}
		s.api.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { s.console.Close(); srv.CloseClientConnections(); srv.Close() })

	require.NoError(t, chromedp.Do(browser, browserkit.Phone(), chromedp.Navigate(srv.URL+"/console/signin"),
		chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), people[ticket.RoleEngineer].Token),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(`article[data-ticket="`+tk.ID+`"] form[action$="/actions/accept"] button`))))

	offline.Store(true)
	require.NoError(t, chromedp.Do(browser,
		chromedp.Click(chromedp.CSS(`article[data-ticket="`+tk.ID+`"] form[action$="/actions/accept"] button`)),
		chromedp.WaitVisible(chromedp.ID("outbox"))))
	waiting, err := chromedp.Run(browser, chromedp.Text(chromedp.ID("outbox")))
	require.NoError(t, err)
	assert.Contains(t, waiting, "1")
	browserkit.Shot(t, browser, "me-offline-phone.png")
	assert.Equal(t, ticket.StateAssigned, s.ticket(t, tk.ID).State, "nothing done while offline")

	offline.Store(false)
	require.NoError(t, chromedp.Do(browser, chromedp.Reload())) // the page sends what waits when it loads
	require.Eventually(t, func() bool { return s.ticket(t, tk.ID).State == ticket.StateAccepted }, 30*time.Second, 50*time.Millisecond)
	require.NoError(t, chromedp.Do(browser, chromedp.Reload(), chromedp.WaitNotVisible(chromedp.ID("outbox"))))
	accepts := 0
	for _, e := range s.events(t, tk.ID) {
		if e.Action == ticket.ActionAccept {
			accepts++
		}
	}
	assert.Equal(t, 1, accepts, "done once")
}
