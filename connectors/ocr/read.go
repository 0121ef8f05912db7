package ocr

import (
	"context"
	"github.com/otiai10/gosseract/v2"
	"image"
	"time"
)

// Read reads a chat screenshot: decode (PNG or JPEG, within lim), preprocess, OCR, and the
// chat's layout. at is when it was taken (or uploaded), for its time separators. The reading
// holds one of the engine's slots from the decoding on, so that no more pictures are in
// memory at once than there are clients to read them.
func (e *Pool) Read(ctx context.Context, b []byte, lim Limits, at time.Time) (Page, error) {
	c, err := e.get(ctx)
	if err != nil {
		return Page{}, err
	}
	page, broken, err := read(ctx, c, b, lim, at)
	e.put(c, broken)
	return page, err
}

func read(ctx context.Context, c *gosseract.Client, b []byte, lim Limits, at time.Time) (Page, bool, error) {
	img, err := decodeImage(b, lim)
	if err != nil {
		return Page{}, false, err
	}
	bin, factor := preprocess(img)
	lines, broken, err := recognize(ctx, c, bin)
	if err != nil {
		return Page{}, broken, err
	}
	if factor > 1 {
		for i := range lines {
			lines[i].Box = scaleDown(lines[i].Box, factor)
			for j := range lines[i].Words {
				lines[i].Words[j].Box = scaleDown(lines[i].Words[j].Box, factor)
			}
		}
	}
	return parseLayout(rgbaOf(img), lines, at), false, nil
}

func scaleDown(r image.Rectangle, f int) image.Rectangle {
	return image.Rect(r.Min.X/f, r.Min.Y/f, (r.Max.X+f-1)/f, (r.Max.Y+f-1)/f)
}
