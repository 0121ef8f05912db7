// Package notify tells people outside gongdan what happens to tickets: the customer hears that
// their request was accepted, resolved or escalated, is reminded to confirm and asked at the
// follow-up whether the problem came back — on WeChat where they wrote in, by SMS (Aliyun,
// Tencent) or by email, in their order of channels, falling back to the next when one refuses
// for good; engineers, team leads and the people of SLA tiers get WeCom app messages.
//
// It reads the core's events from the bus (pipeline.TopicEvents) as a pipeline consumer, so
// delivery is durable: an event is acked only once its message is sent; a failure is retried
// with back-off and then kept as a dead letter an operator can replay. What each channel did
// is recorded on the ticket (Options.Record) and kept in a ledger, so that a redelivered
// event sends no SMS twice.
//
// It never logs or records a phone number, an address or a secret in the clear.
package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gongdan/config"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/pipeline"
)

// CustomerSender sends a text to the customer of a ticket that came in through it
// (connectors/wechat: an official account, WeChat customer service). source is the ticket's
// first source, which the connector made; it reports false when it has no way to reach this
// customer (no openid).
type CustomerSender interface {
	TellCustomer(ctx context.Context, source draft.Draft, customer draft.Customer, text string) (bool, error)
}

// TemplateSender sends a template message to a customer (an official account): what is sent
// when a customer service message is refused as outside WeChat's 48 hours.
type TemplateSender interface {
	SendTemplate(ctx context.Context, customer draft.Customer, templateID, link string, data map[string]string, clientMsgID string) (bool, error)
}

// StaffSender sends a text to people by their WeCom UserIDs (connectors/wechat).
type StaffSender interface {
	SendAppText(ctx context.Context, userIDs []string, text string) error
}

