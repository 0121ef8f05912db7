package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/notify"
)

type sent struct {
	to   string
	text string
}

type fakeSender struct {
	mu   sync.Mutex
	sent []sent
	err  error
}

func (f *fakeSender) TellCustomer(_ context.Context, _ draft.Draft, c draft.Customer, text string) (bool, error) {
	if c.WechatOpenID == "" {
		return false, nil
	}
	return true, f.record(c.WechatOpenID, text)
}

func (f *fakeSender) SendAppText(_ context.Context, users []string, text string) error {
	b, _ := json.Marshal(users)
	return f.record(string(b), text)
}

func (f *fakeSender) record(to, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, sent{to, text})
	return nil
}

type permanent struct{ error }

func (permanent) Permanent() bool { return true }

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

var wechatTicket = ticket.Ticket{
	ID: "GD-20261202-000001", Title: "空调不制冷", Description: "3号楼空调不制冷", State: ticket.StateAssigned,
	Urgency: draft.UrgencyOrange, Category: "空调故障", Assignee: "eng-li", Team: "suzhou-a",
	Customer: draft.Customer{Name: "王先生", Phone: "13812345678", WechatOpenID: "oWang"},
	Location: draft.Location{Address: "苏州工业园区星湖街328号"}, Device: draft.Device{ID: "AC-0042", Model: "KFR-72LW", Firmware: "1.4.2"},
	RepeatOf:    "GD-20261120-000007",
	Suggestions: []draft.Suggestion{{ID: "ac-refrigerant", Title: "空调不制冷：先查冷媒压力", Why: "category 空调故障, keyword 不制冷", Score: 4}},
	Sources:     []draft.Draft{{Source: draft.Source{Connector: "gzh", Type: "wechat.officialaccount"}}, {}},
}

func rig(t *testing.T, cfg config.Notify, tk ticket.Ticket) (*notify.Notifier, *fakeSender, *fakeSender) {
	customers, staff := &fakeSender{}, &fakeSender{}
	n := notify.New(notify.Options{
		Config:    cfg,
		Ticket:    func(context.Context, string) (ticket.Ticket, error) { return tk, nil },
		Customers: map[string]notify.CustomerSender{"gzh": customers},
		Staff:     staff,
		Name:      func(id string) string { return map[string]string{"eng-li": "李工"}[id] },
		Location:  time.FixedZone("CST", 8*3600),
	})
	return n, customers, staff
}

func event(t *testing.T, action ticket.Action, to ticket.State, data any) []byte {
	ev := ticket.Event{ID: 7, TicketID: wechatTicket.ID, Seq: 3, Action: action, To: to, At: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	if data != nil {
		ev.Data, _ = json.Marshal(data)
	}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return b
}

func TestEventsBecomeMessages(t *testing.T) {
	cfg := config.Notify{
		Customers: &config.NotifyCustomers{ConfirmURL: "https://service.example.com/confirm/{id}"},
		WeCom:     &config.NotifyWeCom{Connector: "wecom", Users: map[string]string{"eng-li": "LiGong", "sup-wang": "WangJL"}},
	}
	due := time.Date(2026, 12, 2, 2, 30, 0, 0, time.UTC) // 10:30 in Shanghai
	tests := []struct {
		name      string
		payload   []byte
		customer  []sent
		staff     []sent
		staffText []string // substrings of the one staff message
	}{
		{"accepted", event(t, ticket.ActionAccept, ticket.StateAccepted, nil),
			[]sent{{"oWang", "您的报修 GD-20261202-000001（空调不制冷）已由李工受理，工程师会尽快与您联系。"}}, nil, nil},
		{"resolved, with the confirm link", event(t, ticket.ActionResolve, ticket.StateResolved, map[string]any{"root_cause": "缺氟"}),
			[]sent{{"oWang", "您的报修 GD-20261202-000001（空调不制冷）已处理完成。请确认是否解决并评价：https://service.example.com/confirm/GD-20261202-000001"}}, nil, nil},
		{"escalated", event(t, ticket.ActionEscalate, ticket.StateEscalated, nil),
			[]sent{{"oWang", "您的报修 GD-20261202-000001（空调不制冷）已升级加急处理，我们会尽快给您答复。"}}, nil, nil},
		{"assigned: the engineer gets what they need to set off", event(t, ticket.ActionAssign, ticket.StateAssigned, map[string]any{"assignee": "eng-li"}),
			nil, nil, []string{`["LiGong"]`, "【新工单】GD-20261202-000001", "地址：苏州工业园区星湖街328号", "设备：AC-0042 KFR-72LW 固件 1.4.2", "客户：王先生 13812345678", "橙色", "上次工单 GD-20261120-000007", "客户已补充 1 条消息",
				"\n参考：空调不制冷：先查冷媒压力（category 空调故障, keyword 不制冷）"}},
		{"routing failed: the lead", event(t, ticket.ActionRoutingFailed, ticket.StateNew, ticket.RoutingFailedData{Reason: "all_over_cap", Detail: "3 名工程师均已满负荷", Lead: "sup-wang"}),
			nil, nil, []string{`["WangJL"]`, "【派单失败】", "all_over_cap 3 名工程师均已满负荷"}},
		{"SLA tier: its people, once each", event(t, ticket.ActionSLA, ticket.StateAssigned, ticket.SLAData{Key: "resolution/tier/red", Target: "resolution", Kind: "tier", Tier: "red", Due: due, Notify: []string{"sup-wang", "dir-zhang", "sup-wang"}}),
			nil, nil, []string{`["WangJL","dir-zhang"]`, "【SLA 超时升级】", "应于 2026-12-02 10:30 前完成", "级别：red", "处理人：李工"}},
		{"an event nobody is told of", event(t, ticket.ActionStart, ticket.StateInProgress, nil), nil, nil, nil},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			n, customers, staff := rig(t, cfg, wechatTicket)
			require.NoError(t, n.Handle(context.Background(), c.payload, map[string]string{"event_id": "7"}))
			assert.Equal(t, c.customer, customers.sent)
			if c.staffText == nil {
				assert.Empty(t, staff.sent)
				return
			}
			require.Len(t, staff.sent, 1)
			got := staff.sent[0].to + " " + staff.sent[0].text
			for _, want := range c.staffText {
				assert.Contains(t, got, want)
			}
		})
	}
}

