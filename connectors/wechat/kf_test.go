package wechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors"
	"gongdan/connectors/wechat"
	"gongdan/connectors/wechat/wechattest"
	"gongdan/draft"
	"gongdan/normalize"
)

func kfMsg(i, origin int, msgtype string, body map[string]any) map[string]any {
	m := map[string]any{"msgid": fmt.Sprintf("kfmsg-%d", i), "open_kfid": "wkAJ2GCAAA", "external_userid": "wmCust0001",
		"send_time": time.Now().Unix() - 60 + int64(i), "origin": origin, "msgtype": msgtype}
	for k, v := range body {
		m[k] = v
	}
	return m
}

func kfText(i int, text string) map[string]any {
	return kfMsg(i, 3, "text", map[string]any{"text": map[string]any{"content": text}})
}

// kfRig is a wechat.kf connector with its state in dir, not yet running.
func kfRig(t *testing.T, dir string) *rig {
	t.Helper()
	t.Setenv("T_KF_TOKEN", wecomToken)
	t.Setenv("T_KF_AES_KEY", wecomAESKey)
	t.Setenv("T_KF_SECRET", "kf-secret-0123456")
	return newRig(t, "name: kf\ntype: wechat.kf\ncorp_id: "+wecomCorpID+"\ncorp_secret: ${T_KF_SECRET}\ntoken: ${T_KF_TOKEN}\nencoding_aes_key: ${T_KF_AES_KEY}\npoll_every: 1h\n",
		time.Now(), func(env *connectors.Env) { env.StateDir = dir })
}

// run runs the connector until the returned stop is called; stop returns Run's error.
func run(r *rig) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.conn.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

func keys(envs []draft.Envelope) []string {
	var ks []string
	for _, e := range envs {
		ks = append(ks, e.DedupKey)
	}
	return ks
}