// Options configure a Notifier.
type Options struct {
	Config config.Notify
	// Ticket reads a ticket as it is now.
	Ticket func(ctx context.Context, id string) (ticket.Ticket, error)
	// Customers are the official accounts by connector name: a customer is told on the one
	// their ticket came in through.
	Customers map[string]CustomerSender
	// Staff sends WeCom app messages; nil sends none.
	Staff StaffSender
	// Name is a person's display name (李工) for a gongdan id; nil or "" uses the id.
	Name func(id string) string
	// Location is the time zone of times in messages; default time.Local.
	Location *time.Location
	Logger   *slog.Logger
	// TrackingURL is the link of a ticket's tracking page, where the customer follows it and
	// confirms ({tracking_url} and {confirm_url}, the same page); nil or "" falls back to
	// notify.customers.confirm_url.
	TrackingURL func(t ticket.Ticket) string
	// Record records a channel's outcome on the ticket (a notified event), in the order they
	// happen: a refusal, then the fallback that delivered. It is called again for the same
	// Delivery.Key when an earlier call failed, so it should take the key as its command id.
	// An error is retried (nothing is sent again). Nil records nothing.
	Record func(ctx context.Context, ticketID string, d Delivery) error
	// Ledger keeps what each channel did against redeliveries; default in memory (the last
	// 10,000). gongdan serve gives a FileLedger under the data directory.
	Ledger Ledger
	// TLSConfig is the base of the SMTP connection's TLS (nil: the system's roots, TLS 1.2 and
	// up); its ServerName is set from notify.channels.email.smtp.
	TLSConfig *tls.Config
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Notifier turns events into messages.
type Notifier struct {
	opts Options
	// channels are the customer channels by name, defaultOrder the configured order.
	channels     map[string]channel
	defaultOrder []channel
	ledger       Ledger

	mu   sync.Mutex
	sent map[string]bool // event ids whose messages went out, against redeliveries
	seq  []string
}

// maxRemembered bounds the event ids a Notifier remembers sending for.
const maxRemembered = 10_000

// New builds a Notifier.
func New(opts Options) *Notifier {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Name == nil {
		opts.Name = func(string) string { return "" }
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := &Notifier{opts: opts, sent: map[string]bool{}, ledger: opts.Ledger}
	if n.ledger == nil {
		n.ledger = newMemoryLedger()
	}
	n.channels = map[string]channel{config.ChannelWeChat: wechatChannel{n}}
	order := []string{config.ChannelWeChat}
	if ch := opts.Config.Channels; ch != nil {
		if s := ch.SMS; s != nil {
			var v smsVendor
			switch s.Vendor {
			case "aliyun":
				v = newAliyunSMS(s, opts.Now)
			case "tencent":
				v = newTencentSMS(s, opts.Now)
			}
			if v != nil {
				n.channels[config.ChannelSMS] = smsChannel{cfg: s, vendor: v}
			}
		}
		if e := ch.Email; e != nil {
			n.channels[config.ChannelEmail] = newEmailChannel(e, opts.TLSConfig, opts.Now)
		}
		if len(ch.Order) > 0 {
			order = ch.Order
		}
	}
	for _, name := range order {
		if c := n.channels[name]; c != nil {
			n.defaultOrder = append(n.defaultOrder, c)
		}
	}
	return n
}

// Consumer is the Notifier as a pipeline consumer of the core's events.
func (n *Notifier) Consumer() pipeline.Consumer {
	return pipeline.Consumer{Name: "notify", Topic: pipeline.TopicEvents, Handle: n.Handle}
}

// The core's events of the closure loop, by their action names (the core appends them).
const (
	// ActionRemindConfirm reminds the customer of a resolved ticket to confirm (data
	// {"nth": 1}); ActionFollowupAsked asks the customer of a closed ticket whether the
	// problem came back. The core's names, here for the messages' switch.
	ActionRemindConfirm = ticket.ActionRemindConfirm
	ActionFollowupAsked = ticket.ActionFollowupAsked
)

// message is one text for one audience.
type message struct {
	customer bool     // to the ticket's customer, on the channels of their order
	staff    []string // to these gongdan ids, by WeCom
	text     string
	kind     string            // accepted, resolved, …: the templates that stand in (WeChat, SMS), the email subject
	vars     map[string]string // {id}, {title}, … of the templates' values
}

// fill replaces m's placeholders in s, in one pass: a value that holds a placeholder (a
// title with "{confirm_url}" in it) is not filled in again.
func (m message) fill(s string) string {
	pairs := make([]string, 0, 2*len(m.vars))
	for _, k := range slices.Sorted(maps.Keys(m.vars)) {
		pairs = append(pairs, k, m.vars[k])
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// Handle sends what one event calls for. An error is retried; a permanent one
// (pipeline.Permanent) goes to the dead letters at once.
func (n *Notifier) Handle(ctx context.Context, payload []byte, meta map[string]string) error {
	var ev ticket.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return pipeline.Permanent(fmt.Errorf("notify: not an event: %w", err))
	}
	id := meta["event_id"]
	if id == "" {
		id = fmt.Sprintf("%s#%d", ev.TicketID, ev.Seq)
	}
	if n.done(id) {
		return nil // a redelivery of an event whose messages went out
	}
	if !n.wants(ev) {
		return nil
	}
	t, err := n.opts.Ticket(ctx, ev.TicketID)
	if err != nil {
		return fmt.Errorf("notify: reading %s: %w", ev.TicketID, err)
	}
	m, err := n.compose(ev, t)
	if err != nil || m == nil {
		return err
	}
	if err := n.send(ctx, t, *m, id); err != nil {
		return err
	}
	n.remember(id)
	return nil
}

// wants reports whether the config asks for a message on events like ev, before reading
// the ticket.
func (n *Notifier) wants(ev ticket.Event) bool {
	c, w := n.opts.Config.Customers, n.opts.Config.WeCom
	switch ev.Action {
	case ticket.ActionAccept:
		return c != nil && config.On(c.Accepted)
	case ticket.ActionResolve:
		return c != nil && config.On(c.Resolved)
	case ticket.ActionEscalate:
		return c != nil && config.On(c.Escalated)
	case ActionRemindConfirm:
		return c != nil && config.On(c.RemindConfirm)
	case ActionFollowupAsked:
		return c != nil && config.On(c.FollowupAsked)
	case ticket.ActionAssign:
		return w != nil && n.opts.Staff != nil && config.On(w.Assigned)
	case ticket.ActionRoutingFailed:
		return w != nil && n.opts.Staff != nil && config.On(w.RoutingFailed)
	case ticket.ActionSLA:
		return w != nil && n.opts.Staff != nil && config.On(w.SLA)
	case ticket.ActionUrge:
		return w != nil && n.opts.Staff != nil && config.On(w.Urged)
	}
	return false
}

// compose writes the message for ev on t; nil when there is no one to tell.
func (n *Notifier) compose(ev ticket.Event, t ticket.Ticket) (*message, error) {
	what := t.ID + " " // "GD-… 已…", or "GD-…（空调不制冷）已…"
	if t.Title != "" {
		what = t.ID + "（" + t.Title + "）"
	}
	switch ev.Action {
	case ticket.ActionAccept:
		who := n.name(t.Assignee)
		if who == "" {
			who = "工程师"
		}
		return n.customerMessage("accepted", ev, t, who, fmt.Sprintf("您的报修 %s已由%s受理，工程师会尽快与您联系。", what, who)), nil
	case ticket.ActionResolve:
		text := fmt.Sprintf("您的报修 %s已处理完成。", what)
		if u := n.confirmURL(t); u != "" {
			text += "请确认是否解决并评价：" + u
		}
		return n.customerMessage("resolved", ev, t, n.nameOrID(t.Assignee), text), nil
	case ticket.ActionEscalate:
		return n.customerMessage("escalated", ev, t, n.nameOrID(t.Assignee), fmt.Sprintf("您的报修 %s已升级加急处理，我们会尽快给您答复。", what)), nil
	case ActionRemindConfirm:
		var d struct {
			Nth int `json:"nth"`
		}
		_ = json.Unmarshal(ev.Data, &d) // without a count it is a reminder all the same
		text := fmt.Sprintf("提醒：您的报修 %s已处理完成，还在等您确认。", what)
		if d.Nth > 1 {
			text = fmt.Sprintf("第 %d 次提醒：您的报修 %s已处理完成，还在等您确认。", d.Nth, what)
		}
		if u := n.confirmURL(t); u != "" {
			text += "请确认是否解决并评价：" + u
		}
		m := n.customerMessage("remind_confirm", ev, t, n.nameOrID(t.Assignee), text)
		m.vars["{nth}"] = strconv.Itoa(max(d.Nth, 1))
		return m, nil
	case ActionFollowupAsked:
		text := fmt.Sprintf("回访：您的报修 %s已处理完成。问题是否再次出现？", what)
		if u := n.confirmURL(t); u != "" {
			text += "请告诉我们：" + u
		}
		return n.customerMessage("followup_asked", ev, t, n.nameOrID(t.Assignee), text), nil
	case ticket.ActionAssign:
		// The engineer of this assignment: the ticket may have moved on to another since.
		var d ticket.AssignData
		if err := json.Unmarshal(ev.Data, &d); err != nil || d.Assignee == "" || ev.To != ticket.StateAssigned {
			return nil, nil
		}
		return &message{staff: []string{d.Assignee}, text: assignedText(t)}, nil
	case ticket.ActionUrge:
		if t.Assignee == "" || !t.State.Open() {
			return nil, nil // no one holds it yet: the desk sees the count on the ticket
		}
		return &message{staff: []string{t.Assignee}, text: fmt.Sprintf("【催单】客户在进度页催促 %s（第 %d 次），请尽快处理并更新进度。", strings.TrimSpace(what), t.Urges)}, nil
	case ticket.ActionRoutingFailed:
		var d ticket.RoutingFailedData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("notify: %s#%d: %w", ev.TicketID, ev.Seq, err))
		}
		if d.Lead == "" {
			return nil, nil
		}
		return &message{staff: []string{d.Lead}, text: fmt.Sprintf("【派单失败】%s\n原因：%s %s\n请手动派单。", strings.TrimSpace(what), d.Reason, d.Detail)}, nil
	case ticket.ActionSLA:
		var d ticket.SLAData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("notify: %s#%d: %w", ev.TicketID, ev.Seq, err))
		}
		if len(d.Notify) == 0 {
			return nil, nil
		}
		kind := map[string]string{"warning": "即将超时", "breach": "已超时", "tier": "超时升级"}[d.Kind]
		if kind == "" {
			kind = d.Kind
		}
		text := fmt.Sprintf("【SLA %s】%s\n目标：%s，应于 %s 前完成", kind, strings.TrimSpace(what), d.Target, d.Due.In(n.opts.Location).Format("2006-01-02 15:04"))
		if d.Tier != "" {
			text += "\n级别：" + d.Tier
		}
		if t.Assignee != "" {
			text += "\n处理人：" + n.nameOrID(t.Assignee)
		}
		return &message{staff: d.Notify, text: text}, nil
	}
	return nil, nil
}

