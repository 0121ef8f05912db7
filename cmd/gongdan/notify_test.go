package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/silenceper/wechat/v2/util"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	_ "gongdan/connectors/all"
	"gongdan/connectors/wechat/wechattest"
	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/internal/cloudsign"
)

// TestNotificationsReachWeChatAndWeCom: a customer writes to the official account; the
// ticket is routed to 李工, who gets a WeCom app message with the ticket; when he accepts and
// resolves it, the customer is told on the account, the last time with the confirm link. The
// WeChat API is a fake (the library's client redirected); nothing reaches the internet.
func TestNotificationsReachWeChatAndWeCom(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole stack")
	}
	api := wechattest.Start(t)
	const (
		token  = "notifytoken"
		appID  = "wx2c2769f8efd9abc2"
		aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
		openID = "oNotify0001"
	)
	dir := t.TempDir()
	cfg, err := config.ParseWith("notify.yaml", []byte(`
server:
  http: 127.0.0.1:0
  tokens:
    - {token: test-admin-token-0123456789, actor: admin-1, role: admin}
    - {token: test-eng-li-token-0123456789, actor: eng-li, role: engineer}
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
connectors:
  - {name: gzh, type: wechat.officialaccount, app_id: `+appID+`, app_secret: app-secret-0123456, token: `+token+`, encoding_aes_key: `+aesKey+`}
  - {name: wecom, type: wechat.work, corp_id: ww5823bf96d3bd56c7, agent_id: 1000002, corp_secret: corp-secret-0123456, token: `+token+`, encoding_aes_key: `+aesKey+`}
routing:
  engineers:
    - {id: eng-li, name: 李工, home: {lat: 31.30, lon: 120.62}, radius_km: 30, max_open: 5}
  teams:
    - {id: suzhou-a, lead: sup-wang, members: [eng-li]}
  rules:
    - {id: all, route_to: {team: suzhou-a}}
notify:
  customers: {confirm_url: "https://service.example.com/confirm/{id}"}
  wecom: {connector: wecom, users: {eng-li: LiGong}}
`), connectors.Global.Validate)
	require.NoError(t, err)
	cfg.ResolvePaths(dir)
	ctx := context.Background()
	st, err := openStack(ctx, cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	defer st.close(context.Background())
	require.NoError(t, st.start(ctx))
	srv := httptest.NewServer(st.api)
	defer srv.Close()

	ts := strconv.FormatInt(time.Now().Unix(), 10)
	plain := "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[" + openID + "]]></FromUserName><CreateTime>" + ts +
		"</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[3号楼空调不制冷，电话13812345678]]></Content><MsgId>9001</MsgId></xml>"
	enc, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(plain), appID, aesKey)
	require.NoError(t, err)
	q := url.Values{"signature": {util.Signature(token, ts, "1")}, "timestamp": {ts}, "nonce": {"1"},
		"encrypt_type": {"aes"}, "msg_signature": {util.Signature(token, ts, "1", string(enc))}}
	status, body, err := call("POST", srv.URL+"/wechat/gzh?"+q.Encode(), "", "<xml><Encrypt><![CDATA["+string(enc)+"]]></Encrypt></xml>")
	require.NoError(t, err)
	require.Equal(t, 200, status, string(body))

	var tk ticket.Ticket
	require.Eventually(t, func() bool {
		st, b, err := call("GET", srv.URL+"/api/v1/tickets", "test-admin-token-0123456789", "")
		var page struct{ Tickets []ticket.Ticket }
		if err != nil || st != 200 || json.Unmarshal(b, &page) != nil || len(page.Tickets) != 1 {
			return false
		}
		tk = page.Tickets[0]
		return tk.Assignee == "eng-li"
	}, time.Minute, 20*time.Millisecond, "the ticket is routed to eng-li")

	waitSent := func(n int) []wechattest.Sent {
		t.Helper()
		require.Eventually(t, func() bool { return len(api.Sent()) >= n }, time.Minute, 20*time.Millisecond, "%d messages sent; have %v", n, api.Sent())
		return api.Sent()
	}
	sent := waitSent(1)
	assert.Equal(t, "app", sent[0].API)
	assert.Equal(t, "LiGong", sent[0].To, "the engineer, by WeCom UserID")
	assert.Equal(t, "1000002", sent[0].AgentID)
	assert.Contains(t, sent[0].Content, "【新工单】"+tk.ID)
	assert.Contains(t, sent[0].Content, "13812345678")

	const li = "test-eng-li-token-0123456789"
	for _, action := range []string{"accept", "start", "resolve"} {
		data := `{}`
		if action == "resolve" {
			data = `{"data": {"root_cause": "冷媒不足，已补充"}}`
		}
		st, b, err := call("POST", srv.URL+"/api/v1/tickets/"+tk.ID+"/actions/"+action, li, data)
		require.NoError(t, err)
		require.Equal(t, 200, st, "%s: %s", action, b)
	}
	sent = waitSent(3)
	assert.Equal(t, wechattest.Sent{API: "custom", To: openID, Content: "您的报修 " + tk.ID + "（3号楼空调不制冷，电话13812345678）已由李工受理，工程师会尽快与您联系。"}, sent[1])
	assert.Equal(t, "custom", sent[2].API)
	assert.Equal(t, openID, sent[2].To)
	assert.True(t, strings.HasSuffix(sent[2].Content, "https://service.example.com/confirm/"+tk.ID), sent[2].Content)
	assert.Equal(t, 2, api.Fetches(), "one access token per app, cached")
	assert.Len(t, api.Sent(), 3, "nothing more: start is not told")
}

