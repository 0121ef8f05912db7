package wechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/wechat"
	"gongdan/draft"
	"gongdan/internal/testkit"
)

var shanghai = time.FixedZone("CST", 8*3600)

// rig is one connector answering on an httptest server at /wechat/<name>, with the envelopes
// it published.
type rig struct {
	conn  connectors.Connector
	stats *connectors.Stats
	url   string
	clock *testkit.Clock // the connector's Env.Now

	mu        sync.Mutex
	published []draft.Envelope
	refuse    error // Publish fails with it when set
}

// newRig builds the connector of yamlItem, as the server would, with its clock at now.
func newRig(t testing.TB, yamlItem string, now time.Time, opts ...func(*connectors.Env)) *rig {
	t.Helper()
	cfg, err := config.ParseWith("wechat.yaml", []byte(testkit.ConnectorFile(yamlItem)), connectors.Global.Validate)
	require.NoError(t, err)
	r := &rig{stats: &connectors.Stats{}, clock: testkit.NewClock(now)}
	var n atomic.Int64
	env := connectors.Env{
		Publish: func(_ context.Context, env draft.Envelope) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.refuse != nil {
				return r.refuse
			}
			r.published = append(r.published, env)
			return nil
		},
		Stats:    r.stats,
		Now:      r.clock.Now,
		Location: shanghai,
		NewID:    func() string { return fmt.Sprint("env-", n.Add(1)) },
	}
	for _, o := range opts {
		o(&env)
	}
	conn, _, err := connectors.Global.Build(cfg.File, cfg.Connectors[0], env)
	require.NoError(t, err)
	r.conn = conn
	srv := httptest.NewServer(conn.(http.Handler))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/wechat/" + cfg.Connectors[0].Name
	return r
}

func (r *rig) envelopes() []draft.Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]draft.Envelope(nil), r.published...)
}

