package ocr

import (
	"context"
	"image"
	"time"
)

// Read reads a chat screenshot: decode (PNG or JPEG, within lim), preprocess, OCR, and the
// chat's layout. at is when it was taken (or uploaded), for its time separators.
func (e *Engine) Read(ctx context.Context, b []byte, lim Limits, at time.Time) (Page, error) {
	img, err := decodeImage(b, lim)
	if err != nil {
		return Page{}, err
	}
	bin, factor := preprocess(img)
	lines, err := e.Recognize(ctx, bin)
	if err != nil {
		return Page{}, err
	}
	if factor > 1 {
		for i := range lines {
			lines[i].Box = scaleDown(lines[i].Box, factor)
			for j := range lines[i].Words {
				lines[i].Words[j].Box = scaleDown(lines[i].Words[j].Box, factor)
			}
		}
	}
	return parseLayout(rgbaOf(img), lines, at), nil
}

func scaleDown(r image.Rectangle, f int) image.Rectangle {
	return image.Rect(r.Min.X/f, r.Min.Y/f, (r.Max.X+f-1)/f, (r.Max.Y+f-1)/f)
}