type staffRecorder struct {
	mu   sync.Mutex
	sent []string
}

func (r *staffRecorder) SendAppText(_ context.Context, users []string, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, strings.Join(users, "|")+": "+text)
	return nil
}

func (r *staffRecorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...)
}

// A red card has no event of its own: the engine's notification goes to the lead by WeCom;
// the notifications that have events (routing failures, SLA) are left to the notify consumer.
func TestARedCardReachesTheLead(t *testing.T) {
	rec := &staffRecorder{}
	s := &stack{log: slog.New(slog.DiscardHandler), staff: rec, staffUsers: map[string]string{"sup-wang": "WangJL"}}
	s.engineNotification(engine.Notification{Kind: "routing_failed", To: "sup-wang", TicketID: "GD-1", Detail: "all_over_cap"})
	s.engineNotification(engine.Notification{Kind: "red_card", To: "sup-wang", Engineer: "eng-li", Detail: "eng-li was rated 1 by 2 customers in a row"})
	require.Eventually(t, func() bool { return len(rec.got()) > 0 }, time.Minute, 10*time.Millisecond)
	assert.Equal(t, []string{"WangJL: 【红牌】eng-li was rated 1 by 2 customers in a row"}, rec.got())
}

// TestCustomersWithoutWeChatAreToldBySMS: a ticket made through the API has no WeChat to
// answer on; the customer is told by SMS (a fake of Tencent's SendSms that checks the
// signature), and the ledger under the data directory keeps each delivery.
func TestCustomersWithoutWeChatAreToldBySMS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole stack")
	}
	var (
		mu    sync.Mutex
		calls []map[string]any
	)
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
		var req map[string]any
		if json.Unmarshal(body, &req) != nil || r.Header.Get("Authorization") != cloudsign.TencentTC3Authorization("AKIDstack", "stack-sms-key", "sms", r.Host, r.Header.Get("Content-Type"), ts, body) {
			w.Write([]byte(`{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad"},"RequestId":"r"}}`))
			return
		}
		mu.Lock()
		calls = append(calls, req)
		mu.Unlock()
		w.Write([]byte(`{"Response":{"SendStatusSet":[{"SerialNo":"5000:1","PhoneNumber":"+8613812345678","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"r"}}`))
	}))
	defer vendor.Close()
	taken := func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]any(nil), calls...)
	}

	dir := t.TempDir()
	cfg, err := config.ParseWith("notify.yaml", []byte(`
server:
  http: 127.0.0.1:0
  public_url: https://gd.example.com
  tokens:
    - {token: test-admin-token-0123456789, actor: admin-1, role: admin}
    - {token: test-eng-li-token-0123456789, actor: eng-li, role: engineer}
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
routing:
  engineers:
    - {id: eng-li, name: 李工, home: {lat: 31.30, lon: 120.62}, radius_km: 30, max_open: 5}
  teams:
    - {id: suzhou-a, lead: sup-wang, members: [eng-li]}
  rules:
    - {id: all, route_to: {team: suzhou-a}}
notify:
  customers: {escalated: false}
  channels:
    order: [wechat, sms]
    sms:
      vendor: tencent
      tencent: {secret_id: AKIDstack, secret_key: stack-sms-key, sdk_app_id: "1400006666", endpoint: "`+vendor.URL+`"}
      sign_name: 苏州服务中心
      templates:
        accepted: {template: "2001", param_set: ["{id}", "{engineer}"]}
        resolved: {template: "2002", param_set: ["{id}", "{tracking_url}"]}
`), connectors.Global.Validate)
	require.NoError(t, err)
	cfg.ResolvePaths(dir)
	ctx := context.Background()
	st, err := openStack(ctx, cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	defer st.close(context.Background())
	require.NoError(t, st.start(ctx))
	srv := httptest.NewServer(st.api)
	defer srv.Close()

	status, body, err := call("POST", srv.URL+"/api/v1/tickets", "test-admin-token-0123456789",
		`{"title": "空调不制冷", "customer": {"name": "王先生", "phone": "138 1234 5678"}}`)
	require.NoError(t, err)
	require.Equal(t, 201, status, string(body))
	var tk ticket.Ticket
	require.NoError(t, json.Unmarshal(body, &tk))
	require.Eventually(t, func() bool {
		_, b, err := call("GET", srv.URL+"/api/v1/tickets/"+tk.ID, "test-admin-token-0123456789", "")
		return err == nil && json.Unmarshal(b, &tk) == nil && tk.Assignee == "eng-li"
	}, time.Minute, 20*time.Millisecond, "routed")
	for _, action := range []string{"accept", "start", "resolve"} {
		data := `{}`
		if action == "resolve" {
			data = `{"data": {"root_cause": "冷媒不足，已补充"}}`
		}
		status, b, err := call("POST", srv.URL+"/api/v1/tickets/"+tk.ID+"/actions/"+action, "test-eng-li-token-0123456789", data)
		require.NoError(t, err)
		require.Equal(t, 200, status, "%s: %s", action, b)
	}
	require.Eventually(t, func() bool { return len(taken()) >= 2 }, time.Minute, 20*time.Millisecond, "two SMS")
	got := taken()
	// The consumer takes events as they come, not one after another: in template order.
	slices.SortFunc(got, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["TemplateId"]), fmt.Sprint(b["TemplateId"]))
	})
	assert.Equal(t, "2001", got[0]["TemplateId"])
	assert.Equal(t, []any{"+8613812345678"}, got[0]["PhoneNumberSet"])
	assert.Equal(t, []any{tk.ID, "李工"}, got[0]["TemplateParamSet"])
	assert.Equal(t, "2002", got[1]["TemplateId"])
	// The resolve message links the ticket's own tracking page, the one the desk sees.
	params, _ := got[1]["TemplateParamSet"].([]any)
	require.Len(t, params, 2)
	_, b, err := call("GET", srv.URL+"/api/v1/tickets/"+tk.ID, "test-admin-token-0123456789", "")
	require.NoError(t, err)
	var desk struct {
		TrackingURL string `json:"tracking_url"`
	}
	require.NoError(t, json.Unmarshal(b, &desk))
	assert.True(t, strings.HasPrefix(desk.TrackingURL, "https://gd.example.com/t/"), desk.TrackingURL)
	assert.Equal(t, desk.TrackingURL, params[1])

	ledger, err := os.ReadFile(filepath.Join(dir, "notify", "deliveries.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(ledger), `"channel":"sms","to":"138****5678","ok":true`)
	assert.NotContains(t, string(ledger), "13812345678")
}