// customerMessage is a message to the customer, with what its template would say.
func (n *Notifier) customerMessage(kind string, ev ticket.Event, t ticket.Ticket, engineer, text string) *message {
	link := n.confirmURL(t)
	return &message{customer: true, text: text, kind: kind, vars: map[string]string{
		"{id}": t.ID, "{title}": t.Title, "{engineer}": engineer, "{confirm_url}": link, "{tracking_url}": link,
		"{time}": ev.At.In(n.opts.Location).Format("2006-01-02 15:04"), "{nth}": "1",
	}}
}

// confirmURL is the ticket's page: gongdan's tracking page when there is one, else the
// configured confirm_url.
func (n *Notifier) confirmURL(t ticket.Ticket) string {
	if n.opts.TrackingURL != nil {
		if u := n.opts.TrackingURL(t); u != "" {
			return u
		}
	}
	if c := n.opts.Config.Customers; c != nil && c.ConfirmURL != "" {
		return strings.ReplaceAll(c.ConfirmURL, "{id}", t.ID)
	}
	return ""
}

// assignedText is what an engineer is told of a ticket assigned to them: enough to set off.
func assignedText(t ticket.Ticket) string {
	var b strings.Builder
	fmt.Fprintf(&b, "【新工单】%s\n%s\n紧急程度：%s", t.ID, t.Title, urgencyName(t.Urgency))
	if t.Category != "" {
		fmt.Fprintf(&b, "\n类别：%s", t.Category)
	}
	if t.Location.Address != "" {
		fmt.Fprintf(&b, "\n地址：%s", t.Location.Address)
	}
	if t.Device.ID != "" {
		fmt.Fprintf(&b, "\n设备：%s", strings.TrimSpace(t.Device.ID+" "+t.Device.Model))
		if t.Device.Firmware != "" {
			fmt.Fprintf(&b, " 固件 %s", t.Device.Firmware)
		}
	}
	if c := strings.TrimSpace(t.Customer.Name + " " + t.Customer.Phone); c != "" {
		fmt.Fprintf(&b, "\n客户：%s", c)
	}
	// The known fixes before the free text: WeCom cuts a message after 2,048 bytes, and
	// these are what the engineer should read before setting off.
	for _, sg := range t.Suggestions {
		fmt.Fprintf(&b, "\n参考：%s（%s）", draft.Clip(sg.Title, 60), draft.Clip(sg.Why, 100))
	}
	if t.Description != "" && t.Description != t.Title {
		fmt.Fprintf(&b, "\n描述：%s", draft.Clip(t.Description, 200))
	}
	if t.RepeatOf != "" {
		fmt.Fprintf(&b, "\n历史：重复报修，上次工单 %s", t.RepeatOf)
	}
	if n := len(t.Sources); n > 1 {
		fmt.Fprintf(&b, "\n客户已补充 %d 条消息", n-1)
	}
	return b.String()
}

