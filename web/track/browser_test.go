package track_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

const chromium = "/usr/bin/chromium" // Debian's, installed by make deps

// artifacts is where screenshots are kept for a person to look at: $GONGDAN_ARTIFACTS/<test>
// when set (CI sets it), else the test's temporary directory.
func artifacts(t *testing.T) string {
	if base := os.Getenv("GONGDAN_ARTIFACTS"); base != "" {
		dir := filepath.Join(base, t.Name())
		require.NoError(t, os.MkdirAll(dir, 0o755))
		return dir
	}
	return t.TempDir()
}

// TestACustomerConfirmsOnTheirPhone: in Debian's Chromium at a phone's 375×812, the customer
// opens the link from the resolve message, answers the three questions by tapping, and the
// ticket is customer_confirmed; the supervisor closes it. The same page at a desktop's width.
func TestACustomerConfirmsOnTheirPhone(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s is not installed (make deps installs it)", chromium)
	}
	s := newSite(t)
	tk, token := s.create(t, "二号电梯困人后停运")
	s.resolve(t, tk.ID, "门锁回路接触不良")
	dir := artifacts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("lang", "zh-CN"), chromedp.Flag("accept-lang", "zh-CN,zh"))...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()

	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(90))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}
	require.NoError(t, chromedp.Do(browser,
		chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2), chromedp.EmulateMobile),
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
		chromedp.EmulateViewport(1366, 900),
		chromedp.Navigate(s.srv.URL+"/t/"+token),
		chromedp.WaitVisible(chromedp.ID("feedback")),
	))
	step, err := chromedp.Run(browser, chromedp.Text(chromedp.ID("current-step")))
	require.NoError(t, err)
	shot("desktop-closed.png")
	assert.Equal(t, "已关闭", step)
}