// call sends a callback and returns the status and body.
func (r *rig) call(t *testing.T, method string, query url.Values, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.url+"?"+query.Encode(), strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func normalizeOne(t *testing.T, conn connectors.Connector, env draft.Envelope) draft.Draft {
	t.Helper()
	drafts, err := conn.Normalizer().Normalize(env)
	require.NoError(t, err)
	require.Len(t, drafts, 1)
	return drafts[0]
}

// Tencent's sample vectors for WeCom (企业微信 加解密方案说明, and the WXBizMsgCrypt SDK samples).
const (
	wecomToken  = "QDG6eK"
	wecomCorpID = "wx5823bf96d3bd56c7"
	wecomAESKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	// VerifyURL
	wecomVerifySig  = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
	wecomVerifyTS   = "1409659589"
	wecomVerifyNone = "263014780"
	wecomVerifyEcho = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
	wecomVerifyText = "1616140317555161061"
	// DecryptMsg
	wecomMsgSig   = "477715d11cdb4164915debcba66cb864d751f3e6"
	wecomMsgTS    = "1409659813"
	wecomMsgNonce = "1372623149"
	wecomMsgBody  = `<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>`
	wecomMsgPlain = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>"
)

// Tencent's sample vectors for official accounts (公众平台 消息加解密 sample code: the Python
// sample's message, the Java SDK test's encryption).
const (
	oaToken   = "spamtest"
	oaAppID   = "wx2c2769f8efd9abc2"
	oaAESKey  = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	oaTS      = "1409735669"
	oaNonce   = "1320562132"
	oaMsgSig  = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
	oaEncrypt = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
	oaBody    = `<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[` + oaEncrypt + `]]></Encrypt></xml>`
	oaPlain   = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>"

	javaAppID     = "wxb11529c136998cb6"
	javaRandom    = "aaaabbbbccccdddd"
	javaReply     = "我是中文abcd123"
	javaEncrypted = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
	javaReply2    = `<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>`
	javaEnc2      = "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
)

func unix(ts string) time.Time {
	var sec int64
	fmt.Sscan(ts, &sec)
	return time.Unix(sec, 0)
}

func wecomRig(t *testing.T, now time.Time) *rig {
	t.Setenv("T_WECOM_TOKEN", wecomToken)
	t.Setenv("T_WECOM_AES_KEY", wecomAESKey)
	return newRig(t, "name: wecom\ntype: wechat.work\ncorp_id: "+wecomCorpID+"\ntoken: ${T_WECOM_TOKEN}\nencoding_aes_key: ${T_WECOM_AES_KEY}\n", now)
}

func oaRig(t testing.TB, now time.Time, extra string, opts ...func(*connectors.Env)) *rig {
	t.Setenv("T_WX_TOKEN", oaToken)
	t.Setenv("T_WX_AES_KEY", oaAESKey)
	return newRig(t, "name: gzh\ntype: wechat.officialaccount\napp_id: "+oaAppID+"\ntoken: ${T_WX_TOKEN}\nencoding_aes_key: ${T_WX_AES_KEY}\n"+extra, now, opts...)
}

func TestWeComSampleVectors(t *testing.T) {
	t.Run("URL check", func(t *testing.T) {
		r := wecomRig(t, unix(wecomVerifyTS).Add(3*time.Second))
		status, body := r.call(t, http.MethodGet, url.Values{"msg_signature": {wecomVerifySig}, "timestamp": {wecomVerifyTS},
			"nonce": {wecomVerifyNone}, "echostr": {wecomVerifyEcho}}, "")
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, wecomVerifyText, body, "the echostr, decrypted")
		assert.Empty(t, r.envelopes())

		status, _ = r.call(t, http.MethodGet, url.Values{"msg_signature": {strings.Replace(wecomVerifySig, "5c", "5d", 1)},
			"timestamp": {wecomVerifyTS}, "nonce": {wecomVerifyNone}, "echostr": {wecomVerifyEcho}}, "")
		assert.Equal(t, http.StatusUnauthorized, status)
	})
	t.Run("message", func(t *testing.T) {
		r := wecomRig(t, unix(wecomMsgTS).Add(time.Second))
		status, body := r.call(t, http.MethodPost, url.Values{"msg_signature": {wecomMsgSig}, "timestamp": {wecomMsgTS}, "nonce": {wecomMsgNonce}}, wecomMsgBody)
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, "success", body)
		envs := r.envelopes()
		require.Len(t, envs, 1)
		assert.Equal(t, wecomMsgPlain, string(envs[0].Payload), "the documented plaintext")
		assert.Equal(t, "msg/4561255354251345929", envs[0].DedupKey)
		assert.Equal(t, wechat.EnvelopeMessage, envs[0].Type)

		d := normalizeOne(t, r.conn, envs[0])
		assert.Equal(t, "mycreate", d.Customer.WecomUserID)
		assert.Equal(t, "hello", d.Description)
		assert.Equal(t, "hello", d.Title)
		assert.Equal(t, "wecom/msg/4561255354251345929", d.DedupKey)
		assert.Equal(t, "wecom:wecom:mycreate", d.ThreadKey)
		assert.Equal(t, draft.Window(30*time.Minute), d.ThreadWindow)
		assert.Equal(t, draft.Source{Connector: "wecom", Type: "wechat.work", Kind: "text", ExternalID: "4561255354251345929"}, d.Source)
		assert.True(t, d.OccurredAt.Equal(unix(wecomMsgTS)))
	})
}

