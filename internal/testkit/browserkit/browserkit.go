// Package browserkit drives Debian's Chromium (installed by make deps) through chromedp, for
// tests of gongdan's pages: a browser per test, tabs at a phone's and a desktop's size, and
// screenshots kept where a person can look at them.
//
// Only tests import it: no package of the binary may (internal/archtest checks).
package browserkit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is Debian's Chromium, installed by make deps.
const Chromium = "/usr/bin/chromium"

// Viewports of the pages' tests (issue 22): a phone and a desktop.
const (
	PhoneW, PhoneH     = 375, 812
	DesktopW, DesktopH = 1440, 900
)

// Browser starts Chromium for the test (skipped under -short or when it is not installed)
// and returns its first tab's context; the browser is closed when the test ends. timeout
// bounds the whole test's use of it.
func Browser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a browser")
	}
	if _, err := os.Stat(Chromium); err != nil {
		t.Skipf("%s is not installed (make deps installs it)", Chromium)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("lang", "zh-CN"), chromedp.Flag("accept-lang", "zh-CN,zh"),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-sync", true))...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancel() })
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("browserkit: start %s: %v", Chromium, err)
	}
	return browser
}

// Tab opens another tab of the browser: its own page, sharing the browser's cookies.
func Tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	return tab
}

// Incognito opens a tab in a browser context of its own (its own cookies): another person on
// another device.
func Incognito(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return tab
}

// Phone and Desktop size a tab.
func Phone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(PhoneW, PhoneH, chromedp.EmulateScale(2), chromedp.EmulateMobile)
}

func Desktop() chromedp.Action[chromedp.Void] { return chromedp.EmulateViewport(DesktopW, DesktopH) }

// Artifacts is where a test keeps its screenshots for a person to look at:
// $GONGDAN_ARTIFACTS/<test> when set (CI sets it), else the test's temporary directory.
func Artifacts(t *testing.T) string {
	t.Helper()
	if base := os.Getenv("GONGDAN_ARTIFACTS"); base != "" {
		dir := filepath.Join(base, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// Shot keeps a screenshot of the whole page of tab as name (a .png) in the test's artifacts,
// and also in $GONGDAN_SCREENSHOTS when set (make screenshots: docs/screenshots).
func Shot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("browserkit: screenshot %s: %v", name, err)
	}
	dirs := []string{Artifacts(t)}
	if docs := os.Getenv("GONGDAN_SCREENSHOTS"); docs != "" {
		dirs = append(dirs, docs)
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
