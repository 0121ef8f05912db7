package wxshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // to check the captures' sizes
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is the browser the pictures are drawn with: Debian's chromium package.
const ChromiumPath = "/usr/bin/chromium"

// ErrNoChromium is returned by Render when ChromiumPath is not installed.
var ErrNoChromium = errors.New("wxshot: " + ChromiumPath + " not found; install Debian's chromium (make deps)")

// tabs is how many pages render at once in the one browser: one per core of the 2-core
// machines the tests run on, so that the browser's rendering and Go's encoding overlap.
const tabs = 2

// Render draws specs as screenshots into dir, with their truth beside them (<name>.json), and
// returns them in the order of specs. One browser draws them all. When dir already holds
// these specs drawn by this version of the package (its index.json says so), they are
// returned as they are, without a browser.
func Render(ctx context.Context, specs []Spec, dir string) ([]Shot, error) {
	key, err := cacheKey(specs)
	if err != nil {
		return nil, err
	}
	if shots, ok := readIndex(dir, key); ok {
		return shots, nil
	}
	if _, err := os.Stat(ChromiumPath); err != nil {
		return nil, ErrNoChromium
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wxshot: %w", err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("allow-file-access-from-files", true),
	)...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		return nil, fmt.Errorf("wxshot: starting %s: %w", ChromiumPath, err)
	}

	shots := make([]Shot, len(specs))
	errs := make([]error, len(specs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(tabs, len(specs)) {
		tab, cancelTab := chromedp.NewContext(browser)
		frame, err := blank(tab)
		if err != nil {
			cancelTab()
			return nil, fmt.Errorf("wxshot: opening a tab: %w", err)
		}
		wg.Go(func() {
			defer cancelTab()
			for i := range next {
				shots[i], errs[i] = renderOne(tab, frame, specs[i], dir)
			}
		})
	}
	for i := range specs {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := writeIndex(dir, key, shots); err != nil {
		return nil, err
	}
	return shots, nil
}

// layout is what the page measures of itself, in CSS pixels from the viewport's top left.
type layout struct {
	Chat  rect
	Title rect
	Rows  []struct {
		I                            int
		Row, Body, Name, Avatar, Sep *rect
	}
}

type rect [4]float64 // left, top, right, bottom

// measure scrolls the conversation as the spec says, once fonts and pictures are in, and
// returns where everything is.
const measure = `(async () => {
  await document.fonts.ready;
  await Promise.all([...document.images].map(i => i.decode().catch(() => {})));
  const chat = document.querySelector('.chat'), sc = document.querySelector('.scroll');
  const view = chat.clientHeight, total = sc.offsetHeight, bottom = Math.min(0, view - total);
  let y = 0;
  if (ANCHOR === 'bottom') y = bottom;
  if (ANCHOR === 'cut') {
    const m = sc.querySelector('[data-i="' + AT + '"]');
    y = Math.max(bottom, -(m.offsetTop + CUT * m.offsetHeight));
  }
  sc.style.top = y + 'px';
  const box = e => { if (!e) return null; const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {
    Chat: box(chat), Title: box(document.querySelector('.title')),
    Rows: [...sc.querySelectorAll('[data-i]')].map(e => ({
      I: +e.dataset.i, Row: box(e), Body: box(e.querySelector('.body')), Name: box(e.querySelector('.name')),
      Avatar: box(e.querySelector('.av')), Sep: box(sc.querySelector('[data-sep="' + e.dataset.i + '"]')),
    })),
  };
})()`

// blank opens about:blank in tab and returns its frame, whose document renderOne replaces
// for each screenshot: much faster than a navigation, which starts a renderer each time.
func blank(tab context.Context) (cdp.FrameID, error) {
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		return "", err
	}
	tree, err := chromedp.Run(tab, func(ctx context.Context, t *chromedp.Target) (page.GetFrameTreeResult, error) {
		return cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
	})
	if err != nil {
		return "", err
	}
	return tree.FrameTree.Frame.ID, nil
}

// renderOne draws one spec in the tab's frame and writes its picture and truth into dir.
func renderOne(tab context.Context, frame cdp.FrameID, s Spec, dir string) (Shot, error) {
	fail := func(err error) (Shot, error) { return Shot{}, fmt.Errorf("wxshot: %s: %w", s.Name, err) }
	w, h := pageSize(s.Device)
	script := fmt.Sprintf("const ANCHOR = %q, AT = %d, CUT = %g;\n", s.Scroll.Anchor, s.Scroll.At, s.Scroll.Cut) + measure
	if err := chromedp.Do(tab,
		chromedp.EmulateViewport(int64(w), int64(h), chromedp.EmulateScale(s.Device.Ratio)),
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, t, page.SetDocumentContent, page.SetDocumentContentParams{FrameID: frame, HTML: pageHTML(s)})
			return chromedp.Void{}, err
		},
	); err != nil {
		return fail(err)
	}
	lay, err := chromedp.Run(tab, chromedp.Evaluate[layout]("{"+script+"}", chromedp.EvalAwaitPromise))
	if err != nil {
		return fail(fmt.Errorf("measuring the page: %w", err))
	}
	// Chromium crops and encodes the picture itself (libjpeg-turbo, Skia's PNG), which is
	// both faster than Go's encoders and another source of difference from ocrtest's.
	c, d := s.Crop, s.Device
	width, height := d.Width-c.Left-c.Right, d.Height-c.Top-c.Bottom
	params := page.CaptureScreenshotParams{
		FromSurface: ptr(true), OptimizeForSpeed: ptr(true), Format: page.CaptureScreenshotFormatPng,
		Clip: &page.Viewport{
			X: float64(c.Left) / d.Ratio, Y: float64(c.Top) / d.Ratio,
			Width: float64(width) / d.Ratio, Height: float64(height) / d.Ratio, Scale: 1,
		},
	}
	ext := ".png"
	if s.JPEG > 0 {
		ext = ".jpg"
		params.Format, params.Quality = page.CaptureScreenshotFormatJpeg, ptr(int64(s.JPEG))
	}
	capture, err := chromedp.Run(tab, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, params)
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	})
	if err != nil {
		return fail(fmt.Errorf("capturing the screen: %w", err))
	}
	got, _, err := image.DecodeConfig(bytes.NewReader(capture))
	if err != nil {
		return fail(fmt.Errorf("reading the capture: %w", err))
	}
	if got.Width != width || got.Height != height {
		return fail(fmt.Errorf("the capture is %dx%d, not the %dx%d asked for", got.Width, got.Height, width, height))
	}
	shot := truth(s, lay, image.Rect(0, 0, width, height))
	shot.Path = filepath.Join(dir, s.Name+ext)
	if err := writeAtomic(shot.Path, capture); err != nil {
		return fail(err)
	}
	if err := writeJSON(filepath.Join(dir, s.Name+".json"), relative(shot)); err != nil {
		return fail(err)
	}
	return shot, nil
}