func TestOfficialAccountSampleVectors(t *testing.T) {
	t.Run("crypto", func(t *testing.T) {
		enc, err := util.EncryptMsg([]byte(javaRandom), []byte(javaReply), javaAppID, oaAESKey)
		require.NoError(t, err)
		assert.Equal(t, javaEncrypted, string(enc))
		_, plain, err := util.DecryptMsg(javaAppID, javaEnc2, oaAESKey)
		require.NoError(t, err)
		assert.Equal(t, javaReply2, string(plain))
	})
	t.Run("safe mode message", func(t *testing.T) {
		r := oaRig(t, unix(oaTS).Add(-2*time.Minute), "")
		q := url.Values{"signature": {util.Signature(oaToken, oaTS, oaNonce)}, "timestamp": {oaTS}, "nonce": {oaNonce},
			"openid": {"oyORnuP8q7ou2gfYjqLzSIWZf0rs"}, "encrypt_type": {"aes"}, "msg_signature": {oaMsgSig}}
		status, body := r.call(t, http.MethodPost, q, oaBody)
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, "success", body)
		envs := r.envelopes()
		require.Len(t, envs, 1)
		assert.Equal(t, oaPlain, string(envs[0].Payload), "the documented plaintext")
		d := normalizeOne(t, r.conn, envs[0])
		assert.Equal(t, "oyORnuP8q7ou2gfYjqLzSIWZf0rs", d.Customer.WechatOpenID)
		assert.Equal(t, "abcdteT", d.Description)
		assert.Equal(t, "gzh/msg/6054768590064713728", d.DedupKey)
		assert.Equal(t, "wechat:gzh:oyORnuP8q7ou2gfYjqLzSIWZf0rs", d.ThreadKey)

		// WeChat's retry of the same callback: answered success again, not published again
		// (and had it been, its MsgId would make no second ticket).
		status, body = r.call(t, http.MethodPost, q, oaBody)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "success", body)
		assert.Len(t, r.envelopes(), 1)

		// The same signed URL with another message (plain mode's signature does not cover
		// it; here msg_signature would not match either): refused.
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		status, _ = r.call(t, http.MethodPost, q2, strings.Replace(oaBody, "<Encrypt>", "<Extra>x</Extra><Encrypt>", 1))
		assert.Equal(t, http.StatusOK, status, "the same Encrypt: the same message")
	})
	t.Run("Java SDK's video message", func(t *testing.T) {
		t.Setenv("T_WX_TOKEN", "pamtest")
		t.Setenv("T_WX_AES_KEY", oaAESKey)
		now := time.Unix(1409304348, 0)
		r := newRig(t, "name: gzh\ntype: wechat.officialaccount\napp_id: "+javaAppID+"\ntoken: ${T_WX_TOKEN}\nencoding_aes_key: ${T_WX_AES_KEY}\n", now)
		ts, nonce := "1409304348", "xxxxxx"
		q := url.Values{"signature": {util.Signature("pamtest", ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
			"encrypt_type": {"aes"}, "msg_signature": {util.Signature("pamtest", ts, nonce, javaEnc2)}}
		status, body := r.call(t, http.MethodPost, q, "<xml><ToUserName><![CDATA[toUser]]></ToUserName><Encrypt><![CDATA["+javaEnc2+"]]></Encrypt></xml>")
		require.Equal(t, http.StatusOK, status, body)
		envs := r.envelopes()
		require.Len(t, envs, 1)
		assert.Equal(t, javaReply2, string(envs[0].Payload))
		d := normalizeOne(t, r.conn, envs[0])
		assert.Equal(t, "[视频]", d.Title)
		assert.Empty(t, d.Attachments, "the sample is a reply: its MediaId sits in <Video>, where a received video has none")
		assert.Equal(t, "event/gh_7f083739789a/1407743423//", envs[0].DedupKey, "no MsgId: sender, time and kind")
	})
	t.Run("URL check", func(t *testing.T) {
		r := oaRig(t, unix(oaTS), "")
		q := url.Values{"signature": {util.Signature(oaToken, oaTS, oaNonce)}, "timestamp": {oaTS}, "nonce": {oaNonce}, "echostr": {"5838479218127813673"}}
		status, body := r.call(t, http.MethodGet, q, "")
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "5838479218127813673", body)
		q.Set("signature", util.Signature("another-token", oaTS, oaNonce))
		status, _ = r.call(t, http.MethodGet, q, "")
		assert.Equal(t, http.StatusUnauthorized, status)
	})
}

// encrypted makes an official account callback in safe mode for plain, signed with token.
func encrypted(t testing.TB, token, appID, ts, plain string) (url.Values, string) {
	t.Helper()
	enc, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(plain), appID, oaAESKey)
	require.NoError(t, err)
	nonce := fmt.Sprint(nonces.Add(1)) // WeChat's nonces differ from callback to callback
	return url.Values{"signature": {util.Signature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
			"encrypt_type": {"aes"}, "msg_signature": {util.Signature(token, ts, nonce, string(enc))}},
		"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[" + string(enc) + "]]></Encrypt></xml>"
}

var nonces atomic.Int64

func textMessage(from, content string, msgID int64, at time.Time) string {
	return fmt.Sprintf("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>",
		from, at.Unix(), content, msgID)
}