func urgencyName(u draft.Urgency) string {
	switch u {
	case draft.UrgencyRed:
		return "红色（安全风险）"
	case draft.UrgencyOrange:
		return "橙色（影响生产）"
	case draft.UrgencyYellow:
		return "黄色（24 小时内响应）"
	}
	return "蓝色（常规）"
}

func (n *Notifier) name(id string) string {
	if id == "" {
		return ""
	}
	return n.opts.Name(id)
}

func (n *Notifier) nameOrID(id string) string {
	if name := n.name(id); name != "" {
		return name
	}
	return id
}

// send delivers m.
func (n *Notifier) send(ctx context.Context, t ticket.Ticket, m message, eventID string) error {
	if m.customer {
		return n.tellCustomer(ctx, t, m, eventID)
	}
	users := make([]string, 0, len(m.staff))
	for _, id := range m.staff {
		if u := n.opts.Config.WeCom.Users[id]; u != "" {
			id = u
		}
		if !slices.Contains(users, id) {
			users = append(users, id)
		}
	}
	return classify(n.opts.Staff.SendAppText(ctx, users, m.text))
}

// template sends m's template message instead, if the config has one for its kind and the
// sender takes templates; sent false when it does not apply.
func (n *Notifier) template(ctx context.Context, sender CustomerSender, t ticket.Ticket, m message, eventID string) (bool, error) {
	tpl, ok := n.opts.Config.Customers.Templates[m.kind]
	ts, takes := sender.(TemplateSender)
	if !ok || !takes {
		return false, nil
	}
	fill := m.fill
	data := make(map[string]string, len(tpl.Data))
	for k, v := range tpl.Data {
		data[k] = fill(v)
	}
	return ts.SendTemplate(ctx, t.Customer, tpl.TemplateID, fill(tpl.URL), data, "gongdan-"+eventID)
}

// classify marks the errors a retry cannot fix as permanent.
func classify(err error) error {
	var p interface{ Permanent() bool }
	if errors.As(err, &p) && p.Permanent() {
		return pipeline.Permanent(err)
	}
	return err
}

func (n *Notifier) done(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sent[id]
}

func (n *Notifier) remember(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent[id] = true
	n.seq = append(n.seq, id)
	if len(n.seq) > maxRemembered {
		for _, old := range n.seq[:len(n.seq)/2] {
			delete(n.sent, old)
		}
		n.seq = append(n.seq[:0], n.seq[len(n.seq)/2:]...)
	}
}
