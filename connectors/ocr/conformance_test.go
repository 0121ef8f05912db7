package ocr

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"gongdan/connectors/connectortest"
	"gongdan/connectors/ocr/ocrtest"
)

// goodShots renders, once, screenshots each with one customer's request of its own.
var goodShots = struct {
	sync.Mutex
	m map[int][]byte
}{m: map[int][]byte{}}

func goodShot(t *testing.T, i int) []byte {
	goodShots.Lock()
	defer goodShots.Unlock()
	if b, ok := goodShots.m[i]; ok {
		return b
	}
	dir, err := os.MkdirTemp("", "ocr-conformance-")
	if err != nil {
		t.Error(err)
		return nil
	}
	defer os.RemoveAll(dir)
	shots, err := ocrtest.Render(ocrtest.Chat{Title: "售后群(12)", Height: 1000, Items: []ocrtest.Item{
		{Time: "上午 9:42"},
		{From: fmt.Sprintf("客户%d号", i), Text: fmt.Sprintf("%d号机床坏了，请派人来修", 100+i)},
	}}, dir)
	if err != nil {
		t.Error(err)
		return nil
	}
	b, err := os.ReadFile(shots[0].Path)
	if err != nil {
		t.Error(err)
	}
	goodShots.m[i] = b
	return b
}

// The connector passes the conformance suite through its upload: acked only once durable, a
// screenshot sent again makes one ticket, a corrupt PNG (its header fine) is a dead letter, an
// upload without the token is refused at the edge.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("OCRs screenshots")
	}
	bad := goodShot(t, 999)
	// Uploaded as a phone does, with its token.
	const token = "conformance-token-0123456789"
	auth := map[string]string{"Authorization": "Bearer " + token}
	connectortest.Run(t, connectortest.Harness{
		// The suite sends eight uploads at once from one source (its redelivery race): a budget
		// wide enough for that, since the budget's own limits are tested in upload_test.go.
		Config: "name: groups\ntype: ocr\nworkers: 2\ntokens: [{name: phones, token: " + token + "}]\n" +
			"budget: {concurrent: 32, concurrent_per_source: 32}\n",
		Send: connectortest.PostWith("image/png"),
		Good: func(i int) connectortest.Input { return connectortest.Input{Body: goodShot(t, i), Headers: auth} },
		Bad:  connectortest.Input{Body: bad[:len(bad)*2/3], Headers: auth}, // a PNG cut short
		// Refused and not kept: a screenshot without the token. (A file that is not an image is
		// refused too, and kept as a dead letter: TestAHalfGoodUploadKeepsNeither.)
		Rejected: &connectortest.Input{Body: goodShot(t, 0)},
		// OCR under the race detector takes seconds a screenshot: waits are bounded, not timed.
		Timeout: 3 * time.Minute,
	})
}