func TestBadCallbacksAreRefusedAndCounted(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	ts := fmt.Sprint(now.Unix())
	good := textMessage("o1", "空调不制冷", 1001, now)
	type tc struct {
		name   string
		method string
		req    func() (url.Values, string)
		status int
		reason string
	}
	tests := []tc{
		{"wrong token", http.MethodPost, func() (url.Values, string) { return encrypted(t, "other-token", oaAppID, ts, good) }, 401, "bad_signature"},
		{"message swapped under a valid URL signature", http.MethodPost, func() (url.Values, string) {
			q, _ := encrypted(t, oaToken, oaAppID, ts, good)
			_, body := encrypted(t, oaToken, oaAppID, ts, textMessage("o1", "别的内容", 1002, now))
			return q, body
		}, 401, "bad_signature"},
		{"missing msg_signature", http.MethodPost, func() (url.Values, string) {
			q, body := encrypted(t, oaToken, oaAppID, ts, good)
			q.Del("msg_signature")
			return q, body
		}, 401, "bad_signature"},
		{"stale timestamp", http.MethodPost, func() (url.Values, string) {
			return encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Add(-6*time.Minute).Unix()), good)
		}, 401, "stale_timestamp"},
		{"for another AppID", http.MethodPost, func() (url.Values, string) { return encrypted(t, oaToken, "wx00000000000000000", ts, good) }, 401, "decrypt_failed"},
		{"plain message in safe mode", http.MethodPost, func() (url.Values, string) {
			q := url.Values{"signature": {util.Signature(oaToken, ts, "7")}, "timestamp": {ts}, "nonce": {"7"}}
			return q, good
		}, 401, "plain_in_safe_mode"},
		{"broken outer XML", http.MethodPost, func() (url.Values, string) {
			q, body := encrypted(t, oaToken, oaAppID, ts, good)
			return q, body[:len(body)-9]
		}, 400, "malformed_xml"},
		{"broken message XML", http.MethodPost, func() (url.Values, string) {
			return encrypted(t, oaToken, oaAppID, ts, "<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType><Content>a")
		}, 400, "malformed_xml"},
		{"no sender", http.MethodPost, func() (url.Values, string) {
			return encrypted(t, oaToken, oaAppID, ts, "<xml><MsgType>text</MsgType><Content>a</Content></xml>")
		}, 400, "malformed_xml"},
		{"body too large", http.MethodPost, func() (url.Values, string) {
			return encrypted(t, oaToken, oaAppID, ts, textMessage("o1", strings.Repeat("长", 30000), 1003, now))
		}, 413, "too_large"},
		{"URL check without echostr", http.MethodGet, func() (url.Values, string) {
			return url.Values{"signature": {util.Signature(oaToken, ts, "1")}, "timestamp": {ts}, "nonce": {"1"}}, ""
		}, 400, "missing_echostr"},
	}
	r := oaRig(t, now, "")
	for i, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			q, body := c.req()
			status, answer := r.call(t, c.method, q, body)
			assert.Equal(t, c.status, status, answer)
			assert.Contains(t, answer, `"status":`, "problem+json")
			assert.NotContains(t, answer, oaToken)
			assert.NotContains(t, answer, oaAESKey)
			assert.Equal(t, int64(i+1), r.stats.Rejected.Load(), "counted")
			refused := r.conn.(connectors.Detailer).Details().(wechat.Status).Refused
			assert.Positive(t, refused[c.reason], "counted under %s: %v", c.reason, refused)
		})
	}
	assert.Empty(t, r.envelopes(), "nothing refused is stored")

	status, _ := r.call(t, http.MethodPut, nil, "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)

	// And the good one goes through, to show the cases above failed for their own reason.
	q, body := encrypted(t, oaToken, oaAppID, ts, good)
	status, answer := r.call(t, http.MethodPost, q, body)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "success", answer)
	assert.Len(t, r.envelopes(), 1)
}

func TestABusThatRefusesGetsWeChatToRetry(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(t, now, "")
	r.refuse = errors.New("bus down")
	q, body := encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Unix()), textMessage("o1", "电梯困人", 2001, now))
	status, answer := r.call(t, http.MethodPost, q, body)
	assert.Equal(t, http.StatusServiceUnavailable, status, "not success: WeChat sends it again")
	assert.NotEqual(t, "success", answer)
	r.refuse = nil
	status, answer = r.call(t, http.MethodPost, q, body)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "success", answer)
}