func ptr[T any](v T) *T { return &v }

// truth turns the page's measurements into the picture's truth: which messages are in it,
// whole or cut, and where their parts are in its pixels.
func truth(s Spec, lay layout, bounds image.Rectangle) Shot {
	d, c := s.Device, s.Crop
	toPic := func(r rect) Box {
		return Box{
			X0: int(math.Floor(r[0]*d.Ratio)) - c.Left, Y0: int(math.Floor(r[1]*d.Ratio)) - c.Top,
			X1: int(math.Ceil(r[2]*d.Ratio)) - c.Left, Y1: int(math.Ceil(r[3]*d.Ratio)) - c.Top,
		}
	}
	pic := Box{0, 0, bounds.Dx(), bounds.Dy()}
	view := intersect(toPic(lay.Chat), pic)
	shot := Shot{Name: s.Name, Width: pic.X1, Height: pic.Y1, Dark: s.Dark, Platform: d.Platform, At: s.At}
	if t := toPic(lay.Title); t.Y0 >= 0 {
		shot.Title = fmt.Sprintf("%s(%d)", s.Group, s.Count)
	}
	const slack = 1 // antialiased edges
	for _, row := range lay.Rows {
		r := toPic(*row.Row)
		if r.Y1 <= view.Y0 || r.Y0 >= view.Y1 {
			continue
		}
		m := s.Messages[row.I]
		seen := Seen{
			Index: row.I, Kind: m.Kind, Text: m.Text, Quoted: m.Quoted, Shown: m.Shown,
			CutTop: r.Y0 < view.Y0-slack, CutBottom: r.Y1 > view.Y1+slack,
			Phones: m.Phones, Serials: m.Serials, Address: m.Address,
			Box: intersect(toPic(*row.Body), view),
		}
		switch {
		case m.Kind.Notice():
			seen.Side = Center
		case m.From < 0:
			seen.Side = Right
		default:
			seen.Side, seen.Sender = Left, s.Members[m.From].Name
		}
		if row.Name != nil {
			if n := toPic(*row.Name); inside(n, view) {
				seen.Name = n
			}
		}
		if row.Avatar != nil {
			seen.Avatar = intersect(toPic(*row.Avatar), view)
		}
		if row.Sep != nil && inside(toPic(*row.Sep), view) {
			seen.Time = m.Time
		}
		shot.Messages = append(shot.Messages, seen)
	}
	return shot
}

func intersect(a, b Box) Box {
	r := Box{max(a.X0, b.X0), max(a.Y0, b.Y0), min(a.X1, b.X1), min(a.Y1, b.Y1)}
	if r.Empty() {
		return Box{}
	}
	return r
}

func inside(a, b Box) bool {
	return a.X0 >= b.X0 && a.Y0 >= b.Y0 && a.X1 <= b.X1 && a.Y1 <= b.Y1
}
