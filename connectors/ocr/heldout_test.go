package ocr

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"

	"gongdan/connectors/ocr/wxshot"
)

// The held-out quarter of wxshot's corpus — screenshots drawn by a renderer of its own from
// WeChat's real metrics (Android and iOS, 720–1440 wide, light and dark, photo avatars, long
// left bubbles, the messages that are not text, JPEG, crops), which the layout was never tuned
// on — reads as issue 19 asks: side right for 99.5 % of messages, sender exact for 97 %, text
// similarity 0.97 on average, phones and serials exact in every message holding them, nothing
// that is not a customer's text read as one.
//
// It reads sixty screenshots (30 s on two cores, 65 s under the race detector) drawn by
// Chromium, and runs when GONGDAN_TEST_OCR_HELDOUT is set: until the layout meets every
// figure (issue 19: sender, text and serials fall short), it is a measure, not a gate.
func TestHeldOutScreenshots(t *testing.T) {
	if os.Getenv("GONGDAN_TEST_OCR_HELDOUT") == "" {
		t.Skip("set GONGDAN_TEST_OCR_HELDOUT=1 to read wxshot's held-out screenshots against issue 19's figures")
	}
	_, held := wxshot.Split(corpus(t))
	f := scoreAll(held, readShots(t, held), nil)
	t.Log(f)
	assert.GreaterOrEqual(t, share(f.sides, f.messages), 0.995, "side right")
	assert.GreaterOrEqual(t, share(f.named, f.senders), 0.97, "sender exact")
	assert.GreaterOrEqual(t, f.similar/float64(max(1, f.texts)), 0.97, "mean text similarity")
	assert.Equal(t, f.fields, f.exact, "phones and serials exact in every message holding them")
	assert.Zero(t, f.leaks, "notices or non-text read as customer text")
}