func TestPlainAndCompatibleModes(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	ts := fmt.Sprint(now.Unix())
	plainQuery := url.Values{"signature": {util.Signature(oaToken, ts, "9")}, "timestamp": {ts}, "nonce": {"9"}}

	t.Setenv("T_WX_TOKEN", oaToken)
	plain := newRig(t, "name: gzh\ntype: wechat.officialaccount\napp_id: "+oaAppID+"\ntoken: ${T_WX_TOKEN}\n", now)
	status, answer := plain.call(t, http.MethodPost, plainQuery, textMessage("o1", "水管漏水", 3001, now))
	assert.Equal(t, http.StatusOK, status, answer)
	q, body := encrypted(t, oaToken, oaAppID, ts, textMessage("o1", "水管漏水", 3002, now))
	status, _ = plain.call(t, http.MethodPost, q, body)
	assert.Equal(t, http.StatusUnauthorized, status, "no key to decrypt with")

	compat := oaRig(t, now, "mode: compatible\n")
	status, _ = compat.call(t, http.MethodPost, plainQuery, textMessage("o1", "水管漏水", 3003, now))
	assert.Equal(t, http.StatusOK, status)
	status, _ = compat.call(t, http.MethodPost, q, body)
	assert.Equal(t, http.StatusOK, status)
	require.Len(t, compat.envelopes(), 2)

	_, err := config.ParseWith("wechat.yaml", []byte(testkit.ConnectorFile("name: gzh\ntype: wechat.officialaccount\napp_id: "+oaAppID+"\ntoken: ${T_WX_TOKEN}\nmode: safe\n")), connectors.Global.Validate)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wechat.yaml:")
	assert.Contains(t, err.Error(), "encoding_aes_key")
}

func TestConfigErrors(t *testing.T) {
	t.Setenv("T_SHORT_KEY", "abc")
	_, err := config.ParseWith("wechat.yaml", []byte(testkit.ConnectorFile("name: gzh\ntype: wechat.officialaccount\napp_id: nope\ntoken: t\nencoding_aes_key: ${T_SHORT_KEY}\n")), connectors.Global.Validate)
	require.Error(t, err)
	for _, want := range []string{"wechat.yaml:4", "app_id", "wechat.yaml:5", "token", "wechat.yaml:6", "encoding_aes_key", "43 characters"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "abc\"", "the secret is not printed")
	_, err = config.ParseWith("wechat.yaml", []byte(testkit.ConnectorFile("name: w\ntype: wechat.work\ntoken: abcdef\n")), connectors.Global.Validate)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "corp_id")
	assert.Contains(t, err.Error(), "encoding_aes_key")
}

func TestDetails(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(t, now, "")
	ts := fmt.Sprint(now.Unix())
	for i, m := range []string{
		textMessage("o1", "你好", 1, now),
		"<xml><ToUserName>gh_1</ToUserName><FromUserName>o2</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>",
	} {
		q, body := encrypted(t, oaToken, oaAppID, ts, m)
		status, _ := r.call(t, http.MethodPost, q, body)
		require.Equal(t, http.StatusOK, status, i)
	}
	b, err := json.Marshal(r.conn.(connectors.Detailer).Details())
	require.NoError(t, err)
	assert.JSONEq(t, `{"mode":"safe","url_checks":0,"received_by_kind":{"text":1,"event.subscribe":1},"refused_by_reason":{},"thread_window":"30m0s"}`, string(b))
	assert.NotContains(t, string(b), oaToken)
}

func buildNormalizer(tb testing.TB) draft.Normalizer {
	cfg, err := config.ParseWith("wechat.yaml", []byte(testkit.ConnectorFile("name: gzh\ntype: wechat.officialaccount\napp_id: "+oaAppID+"\ntoken: ${T_WX_TOKEN}\nencoding_aes_key: ${T_WX_AES_KEY}\n")), connectors.Global.Validate)
	require.NoError(tb, err)
	conn, _, err := connectors.Global.Build(cfg.File, cfg.Connectors[0], connectors.Env{})
	require.NoError(tb, err)
	return conn.Normalizer()
}

