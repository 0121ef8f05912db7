package ocr

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/draft"
)

func at(hm string) *time.Time {
	t, _ := time.ParseInLocation("2006-01-02 15:04", "2026-01-07 "+hm, time.FixedZone("CST", 8*3600))
	return &t
}

func TestDraftsOfAPage(t *testing.T) {
	r := RequestFilter{Keywords: []string{"坏了"}, Staff: []string{"李工"}, Window: 30 * time.Minute}
	env := draft.Envelope{ID: "e1", Connector: "groups", ConnectorType: TypeOCR, ReceivedAt: *at("10:30")}
	shot := draft.Attachment{Kind: "image", URI: "attachment:ab", SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	p := Page{Title: "维修群", Messages: []Message{
		{Kind: KindText, Sender: "张三", Side: left, Text: "在吗"},                               // before any request of his: a follow-up
		{Kind: KindText, Sender: "张三", Side: left, Time: at("09:42"), Text: "冷库压缩机坏了"},       // a request
		{Kind: KindText, Sender: "张三", Side: left, Time: at("09:42"), Text: "电话13812345678"}, // its conversation
		{Kind: KindText, Side: right, Time: at("09:43"), Text: "收到，马上安排"},                    // the phone's owner
		{Kind: KindText, Sender: "李工", Side: left, Time: at("09:44"), Text: "我的车也坏了"},        // staff
		{Kind: KindText, Sender: "王五", Side: left, Time: at("09:45"), Text: "谢谢"},            // no request of his: a follow-up
		{Kind: KindText, Sender: "张三", Side: left, Time: at("10:20"), Text: "好的"},            // past the window: a follow-up
		{Kind: KindImage, Sender: "张三", Side: left, Time: at("10:21")},                       // a picture: no draft
		{Kind: KindVoice, Sender: "王五", Side: left, Time: at("10:22")},                       // a voice message: no draft
		{Kind: KindLink, Sender: "王五", Side: left, Time: at("10:22"), Text: "空调维修报修指南"},      // a link's title: no draft
	}}
	ds := r.Drafts(p, "", env, shot)
	require.Len(t, ds, 5)
	intents := []string{}
	for _, d := range ds {
		intents = append(intents, d.Customer.Name+":"+d.Intent+":"+d.Title)
		assert.Equal(t, "ocr:groups:维修群:"+d.Customer.Name, d.ThreadKey)
		assert.Equal(t, []draft.Attachment{shot}, d.Attachments)
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
	other := Page{Title: "维修群", Messages: []Message{{Kind: KindText, Sender: "张三", Side: left, Text: "电话 １３８１２３４５６７８"}}}
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

// A WeChat follower forwards a screenshot drawn to look like the group (screenshots_to): the
// real member's name, a follow-up, and a request with the words of one staff will upload. The
// follower's messages must not join (intent update) the member's ticket made from the staff's
// screenshots, nor take its dedup key first so that the staff's upload vanishes as a
// duplicate: a forwarded screenshot's keys and customer are its forwarder's own, even once
// the pipeline has put them in the connector's namespace; the staff's are as they were, so
// their overlapping screenshots still make one ticket.
func TestAForwardedScreenshotKeepsToItsSender(t *testing.T) {
	r := RequestFilter{Keywords: []string{"坏了"}, Window: 30 * time.Minute}
	scope := draft.Scope{Connector: "groups", Type: TypeOCR, Intents: []string{draft.IntentUpdate}}
	shot := draft.Attachment{Kind: "image", URI: "attachment:ab", SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	page := Page{Title: "维修群", Messages: []Message{
		{Kind: KindText, Sender: "张三", Side: left, Time: at("09:40"), Text: "在吗"},
		{Kind: KindText, Sender: "张三", Side: left, Time: at("09:42"), Text: "冷库压缩机坏了"},
	}}
	drafts := func(p Page, group string, headers map[string]string) []draft.Draft {
		env := draft.Envelope{ID: "e", Connector: "groups", ConnectorType: TypeOCR, ReceivedAt: *at("10:30"), Headers: headers}
		ds := r.Drafts(p, group, env, shot)
		for i := range ds {
			require.NoError(t, ds[i].Validate())
			d, err := scope.Confine(ds[i])
			require.NoError(t, err)
			ds[i] = d
		}
		return ds
	}
	staff := drafts(page, "", nil)
	follower := drafts(page, "", map[string]string{headerForwardedBy: "gzh:oFOLLOWER"})
	require.Len(t, staff, 2)
	require.Len(t, follower, 2)

	assert.Equal(t, "groups/ocr:groups:维修群:张三", staff[0].ThreadKey, "the staff's keys are what the picture shows")
	assert.Equal(t, "ocr:维修群:张三", staff[0].Customer.ID)
	for i, d := range follower {
		assert.Equal(t, "groups/forwarded/gzh:oFOLLOWER/ocr:groups:维修群:张三", d.ThreadKey)
		assert.Equal(t, "groups/forwarded/gzh:oFOLLOWER/"+strings.TrimPrefix(staff[i].DedupKey, "groups/"), d.DedupKey)
		assert.Equal(t, "forwarded/gzh:oFOLLOWER/ocr:维修群:张三", d.Customer.ID)
		assert.Equal(t, "张三", d.Customer.Name, "the name is what the picture shows")
		assert.Equal(t, staff[i].Intent, d.Intent)
		require.Len(t, d.Evidence, 2)
		assert.Equal(t, "customer.id", d.Evidence[1].Field)
		assert.Equal(t, "forwarded_by", d.Evidence[1].From)
		assert.Contains(t, d.Evidence[1].Text, "gzh:oFOLLOWER")
	}
	assert.Equal(t, draft.IntentUpdate, follower[0].Intent, "a follow-up: it may join only its own sender's ticket")

	// Whatever the staff's pictures call the group, and whoever else forwards the same picture,
	// no key of one is a key of another. The same follower forwarding it again makes the same
	// keys: one ticket.
	keys := map[string]string{}
	claim := func(who string, ds []draft.Draft) {
		for _, d := range ds {
			for kind, k := range map[string]string{"dedup": d.DedupKey, "thread": d.ThreadKey, "customer": d.Customer.ID} {
				if prev, ok := keys[kind+" "+k]; ok && prev != who {
					t.Errorf("%s key %q is both %s's and %s's", kind, k, prev, who)
				}
				keys[kind+" "+k] = who
			}
		}
	}
	claim("staff", staff)
	claim("follower", follower)
	claim("follower", drafts(page, "", map[string]string{headerForwardedBy: "gzh:oFOLLOWER"}))
	claim("another follower", drafts(page, "", map[string]string{headerForwardedBy: "gzh:oANOTHER"}))
	claim("another connector's follower", drafts(page, "", map[string]string{headerForwardedBy: "wecom:oFOLLOWER"}))
	for _, mimic := range []string{"forwarded/gzh:oFOLLOWER", "forwarded/gzh:oFOLLOWER/ocr:维修群", "groups/forwarded/gzh:oFOLLOWER/ocr:groups:维修群"} {
		claim("staff", drafts(Page{Messages: page.Messages}, mimic, nil))
	}
}
