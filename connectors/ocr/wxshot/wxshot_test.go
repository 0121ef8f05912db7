package wxshot

import (
	"context"
	"encoding/json"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// artifacts is where a test keeps pictures for a person to look at: $GONGDAN_ARTIFACTS/<test>
// when set, else the test's temporary directory.
func artifacts(t *testing.T) string {
	t.Helper()
	if base := os.Getenv("GONGDAN_ARTIFACTS"); base != "" {
		dir := filepath.Join(base, t.Name())
		require.NoError(t, os.MkdirAll(dir, 0o755))
		return dir
	}
	return t.TempDir()
}

func needChromium(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("draws screenshots with Chromium")
	}
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Skipf("%s is not installed (Debian's chromium; make deps installs it): the screenshots cannot be drawn", ChromiumPath)
	}
}

// samples are specs that together show both platforms, both appearances, JPEG and PNG,
// crops and the keyboard: the first few of the default corpus, and the overlapping pair.
func samples() []Spec {
	pair := OverlapPair(DefaultSeed)
	specs := append(Corpus(DefaultSeed, 10), pair[:]...)
	for i := range specs {
		if i%3 == 0 {
			specs[i].JPEG = 0 // some lossless, to look at closely
		}
	}
	return specs
}

// Drawn screenshots have the device's size less the crop, decode as what their name says,
// and their truth lies inside them: a left bubble's pixels are the others' colour, a right
// one's the owner's green, in light and dark mode, through JPEG compression.
func TestRenderedScreenshotsMatchTheirTruth(t *testing.T) {
	needChromium(t)
	specs := samples()
	dir := artifacts(t)
	shots, err := Render(context.Background(), specs, dir)
	require.NoError(t, err)
	require.Len(t, shots, len(specs))
	bubbles := map[Side]int{}
	for i, shot := range shots {
		s := specs[i]
		f, err := os.Open(shot.Path)
		require.NoError(t, err)
		img, format, err := image.Decode(f)
		f.Close()
		require.NoError(t, err, shot.Path)
		assert.Equal(t, map[bool]string{true: "jpeg", false: "png"}[s.JPEG > 0], format, shot.Name)
		w, h := s.Device.Width-s.Crop.Left-s.Crop.Right, s.Device.Height-s.Crop.Top-s.Crop.Bottom
		assert.Equal(t, image.Rect(0, 0, w, h), img.Bounds(), shot.Name)
		assert.Equal(t, w, shot.Width)
		assert.Equal(t, h, shot.Height)
		assert.NotEmpty(t, shot.Messages, shot.Name)
		pic := Box{0, 0, w, h}
		last := -1
		for _, m := range shot.Messages {
			assert.Greater(t, m.Index, last, "%s: top to bottom", shot.Name)
			last = m.Index
			assert.True(t, m.CutTop || m.CutBottom || !m.Box.Empty(), "%s message %d is whole but has no box", shot.Name, m.Index)
			for _, b := range []Box{m.Box, m.Name, m.Avatar} {
				assert.True(t, b.Empty() || inside(b, pic), "%s message %d: %+v lies outside the %dx%d picture", shot.Name, m.Index, b, w, h)
			}
			assert.Equal(t, m.Side == Left, m.Sender != "", "%s message %d: only left messages have a sender", shot.Name, m.Index)
			if !m.Kind.Bubbled() || m.Box.Dy() < 20 || m.Box.Dx() < 40 {
				continue
			}
			want := OwnBubbleRGB[count(s.Dark)]
			if m.Side == Left {
				want = OtherBubbleRGB[count(s.Dark)]
			}
			// The padding's middle left: no text, no rounded corner.
			at := image.Pt(m.Box.X0+int(6*s.Device.Ratio), m.Box.Y0+m.Box.Dy()/2)
			assertColor(t, img, at, want, "%s message %d (%s, dark %v)", shot.Name, m.Index, m.Side, s.Dark)
			bubbles[m.Side]++
		}
	}
	assert.Positive(t, bubbles[Left])
	assert.Positive(t, bubbles[Right])
	t.Logf("%d screenshots in %s", len(shots), dir)
}

func jsonOf(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func (b Box) Dx() int { return b.X1 - b.X0 }
func (b Box) Dy() int { return b.Y1 - b.Y0 }

func assertColor(t *testing.T, img image.Image, at image.Point, want [3]uint8, msg string, args ...any) {
	t.Helper()
	r, g, b, _ := img.At(at.X, at.Y).RGBA()
	got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
	for i := range got {
		if d := got[i] - int(want[i]); d > 10 || d < -10 {
			t.Errorf(msg+": colour at %v is %v, want about %v", append(args, at, got, want)...)
			return
		}
	}
}

// The overlapping pair: the first screenshot shows both requests whole; the second has the
// first request cut off at its top and the second request whole.
func TestOverlapPairOverlaps(t *testing.T) {
	needChromium(t)
	pair := OverlapPair(DefaultSeed)
	shots, err := Render(context.Background(), pair[:], artifacts(t))
	require.NoError(t, err)
	whole := func(s Shot, i int) bool {
		for _, m := range s.Messages {
			if m.Index == i {
				return !m.CutTop && !m.CutBottom
			}
		}
		return false
	}
	assert.True(t, whole(shots[0], 0), "first screenshot, first request")
	assert.True(t, whole(shots[0], 2), "first screenshot, second request")
	if assert.NotEmpty(t, shots[1].Messages) {
		assert.Equal(t, 0, shots[1].Messages[0].Index)
		assert.True(t, shots[1].Messages[0].CutTop, "second screenshot, first request cut at the top")
	}
	assert.True(t, whole(shots[1], 2), "second screenshot, second request")
}

// A second Render of the same specs into the same folder reads what the first one drew.
func TestRenderReusesItsCache(t *testing.T) {
	needChromium(t)
	specs := Corpus(DefaultSeed+7, 2)
	dir := t.TempDir()
	first, err := Render(context.Background(), specs, dir)
	require.NoError(t, err)
	stat, err := os.Stat(first[0].Path)
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond)
	again, err := Render(context.Background(), specs, dir)
	require.NoError(t, err)
	assert.Equal(t, jsonOf(t, first), jsonOf(t, again)) // the same, but for the zone's name
	stat2, err := os.Stat(first[0].Path)
	require.NoError(t, err)
	assert.Equal(t, stat.ModTime(), stat2.ModTime(), "drawn again")
	// Other specs in the same folder are drawn anew.
	other, err := Render(context.Background(), Corpus(DefaultSeed+8, 1), dir)
	require.NoError(t, err)
	assert.NotEqual(t, first[0].Messages, other[0].Messages)
}