// TestAPlainModeSignatureCannotBeReplayedWithAnotherMessage: in plain mode the signature
// covers the timestamp and nonce only; a signed URL seen once (in a proxy's log) must not
// carry a message of someone else's making, while WeChat's retry of the real one is
// answered success and not taken twice.
func TestAPlainModeSignatureCannotBeReplayedWithAnotherMessage(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	ts := fmt.Sprint(now.Unix())
	t.Setenv("T_WX_TOKEN", oaToken)
	r := newRig(t, "name: gzh\ntype: wechat.officialaccount\napp_id: "+oaAppID+"\ntoken: ${T_WX_TOKEN}\n", now)
	q := url.Values{"signature": {util.Signature(oaToken, ts, "777")}, "timestamp": {ts}, "nonce": {"777"}}
	real := textMessage("oWang", "水管漏水", 5001, now)
	status, answer := r.call(t, http.MethodPost, q, real)
	require.Equal(t, http.StatusOK, status, answer)
	status, answer = r.call(t, http.MethodPost, q, real)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "success", answer, "WeChat's retry")
	status, answer = r.call(t, http.MethodPost, q, textMessage("oMallory", "<a forged request>", 5002, now))
	assert.Equal(t, http.StatusUnauthorized, status, answer)
	assert.Contains(t, answer, "replay")
	assert.Len(t, r.envelopes(), 1)
	assert.Equal(t, int64(1), r.conn.(connectors.Detailer).Details().(wechat.Status).Refused["replayed"])
}

// TestCallbacksAreRememberedForTheirWindowOnly: what replays are checked against is forgotten
// once out of the timestamp window, so memory and the cost of a callback stay flat.
func TestCallbacksAreRememberedForTheirWindowOnly(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(t, now, "")
	send := func(at time.Time, id int64) {
		q, body := encrypted(t, oaToken, oaAppID, fmt.Sprint(at.Unix()), textMessage("o1", "漏水", id, at))
		status, answer := r.call(t, http.MethodPost, q, body)
		require.Equal(t, http.StatusOK, status, answer)
	}
	for i := range 5 {
		send(now, int64(100+i))
	}
	oa := r.conn.(*wechat.OfficialAccount)
	assert.Equal(t, 5, oa.Remembered())
	later := now.Add(11 * time.Minute) // past twice the 300 s skew
	r.clock.Set(later)
	send(later, 200)
	assert.Equal(t, 1, oa.Remembered(), "the five of eleven minutes ago are forgotten")
}

// A callback whose timestamp is ahead of the clock (by up to the skew) is taken, and its
// timestamp stays within the skew until twice the skew after: remembered only for the skew, as
// it was, a replay six minutes later was taken again.
func TestAReplayWithinTwiceTheSkewIsCaught(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(t, now, "")
	ts := fmt.Sprint(now.Add(4 * time.Minute).Unix()) // a clock four minutes ahead
	q, body := encrypted(t, oaToken, oaAppID, ts, textMessage("o1", "漏水", 300, now))
	status, answer := r.call(t, http.MethodPost, q, body)
	require.Equal(t, http.StatusOK, status, answer)
	r.clock.Set(now.Add(6 * time.Minute)) // the timestamp is two minutes behind: within the skew
	status, answer = r.call(t, http.MethodPost, q, body)
	assert.Equal(t, http.StatusOK, status, answer)
	assert.Equal(t, "success", answer)
	assert.Len(t, r.envelopes(), 1, "the replay was not taken again")
}

