package track_test

import (
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
	"gongdan/internal/testkit/browserkit"
)

// TestACustomerConfirmsOnTheirPhone: in Debian's Chromium at a phone's 375×812, the customer
// opens the link from the resolve message, answers the three questions by tapping, and the
// ticket is customer_confirmed; the supervisor closes it. The same page at a desktop's width.
func TestACustomerConfirmsOnTheirPhone(t *testing.T) {
	browser := browserkit.Browser(t, 90*time.Second)
	s := newSite(t)
	tk, token := s.create(t, "二号电梯困人后停运")
	s.resolve(t, tk.ID, "门锁回路接触不良")
	shot := func(name string) { t.Helper(); browserkit.Shot(t, browser, name) }
	require.NoError(t, chromedp.Do(browser,
		browserkit.Phone(),
		chromedp.Navigate(s.srv.URL+"/t/"+token),
		chromedp.WaitVisible(chromedp.ID("confirm")),
	))
	before, err := chromedp.Run(browser, chromedp.Text(chromedp.ID("current-step")))
	require.NoError(t, err)
	shot("phone-confirm.png")
	require.NoError(t, chromedp.Do(browser,
		chromedp.Click(chromedp.ID("solved-yes")),
		chromedp.Click(chromedp.CSS(`label:has(#timeliness-5) span`)),
		chromedp.Click(chromedp.CSS(`label:has(#professionalism-4) span`)),
		chromedp.SendKeys(chromedp.ID("comment"), "师傅来得很快"),
	))
	_, err = chromedp.Run(browser, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("confirm-submit"))))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(browser, chromedp.WaitVisible(chromedp.ID("flash"))))
	after, err := chromedp.Run(browser, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	shot("phone-confirmed.png")
	assert.Equal(t, "待确认", before)
	assert.Contains(t, after, "感谢您的评价")
	got := s.ticket(t, tk.ID)
	require.Equal(t, ticket.StateCustomerConfirmed, got.State)
	assert.Equal(t, 5, got.Feedback.Timeliness)
	assert.Equal(t, 4, got.Feedback.Professionalism)
	assert.Equal(t, "师傅来得很快", got.Feedback.Comment)

	s.do(t, tk.ID, ticket.ActionClose, sup, "", "")
	require.NoError(t, chromedp.Do(browser,
		browserkit.Desktop(),
		chromedp.Navigate(s.srv.URL+"/t/"+token),
		chromedp.WaitVisible(chromedp.ID("feedback")),
	))
	step, err := chromedp.Run(browser, chromedp.Text(chromedp.ID("current-step")))
	require.NoError(t, err)
	shot("desktop-closed.png")
	assert.Equal(t, "已关闭", step)
}
