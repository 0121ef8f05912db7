package main

import (
	"encoding/json"
	"encoding/xml"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

// TestWeChatCallbackIntoATicket: Tencent's sample official account message, encrypted and
// signed as in its sample code, through /wechat/{name} of a real server into a ticket; WeChat's
// retry of the same callback is answered success and makes no second ticket; a forged one is
// refused and stores nothing.
func TestWeChatCallbackIntoATicket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	const (
		token  = sampleToken
		aesKey = sampleAESKey
		admin  = "test-admin-token-0123456789"
	)
	srv := startWeChatServer(t, token, sampleAppID, aesKey, "timestamp_skew: 0s   # the sample is from 2014\n")
	q, body := sampleCallback()
	wechatURL := srv.url + "/wechat/gzh?" + q.Encode()
	for range 2 { // the callback and WeChat's retry of it
		status, answer, err := call("POST", wechatURL, "", body)
		require.NoError(t, err)
		require.Equal(t, 200, status, string(answer))
		assert.Equal(t, "success", string(answer))
	}
	forged := strings.Replace(wechatURL, "msg_signature=5d", "msg_signature=6d", 1)
	status, _, err := call("POST", forged, "", body)
	require.NoError(t, err)
	assert.Equal(t, 401, status)

	// The retry was answered from what the connector had taken (published once); the
	// ticket is made before counting tickets.
	require.Eventually(t, func() bool {
		st, b, err := call("GET", srv.url+"/metrics", "", "")
		return err == nil && st == 200 && strings.Contains(string(b), `gongdan_intake_total{outcome="created"} 1`)
	}, time.Minute, 50*time.Millisecond, "the message reaches the core")
	st, b, err := call("GET", srv.url+"/api/v1/tickets", admin, "")
	require.NoError(t, err)
	require.Equal(t, 200, st)
	var page struct{ Tickets []ticket.Ticket }
	require.NoError(t, json.Unmarshal(b, &page))
	require.Len(t, page.Tickets, 1, "WeChat's retry made no second ticket")
	tk := page.Tickets[0]
	assert.Equal(t, "abcdteT", tk.Description)
	assert.Equal(t, "oyORnuP8q7ou2gfYjqLzSIWZf0rs", tk.Customer.WechatOpenID)
	assert.Equal(t, "gzh/wechat:gzh:oyORnuP8q7ou2gfYjqLzSIWZf0rs", tk.ThreadKey, "in the namespace of the connector")
	require.Len(t, tk.Sources, 1)
	assert.Equal(t, "gzh/msg/6054768590064713728", tk.Sources[0].DedupKey)

	st, b, err = call("GET", srv.url+"/api/v1/connectors", admin, "")
	require.NoError(t, err)
	require.Equal(t, 200, st)
	assert.Contains(t, string(b), `"name":"gzh","type":"wechat.officialaccount","state":"running","received":3,"published":1,"rejected":1`)
	assert.Contains(t, string(b), `"refused_by_reason":{"bad_signature":1}`)
	srv.kill() // the log is complete
	assert.NotContains(t, srv.logs.String(), aesKey)
	assert.NotContains(t, srv.logs.String(), token)
}

// TestWeChatConversationFillsOneTicket: the guided-intake conversation through a real server.
// "报修" → the account asks for the missing phone and address → the answers come in two more
// messages → one ticket with the request, the phone and the address.
func TestWeChatConversationFillsOneTicket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	const (
		token  = "convtoken"
		appID  = "wx2c2769f8efd9abc2"
		aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
		admin  = "test-admin-token-0123456789"
		openID = "oConversation0001"
	)
	srv := startWeChatServer(t, token, appID, aesKey, "guided_intake:\n  - {ask_for: [customer.phone, location.address]}\n")

	say := func(msgID int, text string) string {
		t.Helper()
		return wechatSay(t, srv.url, token, appID, aesKey, openID, msgID, text)
	}

	reply := say(101, "报修：3号楼的空调不制冷了")
	assert.Contains(t, reply, "联系电话")
	assert.Contains(t, reply, "报修地址")
	reply = say(102, "13812345678")
	assert.NotContains(t, reply, "联系电话", "the phone is known now")
	assert.Contains(t, reply, "报修地址")
	reply = say(103, "苏州工业园区星湖街328号")
	assert.Contains(t, reply, "信息已收到")

	var tk ticket.Ticket
	require.Eventually(t, func() bool {
		st, b, err := call("GET", srv.url+"/api/v1/tickets", admin, "")
		var page struct{ Tickets []ticket.Ticket }
		if err != nil || st != 200 || json.Unmarshal(b, &page) != nil || len(page.Tickets) == 0 {
			return false
		}
		tk = page.Tickets[0]
		return len(page.Tickets) == 1 && len(tk.Sources) == 3
	}, time.Minute, 50*time.Millisecond, "the three messages in one ticket")
	assert.Equal(t, "报修：3号楼的空调不制冷了", tk.Description)
	assert.Equal(t, "13812345678", tk.Customer.Phone)
	assert.Contains(t, tk.Location.Address, "星湖街328号")
	assert.Equal(t, openID, tk.Customer.WechatOpenID)
	assert.Equal(t, "空调故障", tk.Category, "classified from the first message")
}

