package wechat_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/configs/dictionaries"
	"gongdan/connectors"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/normalize"
)

const guidedConfig = `guided_intake:
  - {ask_for: [customer.phone, location.address]}
  - {category: 电梯故障, ask_for: [customer.phone, location.address, device.id]}
prompts: {device.id: 请发送电梯轿厢内铭牌上的设备编号。}
`

// guidedRig is a safe-mode official account with guided intake and the shipped dictionary,
// as gongdan serve would build it.
func guidedRig(t *testing.T, now time.Time) *rig {
	t.Helper()
	dict, err := normalize.LoadDictionary(bytes.NewReader(dictionaries.Faults))
	require.NoError(t, err)
	return oaRig(t, now, guidedConfig, func(env *connectors.Env) { env.Enricher = normalize.DefaultEnricher(dict) })
}

// say sends one safe-mode text message of customer from and returns the connector's
// answer: "success", or the text of its passive reply, decrypted after checking its
// signature as WeChat does.
func say(t *testing.T, r *rig, from, text string, msgID int64, now time.Time) string {
	t.Helper()
	q, body := encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Unix()), textMessage(from, text, msgID, now))
	status, answer := r.call(t, http.MethodPost, q, body)
	require.Equal(t, http.StatusOK, status, answer)
	if answer == "success" {
		return answer
	}
	var resp message.ResponseEncryptedXMLMsg
	require.NoError(t, xml.Unmarshal([]byte(answer), &resp), answer)
	assert.Equal(t, q.Get("nonce"), resp.Nonce)
	assert.Equal(t, util.Signature(oaToken, fmt.Sprint(resp.Timestamp), resp.Nonce, resp.EncryptedMsg), resp.MsgSignature, "signed as WeChat checks it")
	_, plain, err := util.DecryptMsg(oaAppID, resp.EncryptedMsg, oaAESKey)
	require.NoError(t, err)
	var reply message.Text
	require.NoError(t, xml.Unmarshal(plain, &reply))
	assert.Equal(t, from, string(reply.ToUserName), "to the customer")
	assert.Equal(t, "gh_1", string(reply.FromUserName), "from the account")
	assert.Equal(t, message.MsgTypeText, reply.MsgType)
	return string(reply.Content)
}

func TestGuidedIntakeAsksForWhatIsMissing(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := guidedRig(t, now)

	reply := say(t, r, "oWang", "报修：空调不制冷了", 1, now)
	assert.Equal(t, "您好，已收到您的报修。\n请留下您的联系电话，方便工程师与您联系。\n请告诉我们报修地址（小区或园区、楼栋、门牌号）。", reply)
	reply = say(t, r, "oWang", "13812345678", 2, now)
	assert.Equal(t, "请告诉我们报修地址（小区或园区、楼栋、门牌号）。", reply, "only what is still missing")
	reply = say(t, r, "oWang", "苏州工业园区星湖街328号", 3, now)
	assert.Equal(t, "信息已收到，我们会尽快安排工程师处理，请留意后续通知。", reply)
	assert.Equal(t, "success", say(t, r, "oWang", "谢谢", 4, now), "said once")
	assert.Len(t, r.envelopes(), 4, "every message is taken in")

	// An elevator fault needs the device serial too (its own rule); a message that gives
	// everything at once is only answered success.
	reply = say(t, r, "oLi", "电梯困人了！电话13900001111，苏州工业园区星湖街328号", 5, now)
	assert.Equal(t, "您好，已收到您的报修。\n请发送电梯轿厢内铭牌上的设备编号。", reply)
	assert.Equal(t, "success", say(t, r, "oZhao", "空调漏水，13900002222，苏州市姑苏区人民路100号", 6, now))

	// After the thread window a conversation starts over, as its ticket does.
	later := now.Add(31 * time.Minute)
	r.clock.Set(later)
	reply = say(t, r, "oWang", "空调又坏了", 7, later)
	assert.True(t, strings.HasPrefix(reply, "您好，已收到您的报修。\n请留下您的联系电话"), reply)
}

func TestGuidedIntakeMenuClickAndOtherMessages(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := guidedRig(t, now)
	ts := fmt.Sprint(now.Unix())
	click := "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oZhou]]></FromUserName><CreateTime>" + ts +
		"</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[OTHER]]></EventKey></xml>"
	q, body := encrypted(t, oaToken, oaAppID, ts, click)
	status, answer := r.call(t, http.MethodPost, q, body)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "success", answer, "a click that is not an intake key: no draft, no question")

	// A plain-mode account gets plain replies.
	t.Setenv("T_WX_TOKEN", oaToken)
	cfg, err := config.ParseWith("wechat.yaml", []byte(testkit.ConnectorFile("name: gzh\ntype: wechat.officialaccount\napp_id: "+oaAppID+"\ntoken: ${T_WX_TOKEN}\n"+guidedConfig)), connectors.Global.Validate)
	require.NoError(t, err)
	conn, _, err := connectors.Global.Build(cfg.File, cfg.Connectors[0], connectors.Env{Publish: func(context.Context, draft.Envelope) error { return nil },
		Now: func() time.Time { return now }, Location: shanghai})
	require.NoError(t, err)
	srv := httptest.NewServer(conn.(http.Handler))
	defer srv.Close()
	pq := url.Values{"signature": {util.Signature(oaToken, ts, "5")}, "timestamp": {ts}, "nonce": {"5"}}
	resp, err := http.Post(srv.URL+"/wechat/gzh?"+pq.Encode(), "text/xml", strings.NewReader(textMessage("oQian", "水管爆了", 9, now)))
	require.NoError(t, err)
	defer resp.Body.Close()
	var reply message.Text
	require.NoError(t, xml.NewDecoder(resp.Body).Decode(&reply))
	assert.Equal(t, "oQian", string(reply.ToUserName))
	assert.Contains(t, string(reply.Content), "请留下您的联系电话")
}

func TestGuidedIntakeConfigErrors(t *testing.T) {
	t.Setenv("T_WX_TOKEN", oaToken)
	_, err := config.ParseWith("wechat.yaml", []byte(testkit.ConnectorFile("name: gzh\ntype: wechat.officialaccount\napp_id: "+oaAppID+"\ntoken: ${T_WX_TOKEN}\n"+
		"guided_intake:\n  - {ask_for: [customer.email]}\nprompts: {customer.qq: 请留下QQ号}\n")), connectors.Global.Validate)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wechat.yaml:7")
	assert.Contains(t, err.Error(), "customer.email")
	assert.Contains(t, err.Error(), "wechat.yaml:8")
	assert.Contains(t, err.Error(), "prompts.customer.qq")
}