func TestKFSyncsFromACursorThatSurvivesARestart(t *testing.T) {
	api := wechattest.Start(t)
	api.KFPage(2) // several pages per sync
	dir := t.TempDir()
	api.AddKFMessages(kfText(1, "空调不制冷"), kfMsg(2, 4, "event", map[string]any{"event": map[string]any{"event_type": "enter_session"}}),
		kfMsg(3, 5, "text", map[string]any{"text": map[string]any{"content": "您好，请问哪里坏了？"}}), kfText(4, "3号楼"))

	r := kfRig(t, dir)
	stop := run(r)
	require.Eventually(t, func() bool { return len(r.envelopes()) == 4 }, 10*time.Second, 5*time.Millisecond, "the sync at start")
	assert.Equal(t, []string{"msg/kfmsg-1", "msg/kfmsg-2", "msg/kfmsg-3", "msg/kfmsg-4"}, keys(r.envelopes()))

	// A callback: WeCom says there is more, with a token for the sync.
	api.AddKFMessages(kfText(5, "电话13812345678"))
	in := sealed(wecomToken, wecomAESKey, wecomCorpID, "<xml><ToUserName><![CDATA["+wecomCorpID+"]]></ToUserName><CreateTime>1764639100</CreateTime>"+
		"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[ENCApHxnGDNAVNY4]]></Token><OpenKfId><![CDATA[wkAJ2GCAAA]]></OpenKfId></xml>", false)
	q := url.Values{}
	for k, v := range in.Headers {
		q.Set(k, v)
	}
	resp, err := http.Post(r.url+"?"+q.Encode(), "text/xml", strings.NewReader(string(in.Body)))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "success", string(b))
	require.Eventually(t, func() bool { return len(r.envelopes()) == 5 }, 10*time.Second, 5*time.Millisecond, "the callback's sync")
	assert.Contains(t, api.KFTokens(), "ENCApHxnGDNAVNY4", "synced with the callback's token")
	require.NoError(t, stop())

	// A restart goes on from the cursor: nothing again, and what came meanwhile.
	api.AddKFMessages(kfText(6, "苏州工业园区星湖街328号"))
	r2 := kfRig(t, dir)
	stop = run(r2)
	require.Eventually(t, func() bool { return len(r2.envelopes()) == 1 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, []string{"msg/kfmsg-6"}, keys(r2.envelopes()))

	// A bus that refuses: Run fails, the cursor stays, the next Run publishes it all.
	api.AddKFMessages(kfText(7, "还没人来"), kfText(8, "在吗"))
	r3 := kfRig(t, dir)
	r3.refuse = errors.New("bus down")
	err = r3.conn.Run(context.Background()) // fails at its first sync
	require.Error(t, err)
	assert.ErrorContains(t, err, "the cursor stays")
	cursor, rerr := os.ReadFile(filepath.Join(dir, "kf.cursor"))
	require.NoError(t, rerr)
	assert.Equal(t, "c6\n", string(cursor), "still after message 6")
	r4 := kfRig(t, dir)
	stop = run(r4)
	require.Eventually(t, func() bool { return len(r4.envelopes()) == 2 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, []string{"msg/kfmsg-7", "msg/kfmsg-8"}, keys(r4.envelopes()))

	d := r4.conn.(connectors.Detailer).Details().(wechat.KFStatus)
	assert.Equal(t, int64(2), d.Synced)
	assert.True(t, d.HasCursor)
}

func TestKFMessagesBecomeDrafts(t *testing.T) {
	r := kfRig(t, t.TempDir())
	n := r.conn.Normalizer()
	env := func(m map[string]any) draft.Envelope {
		b, _ := jsonMarshal(m)
		return draft.Envelope{ID: "e", Connector: "kf", ConnectorType: "wechat.kf", Type: wechat.EnvelopeKF, DedupKey: "msg/" + m["msgid"].(string),
			ReceivedAt: time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai), Payload: b, Headers: map[string]string{"thread_window": "30m0s"}}
	}
	drafts, err := n.Normalize(env(kfText(1, "电梯困人了\n3号楼")))
	require.NoError(t, err)
	require.Len(t, drafts, 1)
	d := drafts[0]
	assert.Equal(t, "电梯困人了", d.Title)
	assert.Equal(t, "wmCust0001", d.Customer.ID)
	assert.Equal(t, "kf:kf:wmCust0001", d.ThreadKey)
	assert.Equal(t, draft.Window(30*time.Minute), d.ThreadWindow)
	assert.Equal(t, "kf/msg/kfmsg-1", d.DedupKey)
	assert.Equal(t, draft.Source{Connector: "kf", Type: "wechat.kf", Kind: "text", ExternalID: "wkAJ2GCAAA/kfmsg-1"}, d.Source)

	drafts, err = n.Normalize(env(kfMsg(2, 3, "location", map[string]any{"location": map[string]any{"latitude": 31.3, "longitude": 120.62, "name": "星湖街328号", "address": "苏州工业园区"}})))
	require.NoError(t, err)
	require.Len(t, drafts, 1)
	assert.InDelta(t, 31.3, drafts[0].Location.Lat, 1e-9)
	assert.Equal(t, "星湖街328号 苏州工业园区", drafts[0].Location.Address)

	drafts, err = n.Normalize(env(kfMsg(3, 3, "image", map[string]any{"image": map[string]any{"media_id": "m-1"}})))
	require.NoError(t, err)
	assert.Equal(t, []draft.Attachment{{Kind: "image", URI: "wechat-media:m-1"}}, drafts[0].Attachments)

	for _, m := range []map[string]any{
		kfMsg(4, 4, "event", map[string]any{"event": map[string]any{"event_type": "enter_session"}}),
		kfMsg(5, 5, "text", map[string]any{"text": map[string]any{"content": "servicer"}}),
	} {
		drafts, err = n.Normalize(env(m))
		require.NoError(t, err)
		assert.Empty(t, drafts, "events and servicers' messages make no ticket")
	}
	_, err = n.Normalize(env(kfText(6, "  ")))
	assert.Error(t, err)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func TestKFTellsItsCustomerFromTheirAccount(t *testing.T) {
	api := wechattest.Start(t)
	r := kfRig(t, t.TempDir())
	k := r.conn.(*wechat.KF)
	source := draft.Draft{Source: draft.Source{Connector: "kf", Type: "wechat.kf", Kind: "text", ExternalID: "wkAJ2GCAAA/kfmsg-1"}}
	sent, err := k.TellCustomer(context.Background(), source, draft.Customer{ID: "wmCust0001"}, "您的报修已受理")
	require.NoError(t, err)
	assert.True(t, sent)
	assert.Equal(t, []wechattest.Sent{{API: "kf", To: "wmCust0001", Content: "您的报修已受理", OpenKfID: "wkAJ2GCAAA"}}, api.Sent())

	sent, err = k.TellCustomer(context.Background(), draft.Draft{}, draft.Customer{ID: "wmCust0001"}, "x")
	require.NoError(t, err)
	assert.False(t, sent, "no account to send from")
}

// TestKFGuidedIntakeAsksWithSendMsg: a customer service conversation is guided as an official
// account's is, the questions going out with send_msg from the customer's account.
func TestKFGuidedIntakeAsksWithSendMsg(t *testing.T) {
	api := wechattest.Start(t)
	t.Setenv("T_KF_TOKEN", wecomToken)
	t.Setenv("T_KF_AES_KEY", wecomAESKey)
	t.Setenv("T_KF_SECRET", "kf-secret-0123456")
	r := newRig(t, "name: kf\ntype: wechat.kf\ncorp_id: "+wecomCorpID+"\ncorp_secret: ${T_KF_SECRET}\ntoken: ${T_KF_TOKEN}\nencoding_aes_key: ${T_KF_AES_KEY}\npoll_every: 1h\n"+
		"guided_intake:\n  - {ask_for: [customer.phone, location.address]}\n", time.Now(), func(env *connectors.Env) {
		env.StateDir, env.Enricher = t.TempDir(), normalize.DefaultEnricher(nil) // as the config builds it
	})
	api.AddKFMessages(kfText(1, "报修：空调不制冷"), kfText(2, "13812345678"), kfText(3, "苏州工业园区星湖街328号"))
	stop := run(r)
	require.Eventually(t, func() bool { return len(api.Sent()) == 3 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, stop())
	sent := api.Sent()
	for _, s := range sent {
		assert.Equal(t, "kf", s.API)
		assert.Equal(t, "wmCust0001", s.To)
		assert.Equal(t, "wkAJ2GCAAA", s.OpenKfID)
	}
	assert.Contains(t, sent[0].Content, "联系电话")
	assert.Contains(t, sent[0].Content, "报修地址")
	assert.NotContains(t, sent[1].Content, "联系电话")
	assert.Contains(t, sent[1].Content, "报修地址")
	assert.Contains(t, sent[2].Content, "信息已收到")
}

// TestKFCountsUnderConcurrency: a sync counts while callbacks come in and the API reads the
// details (run with -race).
func TestKFCountsUnderConcurrency(t *testing.T) {
	api := wechattest.Start(t)
	api.KFPage(3)
	for i := range 60 {
		api.AddKFMessages(kfText(i+1, fmt.Sprint("消息 ", i)))
	}
	r := kfRig(t, t.TempDir())
	stop := run(r)
	in := sealed(wecomToken, wecomAESKey, wecomCorpID, "<xml><ToUserName><![CDATA["+wecomCorpID+"]]></ToUserName><CreateTime>1764639100</CreateTime>"+
		"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[T]]></Token></xml>", false)
	q := url.Values{}
	for k, v := range in.Headers {
		q.Set(k, v)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			resp, err := http.Post(r.url+"?"+q.Encode(), "text/xml", strings.NewReader(string(in.Body)))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			_ = r.conn.(connectors.Detailer).Details()
		}
	}()
	require.Eventually(t, func() bool { return len(r.envelopes()) == 60 }, 10*time.Second, 5*time.Millisecond)
	<-done
	require.NoError(t, stop())
	d := r.conn.(connectors.Detailer).Details().(wechat.KFStatus)
	assert.Equal(t, int64(60), d.Synced)
	assert.Equal(t, int64(60), d.Received["kf.text"])
	assert.Equal(t, int64(20), d.Received["event.kf_msg_or_event"])
}

// An old message (a backlog after downtime) gets no question: it would come out of the blue,
// and spend the customer's five messages of the 48 hours.
func TestKFAsksNothingOfOldMessages(t *testing.T) {
	api := wechattest.Start(t)
	t.Setenv("T_KF_TOKEN", wecomToken)
	t.Setenv("T_KF_AES_KEY", wecomAESKey)
	t.Setenv("T_KF_SECRET", "kf-secret-0123456")
	r := newRig(t, "name: kf\ntype: wechat.kf\ncorp_id: "+wecomCorpID+"\ncorp_secret: ${T_KF_SECRET}\ntoken: ${T_KF_TOKEN}\nencoding_aes_key: ${T_KF_AES_KEY}\npoll_every: 1h\n"+
		"guided_intake:\n  - {ask_for: [customer.phone, location.address]}\n", time.Now(), func(env *connectors.Env) {
		env.StateDir, env.Enricher = t.TempDir(), normalize.DefaultEnricher(nil)
	})
	old := kfText(1, "报修：空调不制冷")
	old["send_time"] = time.Now().Add(-5 * time.Hour).Unix()
	api.AddKFMessages(old)
	stop := run(r)
	require.Eventually(t, func() bool { return len(r.envelopes()) == 1 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, stop())
	assert.Empty(t, api.Sent())
}
