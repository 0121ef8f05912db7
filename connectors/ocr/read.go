package ocr

import (
	"context"
	"time"

	"github.com/otiai10/gosseract/v2"
)

// Read reads a chat screenshot: decode (PNG or JPEG, within lim), find its structure (page,
// avatars, bubbles, names, separators), read each region's text, and lay the messages out.
// at is when it was taken (or uploaded), for its time separators; known are names a misread
// sender snaps to (the connector's staff). The reading holds one of the engine's slots from
// the decoding on, so that no more pictures are in memory at once than there are clients to
// read them.
func (e *Pool) Read(ctx context.Context, b []byte, lim Limits, at time.Time, known ...string) (Page, error) {
	c, err := e.get(ctx)
	if err != nil {
		return Page{}, err
	}
	broken := true // unless read returns: a panic leaves the client in doubt
	defer func() { e.put(c, broken) }()
	page, broken, err := read(ctx, c, b, lim, at, known)
	return page, err
}

func read(ctx context.Context, c *gosseract.Client, b []byte, lim Limits, at time.Time, known []string) (Page, bool, error) {
	img, err := decodeImage(b, lim)
	if err != nil {
		return Page{}, false, err
	}
	rgba := rgbaOf(img)
	s := findScene(rgba)
	if s.busy {
		return Page{}, false, errTooBusy
	}
	var broken bool
	page, err := layOut(rgba, s, regionsOf(ctx, c, grayOf(rgba, 1), &broken), composeOptions{at: at, known: known})
	return page, broken, err
}
