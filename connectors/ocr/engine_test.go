package ocr

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors/ocr/ocrtest"
)

// The pool's clients are used by one reading at a time: screenshots read at once on every
// client read as they do one by one.
func TestConcurrentReadsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("OCRs screenshots")
	}
	var imgs [][]byte
	for _, name := range []string{"light", "dark"} {
		for _, s := range renderChat(t, name) {
			b, err := os.ReadFile(s.Path)
			require.NoError(t, err)
			imgs = append(imgs, b)
		}
	}
	e := NewPool(2, "chi_sim", "eng")
	defer e.Close()
	want := make([]string, len(imgs))
	for i, b := range imgs {
		p, err := e.Read(context.Background(), b, DefaultLimits, ocrtest.At)
		require.NoError(t, err)
		j, _ := json.Marshal(p)
		want[i] = string(j)
	}
	var wg sync.WaitGroup
	got := make([]string, 3*len(imgs))
	for k := range got {
		wg.Go(func() {
			p, err := e.Read(context.Background(), imgs[k%len(imgs)], DefaultLimits, ocrtest.At)
			if err == nil {
				j, _ := json.Marshal(p)
				got[k] = string(j)
			}
		})
	}
	wg.Wait()
	for k := range got {
		assert.Equal(t, want[k%len(imgs)], got[k], "reading %d", k)
	}
}

// An engine waiting for a client gives up with its context.
func TestRecognizeWaitsForAClientWithinItsContext(t *testing.T) {
	e := NewPool(1)
	c, err := e.get(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.get(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	// A client that broke frees its slot: the next reading gets a new one.
	e.put(c, true)
	c2, err := e.get(context.Background())
	require.NoError(t, err)
	e.Close()
	e.put(c2, false) // after Close: closed, not kept
	assert.Empty(t, e.pool)
	assert.Empty(t, e.slots)
}

// Files that are not screenshots are refused with the reason, before any pixel is decoded.
func TestImageLimits(t *testing.T) {
	shot := renderChatOrSkip(t)
	for _, c := range []struct {
		name string
		b    []byte
		lim  Limits
		want string
	}{
		{"text", []byte("hello, this is text"), DefaultLimits, "not a PNG or JPEG image"},
		{"gif", []byte("GIF89a\x10\x00\x10\x00\x00\x00\x00;"), DefaultLimits, "not a PNG or JPEG image"},
		{"too many bytes", shot, Limits{MaxBytes: 1000}, "over the limit of 1000"},
		{"too many pixels", shot, Limits{MaxPixels: 1000 * 1000}, "over the limit of 1000000 pixels"},
		{"cut short", shot[:len(shot)/2], DefaultLimits, "the png image is corrupt"},
	} {
		_, err := decodeImage(c.b, c.lim)
		var ie *ImageError
		if assert.ErrorAs(t, err, &ie, c.name) {
			assert.Contains(t, ie.Error(), c.want, c.name)
		}
	}
}

func renderChatOrSkip(t *testing.T) []byte {
	t.Helper()
	shots := renderChat(t, "dark")
	b, err := os.ReadFile(shots[0].Path)
	require.NoError(t, err)
	return b
}

// FuzzDecodeAndLayout: whatever bytes arrive, decoding, finding the structure and laying out
// whatever is read in its regions never panic.
func FuzzDecodeAndLayout(f *testing.F) {
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x20\x00\x00\x00\x20\x08\x02\x00\x00\x00"))
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))
	f.Add([]byte("not an image"))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := decodeImage(b, Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20})
		if err != nil {
			return
		}
		rgba := rgbaOf(img)
		n := 0
		// Every region reads as a time separator, a name or a line of a bubble alike.
		fake := func(r image.Rectangle, _ readMode) ([]Line, error) {
			n++
			return []Line{{Text: "上午 9:42", Box: r, Confidence: float64(n % 100)}}, nil
		}
		if _, err := layOut(rgba, findScene(rgba), fake, composeOptions{at: ocrtest.At}); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseSeparator: any text either is no separator or, unless it names its year, resolves
// to a time no later than the day of the screenshot (WeChat never shows a time to come).
func FuzzParseSeparator(f *testing.F) {
	for _, s := range []string{"上午 9:42", "昨天 14:05", "星期一 08:10", "2026年1月5日 下午3:20", "12月30日 晚上 9:00", "中午 1:10"} {
		f.Add(s)
	}
	y, m, d := ocrtest.At.Date()
	endOfDay := time.Date(y, m, d+1, 0, 0, 0, 0, ocrtest.At.Location())
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseSeparator(s, ocrtest.At)
		if ok && !strings.Contains(s, "年") && !got.Before(endOfDay) {
			t.Fatalf("%q resolves to %v, after the screenshot's day", s, got)
		}
	})
}

// A screenshot whose page was made transparent (cut away by an editor) reads as the opaque
// one does: it is laid on WeChat's light page, not on black.
func TestTransparentScreenshotsAreLaidOnThePage(t *testing.T) {
	if testing.Short() {
		t.Skip("OCR of rendered screenshots")
	}
	shot := renderChat(t, "light")[0]
	b, err := os.ReadFile(shot.Path)
	require.NoError(t, err)
	img, err := decodeImage(b, DefaultLimits)
	require.NoError(t, err)
	// The page's colour, taken at the left edge under the title bar, becomes transparent.
	bounds := img.Bounds()
	page := color.NRGBAModel.Convert(img.At(bounds.Min.X+2, bounds.Min.Y+bounds.Dy()/2)).(color.NRGBA)
	cut := image.NewNRGBA(bounds)
	cleared := 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if c == page {
				c, cleared = color.NRGBA{}, cleared+1
			}
			cut.SetNRGBA(x, y, c)
		}
	}
	require.Greater(t, cleared, bounds.Dx()*bounds.Dy()/4, "the page is most of the picture")
	rgba := rgbaOf(cut)
	assert.Equal(t, lightPage, rgba.RGBAAt(2, bounds.Dy()/2), "a transparent pixel is the light page")

	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, cut))
	want := readShot(t, shot)
	got, err := sharedEngine.Read(context.Background(), buf.Bytes(), DefaultLimits, ocrtest.At)
	require.NoError(t, err)
	require.Len(t, got.Messages, len(want.Messages))
	for i := range want.Messages {
		assert.Equal(t, want.Messages[i].Sender, got.Messages[i].Sender, "message %d", i+1)
		assert.Equal(t, want.Messages[i].Side, got.Messages[i].Side, "message %d", i+1)
		assert.Equal(t, NormalizeText(want.Messages[i].Text), NormalizeText(got.Messages[i].Text), "message %d", i+1)
	}
}