// Identical callbacks at once (WeChat retrying while the first copy is still being stored):
// one is published, and every copy is answered success once it is stored: WeChat takes any
// other answer as a failure and may stop retrying.
func TestConcurrentIdenticalCallbacksTakeOne(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	release := make(chan struct{})
	var publishing atomic.Int64
	r := oaRig(t, now, "", func(env *connectors.Env) {
		publish := env.Publish
		env.Publish = func(ctx context.Context, e draft.Envelope) error {
			publishing.Add(1)
			<-release // the first copy is stored slowly; the others arrive meanwhile
			return publish(ctx, e)
		}
	})
	q, body := encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Unix()), textMessage("oWang", "水管漏水", 5001, now))
	const copies = 8
	var wg sync.WaitGroup
	statuses := make([]int, copies)
	answers := make([]string, copies)
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], answers[i] = r.call(t, http.MethodPost, q, body)
		}()
	}
	require.Eventually(t, func() bool { return r.stats.Received.Load() == copies }, 30*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.Equal(t, int64(1), publishing.Load(), "one copy reached Publish")
	assert.Len(t, r.envelopes(), 1)
	for i := range copies {
		assert.Equal(t, http.StatusOK, statuses[i], "copy %d: %s", i, answers[i])
		assert.Equal(t, "success", answers[i], "copy %d", i)
	}
}

// A copy that arrives while the first is being stored waits for its outcome: when the first
// is not stored after all, the waiting copy is taken in its place, so the message is not lost
// to a "success" answered for a copy that failed.
func TestARetryIsTakenWhenTheFirstCopyFails(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	release := make(chan struct{})
	var publishing atomic.Int64
	r := oaRig(t, now, "", func(env *connectors.Env) {
		publish := env.Publish
		env.Publish = func(ctx context.Context, e draft.Envelope) error {
			if publishing.Add(1) == 1 {
				<-release
				return errors.New("bus: no space left on device")
			}
			return publish(ctx, e)
		}
	})
	q, body := encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Unix()), textMessage("oWang", "水管漏水", 5002, now))
	first := make(chan int, 1)
	go func() { st, _ := r.call(t, http.MethodPost, q, body); first <- st }()
	require.Eventually(t, func() bool { return publishing.Load() == 1 }, 30*time.Second, time.Millisecond)
	retried := make(chan [2]string, 1)
	go func() { st, a := r.call(t, http.MethodPost, q, body); retried <- [2]string{fmt.Sprint(st), a} }()
	require.Eventually(t, func() bool { return r.stats.Received.Load() == 2 }, 30*time.Second, time.Millisecond)
	close(release)
	assert.Equal(t, http.StatusServiceUnavailable, <-first, "the first copy was not stored")
	got := <-retried
	assert.Equal(t, [2]string{"200", "success"}, got, "the retry was taken in its place")
	assert.Len(t, r.envelopes(), 1)
}

// A callback whose publish failed was not taken: WeChat's retry of it must be, not answered
// success as a replay of it (the message would be lost).
func TestACallbackNotStoredIsTakenOnItsRetry(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(t, now, "")
	q, body := encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Unix()), textMessage("oWang", "水管漏水", 5001, now))
	r.mu.Lock()
	r.refuse = errors.New("bus: no space left on device")
	r.mu.Unlock()
	status, answer := r.call(t, http.MethodPost, q, body)
	require.Equal(t, http.StatusServiceUnavailable, status, answer)
	require.Empty(t, r.envelopes())
	r.mu.Lock()
	r.refuse = nil
	r.mu.Unlock()
	status, answer = r.call(t, http.MethodPost, q, body)
	assert.Equal(t, http.StatusOK, status, answer)
	assert.Equal(t, "success", answer)
	assert.Len(t, r.envelopes(), 1, "the retry was taken")
	status, _ = r.call(t, http.MethodPost, q, body)
	assert.Equal(t, http.StatusOK, status)
	assert.Len(t, r.envelopes(), 1, "and is remembered once taken")
}

// Once the memory is full within its window, a new callback is refused (503, WeChat retries)
// rather than taken without being remembered, which left it open to replays.
func TestAFullReplayMemoryRefuses(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(t, now, "")
	r.conn.(*wechat.OfficialAccount).LimitRemembered(2)
	for i := range 3 {
		q, body := encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Unix()), textMessage("o1", "漏水", int64(400+i), now))
		status, answer := r.call(t, http.MethodPost, q, body)
		if i < 2 {
			require.Equal(t, http.StatusOK, status, answer)
			continue
		}
		assert.Equal(t, http.StatusServiceUnavailable, status, answer)
		assert.Contains(t, answer, "remember against replays")
	}
	assert.Len(t, r.envelopes(), 2)
	assert.Equal(t, int64(1), r.conn.(connectors.Detailer).Details().(wechat.Status).Refused["replay_memory_full"])
}
