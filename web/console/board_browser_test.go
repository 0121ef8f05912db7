package console_test

import (
	"context"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
	"gongdan/internal/testkit/browserkit"
)

// TestTheBoardAndDispatchInABrowser: in Debian's Chromium, a dispatcher signs in, reads the
// SLA board (its countdowns ticking) at a desktop's and a phone's width, and assigns a
// ticket by hand from its ranked candidates; neither page is wider than the phone.
func TestTheBoardAndDispatchInABrowser(t *testing.T) {
	browser := browserkit.Browser(t, 120*time.Second)
	s := newSite(t, withSLA(t))
	tk := s.create(t, estop("3号线急停按钮失灵"))
	s.clock.Advance(40 * time.Minute)
	s.create(t, estop("2号线急停"))
	s.create(t, waiting("打印机卡纸"))
	s.tiersFired(t, map[string]string{tk.ID: "yellow"})
	shot := func(name string) { t.Helper(); browserkit.Shot(t, browser, name) }
	load := func(a chromedp.Action[chromedp.Void]) {
		t.Helper()
		_, err := chromedp.Run(browser, chromedp.WaitEvent(cdppage.LoadEventFired, nil, a))
		require.NoError(t, err)
	}
	fits := func(what string) {
		t.Helper()
		wide, err := chromedp.Run(browser, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
		require.NoError(t, err)
		assert.True(t, wide, "%s fits the phone's width", what)
	}

	require.NoError(t, chromedp.Do(browser, browserkit.Desktop(), chromedp.Navigate(s.srv.URL+"/console/signin"),
		chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), people[ticket.RoleDispatcher].Token)))
	load(chromedp.Click(chromedp.CSS(`form button[type=submit]`)))

	require.NoError(t, chromedp.Do(browser, chromedp.Navigate(s.srv.URL+"/console/sla"), chromedp.WaitVisible(chromedp.ID("sla-board"))))
	// console.js counts down from the due time (in the browser's time, far past the site's
	// clock here: a long negative count).
	ctx, cancel := context.WithTimeout(browser, 10*time.Second)
	defer cancel()
	ticking, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('[data-ticket="`+tk.ID+`"] time').textContent.startsWith("-")`))
	require.NoError(t, err)
	assert.True(t, ticking)
	shot("desktop-sla.png")
	require.NoError(t, chromedp.Do(browser, browserkit.Phone(), chromedp.Navigate(s.srv.URL+"/console/sla"), chromedp.WaitVisible(chromedp.ID("sla-board"))))
	fits("the SLA board")
	shot("phone-sla.png")

	require.NoError(t, chromedp.Do(browser, browserkit.Desktop(), chromedp.Navigate(s.srv.URL+"/console/dispatch?ticket="+tk.ID),
		chromedp.WaitVisible(chromedp.ID("dp-candidates"))))
	shot("desktop-dispatch.png")
	load(chromedp.Click(chromedp.CSS(`tr[data-candidate="eng-zhao"] button`)))
	flash, err := chromedp.Run(browser, chromedp.Text(chromedp.CSS(`.flash`)))
	require.NoError(t, err)
	assert.Contains(t, flash, tk.ID+" → eng-zhao")
	got, err := s.Store.Ticket(t.Context(), tk.ID)
	require.NoError(t, err)
	assert.Equal(t, "eng-zhao", got.Assignee)
	require.NoError(t, chromedp.Do(browser, browserkit.Phone(), chromedp.Navigate(s.srv.URL+"/console/dispatch?ticket="+tk.ID),
		chromedp.WaitVisible(chromedp.ID("dp-candidates"))))
	fits("dispatch")
	shot("phone-dispatch.png")
}