func TestWhatIsNotToldIsNotSent(t *testing.T) {
	// Switched off.
	n, customers, staff := rig(t, config.Notify{Customers: &config.NotifyCustomers{Accepted: no()}, WeCom: &config.NotifyWeCom{Assigned: no()}}, wechatTicket)
	require.NoError(t, n.Handle(context.Background(), event(t, ticket.ActionAccept, ticket.StateAccepted, nil), nil))
	require.NoError(t, n.Handle(context.Background(), event(t, ticket.ActionAssign, ticket.StateAssigned, nil), nil))
	assert.Empty(t, customers.sent)
	assert.Empty(t, staff.sent)

	// A customer who came in through a webhook has no account to be told on.
	hooked := wechatTicket
	hooked.Sources = []draft.Draft{{Source: draft.Source{Connector: "hooks", Type: "webhook"}}}
	n, customers, _ = rig(t, config.Notify{Customers: &config.NotifyCustomers{Accepted: yes()}}, hooked)
	require.NoError(t, n.Handle(context.Background(), event(t, ticket.ActionAccept, ticket.StateAccepted, nil), nil))
	assert.Empty(t, customers.sent)
}

func TestRedeliveryAndFailures(t *testing.T) {
	n, customers, _ := rig(t, config.Notify{Customers: &config.NotifyCustomers{}}, wechatTicket)
	ctx := context.Background()
	payload := event(t, ticket.ActionAccept, ticket.StateAccepted, nil)

	customers.err = errors.New("connection reset")
	err := n.Handle(ctx, payload, map[string]string{"event_id": "7"})
	require.Error(t, err, "a transient failure is retried by the pipeline")
	customers.err = nil
	require.NoError(t, n.Handle(ctx, payload, map[string]string{"event_id": "7"}))
	require.NoError(t, n.Handle(ctx, payload, map[string]string{"event_id": "7"}), "a redelivery")
	assert.Len(t, customers.sent, 1, "sent once")

	customers.err = permanent{errors.New("errcode 45015: response out of time limit")}
	err = n.Handle(ctx, payload, map[string]string{"event_id": "8"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "45015")
	assert.True(t, isPermanent(err), "straight to the dead letters")

	err = n.Handle(ctx, []byte("{"), nil)
	assert.True(t, isPermanent(err), "not an event")
}

// isPermanent tells a pipeline.Permanent error by its behaviour: it unwraps to the cause and
// is not the cause itself.
func isPermanent(err error) bool {
	return err != nil && errors.Unwrap(err) != nil && notify.FmtTypeOf(err) == "pipeline.permanentError"
}

// The assignment notice goes to the engineer of the event, though the ticket has moved on to
// another by the time it is handled (a decline and a re-route in between).
func TestAnAssignmentIsToldToItsOwnEngineer(t *testing.T) {
	moved := wechatTicket
	moved.Assignee = "eng-zhao"
	n, _, staff := rig(t, config.Notify{WeCom: &config.NotifyWeCom{Connector: "wecom"}}, moved)
	require.NoError(t, n.Handle(context.Background(), event(t, ticket.ActionAssign, ticket.StateAssigned, map[string]any{"assignee": "eng-li"}), nil))
	require.Len(t, staff.sent, 1)
	assert.Equal(t, `["eng-li"]`, staff.sent[0].to)
}

type outsideWindow struct{ error }

func (outsideWindow) OutsideWindow() bool { return true }
func (outsideWindow) Permanent() bool     { return true }

// templateSender is an official account whose customer service messages are refused as
// outside the 48 hours.
type templateSender struct {
	fakeSender
	templates []map[string]string
}

func (s *templateSender) TellCustomer(context.Context, draft.Draft, draft.Customer, string) (bool, error) {
	return true, outsideWindow{errors.New("errcode 45015: response out of time limit")}
}

func (s *templateSender) SendTemplate(_ context.Context, c draft.Customer, templateID, link string, data map[string]string, clientMsgID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := map[string]string{"to": c.WechatOpenID, "template": templateID, "url": link, "client": clientMsgID}
	for k, v := range data {
		rec["data."+k] = v
	}
	s.templates = append(s.templates, rec)
	return true, nil
}

// TestATemplateStandsInOutsideTheWindow: a customer who has not written within 48 hours is
// told by the template message configured for the kind, filled in.
func TestATemplateStandsInOutsideTheWindow(t *testing.T) {
	sender := &templateSender{}
	cfg := config.Notify{Customers: &config.NotifyCustomers{ConfirmURL: "https://svc.example.com/c/{id}",
		Templates: map[string]config.NotifyTemplate{"resolved": {TemplateID: "TM00015", URL: "{confirm_url}",
			Data: map[string]string{"first": "您的报修已处理完成", "keyword1": "{id}", "keyword2": "{title}", "keyword3": "{time}", "remark": "处理人：{engineer}"}}}}}
	n := notify.New(notify.Options{Config: cfg, Customers: map[string]notify.CustomerSender{"gzh": sender},
		Ticket:   func(context.Context, string) (ticket.Ticket, error) { return wechatTicket, nil },
		Name:     func(id string) string { return map[string]string{"eng-li": "李工"}[id] },
		Location: time.FixedZone("CST", 8*3600)})
	require.NoError(t, n.Handle(context.Background(), event(t, ticket.ActionResolve, ticket.StateResolved, map[string]any{"root_cause": "缺氟"}), map[string]string{"event_id": "7"}))
	assert.Equal(t, []map[string]string{{"to": "oWang", "template": "TM00015", "url": "https://svc.example.com/c/GD-20261202-000001", "client": "gongdan-7",
		"data.first": "您的报修已处理完成", "data.keyword1": "GD-20261202-000001", "data.keyword2": "空调不制冷", "data.keyword3": "2026-12-02 17:00", "data.remark": "处理人：李工"}}, sender.templates)

	// No template for the kind: the refusal stands (a dead letter an operator can see).
	err := n.Handle(context.Background(), event(t, ticket.ActionAccept, ticket.StateAccepted, nil), map[string]string{"event_id": "8"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "45015")
}

// TestAnUrgeReachesTheAssignee: the customer's 催单 on their tracking page goes to whoever
// holds the ticket, with the count; no one holds it, or switched off: nothing.
func TestAnUrgeReachesTheAssignee(t *testing.T) {
	urged := wechatTicket
	urged.Urges = 2
	n, customers, staff := rig(t, config.Notify{WeCom: &config.NotifyWeCom{Connector: "wecom"}}, urged)
	require.NoError(t, n.Handle(context.Background(), event(t, ticket.ActionUrge, ticket.StateAssigned, nil), map[string]string{"event_id": "21"}))
	require.Len(t, staff.sent, 1)
	assert.Equal(t, `["eng-li"]`, staff.sent[0].to)
	assert.Contains(t, staff.sent[0].text, "【催单】")
	assert.Contains(t, staff.sent[0].text, "第 2 次")
	assert.Empty(t, customers.sent)

	nobody := urged
	nobody.Assignee = ""
	n, _, staff = rig(t, config.Notify{WeCom: &config.NotifyWeCom{Connector: "wecom"}}, nobody)
	require.NoError(t, n.Handle(context.Background(), event(t, ticket.ActionUrge, ticket.StateNew, nil), nil))
	assert.Empty(t, staff.sent)
	off := false
	n, _, staff = rig(t, config.Notify{WeCom: &config.NotifyWeCom{Connector: "wecom", Urged: &off}}, urged)
	require.NoError(t, n.Handle(context.Background(), event(t, ticket.ActionUrge, ticket.StateAssigned, nil), nil))
	assert.Empty(t, staff.sent)
}
