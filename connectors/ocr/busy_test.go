package ocr

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dots is a picture of isolated dark dots on a chat's grey: a few KiB as PNG, and millions
// of separate marks.
func dots(w, h, step int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{0xED, 0xED, 0xED, 0xFF}
			if x%step == 0 && y%step == 0 {
				c = color.RGBA{0x20, 0x20, 0x20, 0xFF}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// A picture with more marks than a chat screenshot has is refused before its marks are
// joined into lines (which would take time and memory out of all proportion), with a reason
// the uploader can read; a screenshot is not.
func TestBusyPicturesAreRefused(t *testing.T) {
	s := findScene(dots(3000, 4000, 2))
	assert.True(t, s.busy, "three million dots")
	assert.Nil(t, components(dots(3000, 4000, 2), rgb{0xED, 0xED, 0xED}, image.Rect(0, 0, 3000, 4000)),
		"the runs are counted as they are found, not all kept first")

	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, dots(1200, 1600, 3)))
	pool := NewPool(1)
	defer pool.Close()
	_, err := pool.Read(context.Background(), b.Bytes(), DefaultLimits, time.Now())
	var ie *ImageError
	require.ErrorAs(t, err, &ie)
	assert.Contains(t, ie.Reason, "more separate marks than a chat screenshot")

	img, err := decodeImage(renderChatOrSkip(t), DefaultLimits)
	require.NoError(t, err)
	assert.False(t, findScene(rgbaOf(img)).busy, "a screenshot is not busy")
}