// Tencent's sample official account message (its documentation's vectors), encrypted and
// signed as in its sample code; the sample is from 2014 (timestamp_skew: 0s takes it).
const (
	sampleToken   = "spamtest"
	sampleAppID   = "wx2c2769f8efd9abc2"
	sampleAESKey  = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	sampleOpenID  = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
	sampleTS      = "1409735669"
	sampleNonce   = "1320562132"
	sampleMsgSig  = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
	sampleEncrypt = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)

// sampleCallback is the query and body of Tencent's sample callback to /wechat/gzh.
func sampleCallback() (url.Values, string) {
	q := url.Values{"signature": {util.Signature(sampleToken, sampleTS, sampleNonce)}, "timestamp": {sampleTS}, "nonce": {sampleNonce},
		"openid": {sampleOpenID}, "encrypt_type": {"aes"}, "msg_signature": {sampleMsgSig}}
	return q, `<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[` + sampleEncrypt + `]]></Encrypt></xml>`
}

// startWeChatServer runs gongdan serve with the test config and a safe-mode official account
// connector gzh, its token and key passed through the environment as in production; extra is
// more of the connector's keys, unindented.
func startWeChatServer(t *testing.T, token, appID, aesKey, extra string, edits ...func(cfg string) string) *child {
	t.Helper()
	t.Setenv("GONGDAN_TEST_WX_TOKEN", token)
	t.Setenv("GONGDAN_TEST_WX_AES_KEY", aesKey)
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := configText(addr) + `  - name: gzh
    type: wechat.officialaccount
    app_id: ` + appID + `
    token: "${GONGDAN_TEST_WX_TOKEN}"
    encoding_aes_key: "${GONGDAN_TEST_WX_AES_KEY}"
`
	for _, line := range strings.Split(strings.TrimRight(extra, "\n"), "\n") {
		cfg += "    " + line + "\n"
	}
	for _, edit := range edits {
		cfg = edit(cfg)
	}
	path := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	srv := startChild(t, "serve", "--config", path, "--data", dir)
	srv.waitReady(addr)
	return srv
}

// TestTheWeChatExampleAndItsCasesPass: the example config validates and its dry-run cases
// (what customers' messages become) pass, as an ops team would run them.
func TestTheWeChatExampleAndItsCasesPass(t *testing.T) {
	for _, v := range []string{"WX_SECRET", "WECOM_SECRET", "KF_SECRET", "ALIYUN_SMS_SECRET", "SMTP_PASSWORD"} {
		t.Setenv(v, "dry-run-secret")
	}
	for _, v := range []string{"WX_TOKEN", "WECOM_TOKEN", "KF_TOKEN"} {
		t.Setenv(v, "dryrun")
	}
	for _, v := range []string{"WX_AES_KEY", "WECOM_AES_KEY", "KF_AES_KEY"} {
		t.Setenv(v, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	}
	code, out, errOut := runCLI(t, "validate", "--config", "../../configs/examples/wechat.yaml")
	require.Equal(t, 0, code, out+errOut)
	code, out, errOut = runCLI(t, "test", "--config", "../../configs/examples/wechat.yaml", "../../configs/examples/wechat-tests")
	require.Equal(t, 0, code, out+errOut)
	assert.Contains(t, out, "6 passed, 0 failed")
}

// wechatSay sends text as a follower's message (openID, msgID) to the official account
// connector gzh of the server at base, encrypted and signed as WeChat does, and returns the
// account's reply, checking its signature.
func wechatSay(t *testing.T, base, token, appID, aesKey, openID string, msgID int, text string) string {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	plain := "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[" + openID + "]]></FromUserName><CreateTime>" + ts +
		"</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[" + text + "]]></Content><MsgId>" + strconv.Itoa(msgID) + "</MsgId></xml>"
	enc, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(plain), appID, aesKey)
	require.NoError(t, err)
	nonce := strconv.Itoa(msgID)
	q := url.Values{"signature": {util.Signature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "openid": {openID},
		"encrypt_type": {"aes"}, "msg_signature": {util.Signature(token, ts, nonce, string(enc))}}
	status, answer, err := call("POST", base+"/wechat/gzh?"+q.Encode(), "", "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA["+string(enc)+"]]></Encrypt></xml>")
	require.NoError(t, err)
	require.Equal(t, 200, status, string(answer))
	if string(answer) == "success" {
		return "" // taken without a reply
	}
	var resp message.ResponseEncryptedXMLMsg
	require.NoError(t, xml.Unmarshal(answer, &resp), string(answer))
	require.Equal(t, util.Signature(token, strconv.FormatInt(resp.Timestamp, 10), resp.Nonce, resp.EncryptedMsg), resp.MsgSignature)
	_, replyXML, err := util.DecryptMsg(appID, resp.EncryptedMsg, aesKey)
	require.NoError(t, err)
	var reply message.Text
	require.NoError(t, xml.Unmarshal(replyXML, &reply))
	require.Equal(t, openID, string(reply.ToUserName))
	return string(reply.Content)
}
