package ocr

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/normalize"
)

func at(hm string) *time.Time {
	t, _ := time.ParseInLocation("2006-01-02 15:04", "2026-01-07 "+hm, time.FixedZone("CST", 8*3600))
	return &t
}

func TestDraftsOfAPage(t *testing.T) {
	r := Rule{Keywords: []string{"坏了"}, Staff: []string{"李工"}, Window: 30 * time.Minute}
	env := normalize.Envelope{ID: "e1", Connector: "groups", ConnectorType: TypeOCR, ReceivedAt: *at("10:30")}
	shot := normalize.Attachment{Kind: "image", URI: "attachment:ab", SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	p := Page{Title: "维修群", Messages: []Message{
		{Sender: "张三", Side: left, Text: "在吗"},                               // before any request of his: a follow-up
		{Sender: "张三", Side: left, Time: at("09:42"), Text: "冷库压缩机坏了"},       // a request
		{Sender: "张三", Side: left, Time: at("09:42"), Text: "电话13812345678"}, // its conversation
		{Side: right, Time: at("09:43"), Text: "收到，马上安排"},                    // the phone's owner
		{Sender: "李工", Side: left, Time: at("09:44"), Text: "我的车也坏了"},        // staff
		{Sender: "王五", Side: left, Time: at("09:45"), Text: "谢谢"},            // no request of his: a follow-up
		{Sender: "张三", Side: left, Time: at("10:20"), Text: "好的"},            // past the window: a follow-up
	}}
	ds := r.Drafts(p, "", env, shot)
	require.Len(t, ds, 5)
	intents := []string{}
	for _, d := range ds {
		intents = append(intents, d.Customer.Name+":"+d.Intent+":"+d.Title)
		assert.Equal(t, "ocr:groups:维修群:"+d.Customer.Name, d.ThreadKey)
		assert.Equal(t, []normalize.Attachment{shot}, d.Attachments)
		require.NoError(t, d.Validate())
	}
	assert.Equal(t, []string{"张三:update:在吗", "张三::冷库压缩机坏了", "张三::电话13812345678", "王五:update:谢谢", "张三:update:好的"}, intents)
	// Messages of one minute keep their order in the picture.
	assert.True(t, ds[1].OccurredAt.Before(ds[2].OccurredAt))
	assert.Equal(t, *at("09:42"), ds[1].OccurredAt.Truncate(time.Minute))
	assert.True(t, ds[0].OccurredAt.Before(ds[1].OccurredAt), "no separator above it: sent before the one below it")
	assert.Equal(t, *at("09:42"), ds[0].OccurredAt.Truncate(time.Minute).Add(time.Minute), "a moment before 09:42")

	// The same message read from another picture — its separator scrolled off, spaces and
	// full-width forms OCR put in — has the same key.
	other := Page{Title: "维修群", Messages: []Message{{Sender: "张三", Side: left, Text: "电话 １３８１２３４５６７８"}}}
	env2 := env
	env2.ID = "e2"
	again := r.Drafts(other, "", env2, shot)
	require.Len(t, again, 1)
	assert.Equal(t, ds[2].DedupKey, again[0].DedupKey)
	assert.NotEqual(t, ds[1].DedupKey, ds[2].DedupKey)
	// A group named by the upload when the title bar is not in the picture.
	assert.Equal(t, "ocr:groups:华东仓:张三", r.Drafts(Page{Messages: p.Messages[:1]}, "华东仓", env, shot)[0].ThreadKey)
}

func TestNormalizeText(t *testing.T) {
	assert.Equal(t, "报修,电话13812345678.SN-A1", NormalizeText(" 报修，电话 １３８１２３４５６７８。ＳＮ－Ａ１\n"))
}
