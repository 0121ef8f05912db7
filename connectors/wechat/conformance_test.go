package wechat_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"

	"gongdan/connectors/connectortest"
)

// post sends a callback whose query is in the input's headers and reports whether WeChat
// would take it as answered (200 "success"). The body is read before answering, so this
// waits for the whole answer: "success" is the ack.
func post(t *testing.T, target connectortest.Target, in connectortest.Input) bool {
	q := url.Values{}
	for k, v := range in.Headers {
		q.Set(k, v)
	}
	resp, err := target.Client.Post(target.URL+"?"+q.Encode(), "text/xml", strings.NewReader(string(in.Body)))
	if err != nil {
		t.Errorf("POST %s: %v", target.URL, err)
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && string(b) == "success"
}

// sealed encrypts and signs a message as WeChat does, for the connector of receiverID.
func sealed(token, aesKey, receiverID, plain string, officialAccount bool) connectortest.Input {
	enc, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(plain), receiverID, aesKey)
	if err != nil {
		panic(err)
	}
	ts, nonce := fmt.Sprint(time.Now().Unix()), fmt.Sprint(nonces.Add(1))
	h := map[string]string{"timestamp": ts, "nonce": nonce, "msg_signature": util.Signature(token, ts, nonce, string(enc))}
	if officialAccount {
		h["signature"], h["encrypt_type"] = util.Signature(token, ts, nonce), "aes"
	}
	return connectortest.Input{Body: []byte("<xml><ToUserName><![CDATA[" + receiverID + "]]></ToUserName><Encrypt><![CDATA[" + string(enc) + "]]></Encrypt></xml>"), Headers: h}
}

func TestConformance(t *testing.T) {
	text := func(i int, content string) string {
		return fmt.Sprintf("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o-%d]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>",
			i, time.Now().Unix(), content, 7000000000000000000+i)
	}
	t.Run("official account", func(t *testing.T) {
		t.Setenv("CT_WX_TOKEN", oaToken)
		t.Setenv("CT_WX_AES_KEY", oaAESKey)
		seal := func(plain string) connectortest.Input { return sealed(oaToken, oaAESKey, oaAppID, plain, true) }
		rejected := seal(text(0, "电梯困人"))
		rejected.Headers["msg_signature"] = strings.Repeat("0", 40)
		connectortest.Run(t, connectortest.Harness{
			Config:   "name: gzh\ntype: wechat.officialaccount\napp_id: " + oaAppID + "\ntoken: ${CT_WX_TOKEN}\nencoding_aes_key: ${CT_WX_AES_KEY}\n",
			Send:     post,
			Good:     func(i int) connectortest.Input { return seal(text(i, fmt.Sprintf("3号线空调不制冷 %d", i))) },
			Bad:      seal(text(1, "   ")),
			Rejected: &rejected,
		})
	})
	t.Run("wecom app", func(t *testing.T) {
		t.Setenv("CT_WECOM_TOKEN", wecomToken)
		t.Setenv("CT_WECOM_AES_KEY", wecomAESKey)
		seal := func(plain string) connectortest.Input {
			return sealed(wecomToken, wecomAESKey, wecomCorpID, plain, false)
		}
		rejected := sealed(wecomToken, wecomAESKey, "ww0000000000000000", text(0, "x"), false)
		connectortest.Run(t, connectortest.Harness{
			Config:   "name: wecom\ntype: wechat.work\ncorp_id: " + wecomCorpID + "\ntoken: ${CT_WECOM_TOKEN}\nencoding_aes_key: ${CT_WECOM_AES_KEY}\n",
			Send:     post,
			Good:     func(i int) connectortest.Input { return seal(text(i, fmt.Sprintf("会议室投影仪坏了 %d", i))) },
			Bad:      seal(text(1, "\n")),
			Rejected: &rejected,
		})
	})
}
