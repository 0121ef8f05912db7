package notify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/logging"
	"gongdan/notify"
)

var clock = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// customer is reachable on every channel: WeChat (the ticket came in by gzh), SMS, email.
var everywhere = func() ticket.Ticket {
	t := wechatTicket
	t.Customer.Email = "wang@example.com"
	return t
}()

// recorder is Options.Record: the deliveries in the order they were recorded.
type recorder struct {
	mu   sync.Mutex
	got  []notify.Delivery
	fail error
}

func (r *recorder) record(_ context.Context, ticketID string, d notify.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	if ticketID != everywhere.ID {
		return errors.New("recorded on the wrong ticket " + ticketID)
	}
	r.got = append(r.got, d)
	return nil
}

// brief is a delivery without its time, for comparing.
type brief struct {
	Key, Kind, Channel, To string
	OK                     bool
	Error                  string
	Attempt                int
}

func (r *recorder) briefs() []brief {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []brief
	for _, d := range r.got {
		out = append(out, brief{d.Key, d.Kind, d.Channel, d.To, d.OK, d.Error, d.Attempt})
	}
	return out
}

// channelRig is a Notifier with WeChat (a fake official account), SMS (a fake vendor) and
// email (a fake SMTP server), its log captured as gongdan serve writes it.
type channelRig struct {
	n      *notify.Notifier
	wechat *scriptedSender
	sms    *fakeSMS
	smtp   *fakeSMTP
	rec    *recorder
	log    *bytes.Buffer
}

// scriptedSender is an official account that answers with err.
type scriptedSender struct {
	mu   sync.Mutex
	err  error
	sent []string
}

func (s *scriptedSender) TellCustomer(_ context.Context, _ draft.Draft, c draft.Customer, text string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.WechatOpenID == "" {
		return false, nil
	}
	if s.err != nil {
		return true, s.err
	}
	s.sent = append(s.sent, text)
	return true, nil
}

type rigOptions struct {
	vendor string // aliyun (default) or tencent
	order  []string
	ledger notify.Ledger
	tk     *ticket.Ticket
}

func newChannelRig(t *testing.T, o rigOptions) *channelRig {
	r := &channelRig{wechat: &scriptedSender{}, smtp: newFakeSMTP(t, false, true), rec: &recorder{}, log: &bytes.Buffer{}}
	sms := &config.NotifySMS{SignName: "苏州服务中心", Timeout: config.Duration(5 * time.Second)}
	switch o.vendor {
	case "tencent":
		r.sms = newTencentFake(t)
		sms.Vendor = "tencent"
		sms.Tencent = &config.NotifySMSTencent{SecretID: tencentSecretID, SecretKey: tencentSecretKey, SdkAppID: tencentAppID, Region: "ap-guangzhou", Endpoint: r.sms.srv.URL}
		sms.Templates = map[string]config.NotifySMSTemplate{
			"resolved":       {Template: "1110", ParamSet: []string{"{id}", "{tracking_url}"}},
			"remind_confirm": {Template: "1111", ParamSet: []string{"{id}", "{nth}", "{confirm_url}"}},
		}
	default:
		r.sms = newAliyunFake(t)
		sms.Vendor = "aliyun"
		sms.Aliyun = &config.NotifySMSAliyun{AccessKeyID: aliyunKeyID, AccessKeySecret: aliyunKeySecret, Endpoint: r.sms.srv.URL}
		sms.Templates = map[string]config.NotifySMSTemplate{
			"resolved":       {Template: "SMS_153055065", Params: map[string]string{"id": "{id}", "url": "{tracking_url}"}},
			"remind_confirm": {Template: "SMS_153055066", Params: map[string]string{"id": "{id}", "nth": "{nth}", "url": "{confirm_url}"}},
		}
	}
	order := o.order
	if order == nil {
		order = []string{"wechat", "sms", "email"}
	}
	cfg := config.Notify{Customers: &config.NotifyCustomers{ConfirmURL: "https://svc.example.com/c/{id}"}, Channels: &config.NotifyChannels{
		Order: order, SMS: sms,
		Email: &config.NotifyEmail{SMTP: r.smtp.addr(), TLS: config.EmailSTARTTLS, Username: smtpUser, Password: smtpPassword,
			From: "苏州服务中心 <service@example.com>", Timeout: config.Duration(5 * time.Second)},
	}}
	tk := everywhere
	if o.tk != nil {
		tk = *o.tk
	}
	log, err := logging.New(r.log, "json", "debug")
	require.NoError(t, err)
	r.n = notify.New(notify.Options{
		Config:      cfg,
		Ticket:      func(context.Context, string) (ticket.Ticket, error) { return tk, nil },
		Customers:   map[string]notify.CustomerSender{"gzh": r.wechat},
		Name:        func(id string) string { return map[string]string{"eng-li": "李工"}[id] },
		Location:    time.FixedZone("CST", 8*3600),
		Logger:      log,
		TrackingURL: func(t ticket.Ticket) string { return "https://gd.example.com/t/tok-" + t.ID },
		Record:      r.rec.record,
		Ledger:      o.ledger,
		TLSConfig:   &tls.Config{RootCAs: r.smtp.roots},
		Now:         func() time.Time { return clock },
	})
	return r
}

func (r *channelRig) handle(t *testing.T, action ticket.Action, data any, eventID string) error {
	return r.n.Handle(context.Background(), event(t, action, ticket.StateResolved, data), map[string]string{"event_id": eventID})
}

// notFollowing is WeChat's refusal of a customer who unfollowed (43004): permanent.
var notFollowing = permanent{errors.New("errcode 43004: require subscribe")}

// TestAPermanentRefusalFallsBackInOrder: WeChat refuses for good, SMS takes the message;
// both outcomes are recorded, in order, and email is not tried.
func TestAPermanentRefusalFallsBackInOrder(t *testing.T) {
	r := newChannelRig(t, rigOptions{})
	r.wechat.err = notFollowing
	require.NoError(t, r.handle(t, ticket.ActionResolve, map[string]any{"root_cause": "缺氟"}, "7"))

	assert.Equal(t, []brief{
		{"7/wechat", "resolved", "wechat", "***", false, "errcode 43004: require subscribe", 1},
		{"7/sms", "resolved", "sms", "138****5678", true, "", 2},
	}, r.rec.briefs())
	assert.Equal(t, clock, r.rec.got[1].At)
	calls := r.sms.taken()
	require.Len(t, calls, 1)
	assert.Equal(t, map[string]string{"PhoneNumbers": "13812345678", "SignName": "苏州服务中心", "TemplateCode": "SMS_153055065",
		"TemplateParam": `{"id":"GD-20261202-000001","url":"https://gd.example.com/t/tok-GD-20261202-000001"}`, "OutId": "7/sms"},
		pick(calls[0].params, "PhoneNumbers", "SignName", "TemplateCode", "TemplateParam", "OutId"))
	assert.Zero(t, r.sms.badSignatures())
	assert.Empty(t, r.smtp.received(), "the fallback delivered: no third channel")
}

func pick(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

// TestATransientFailureIsRetriedNotFallenBackFrom: a timeout on WeChat is the pipeline's to
// retry; SMS is not tried and nothing is recorded until an outcome.
func TestATransientFailureIsRetriedNotFallenBackFrom(t *testing.T) {
	r := newChannelRig(t, rigOptions{})
	r.wechat.err = errors.New("dial tcp: i/o timeout")
	err := r.handle(t, ticket.ActionResolve, nil, "7")
	require.Error(t, err)
	assert.False(t, isPermanent(err), "retried by the pipeline")
	assert.Empty(t, r.sms.taken())
	assert.Empty(t, r.rec.briefs())

	r.wechat.err = nil
	require.NoError(t, r.handle(t, ticket.ActionResolve, nil, "7"))
	assert.Equal(t, []brief{{"7/wechat", "resolved", "wechat", "***", true, "", 1}}, r.rec.briefs())
}

// TestSMSOutcomesByVendorAnswer: each documented answer of each vendor, and what follows from
// it (testdata/sms/README.md names the pages).
func TestSMSOutcomesByVendorAnswer(t *testing.T) {
	cases := []struct {
		vendor, fixture string
		status          int
		fallback        bool // a refusal: email takes the message
		errText         string
	}{
		{"aliyun", "aliyun/isv.MOBILE_NUMBER_ILLEGAL.json", 200, true, "Aliyun SendSms: isv.MOBILE_NUMBER_ILLEGAL: 非法手机号: 138****5678"},
		{"aliyun", "aliyun/isv.BUSINESS_LIMIT_CONTROL.json", 200, true, "isv.BUSINESS_LIMIT_CONTROL"},
		{"aliyun", "aliyun/isv.SMS_TEMPLATE_ILLEGAL.json", 200, true, "isv.SMS_TEMPLATE_ILLEGAL: 模板不合法(不存在或被拉黑); check notify.channels.sms"},
		{"aliyun", "aliyun/SignatureDoesNotMatch.json", 400, true, "SignatureDoesNotMatch"},
		{"aliyun", "aliyun/isp.SYSTEM_ERROR.json", 200, false, "isp.SYSTEM_ERROR"},
		{"aliyun", "aliyun/OK.json", 503, false, "HTTP 503"},
		{"tencent", "tencent/InvalidParameterValue.IncorrectPhoneNumber.json", 200, true, "Tencent SendSms: InvalidParameterValue.IncorrectPhoneNumber: incorrect number format: 138****5678"},
		{"tencent", "tencent/FailedOperation.PhoneNumberInBlacklist.json", 200, true, "FailedOperation.PhoneNumberInBlacklist"},
		{"tencent", "tencent/FailedOperation.TemplateIncorrectOrUnapproved.json", 200, true, "check notify.channels.sms"},
		{"tencent", "tencent/AuthFailure.SignatureFailure.json", 200, true, "AuthFailure.SignatureFailure"},
		{"tencent", "tencent/InternalError.Timeout.json", 200, false, "InternalError.Timeout"},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			r := newChannelRig(t, rigOptions{vendor: c.vendor, order: []string{"sms", "email"}})
			r.sms.set(c.status, c.fixture)
			err := r.handle(t, ticket.ActionResolve, nil, "7")
			assert.Zero(t, r.sms.badSignatures(), "every request signed as the vendor checks")
			require.Len(t, r.sms.taken(), 1)
			if c.fallback {
				require.NoError(t, err)
				got := r.rec.briefs()
				require.Len(t, got, 2)
				assert.Contains(t, got[0].Error, c.errText)
				assert.Equal(t, brief{"7/email", "resolved", "email", "w***@example.com", true, "", 2}, got[1])
				require.Len(t, r.smtp.received(), 1)
			} else {
				require.Error(t, err)
				assert.False(t, isPermanent(err))
				assert.Contains(t, err.Error(), c.errText)
				assert.Empty(t, r.rec.briefs())
				assert.Empty(t, r.smtp.received(), "no fallback from a transient failure")
			}
			assertNothingLeaks(t, r, err)
		})
	}
}

// assertNothingLeaks: no secret, phone number or address in the clear in the log, the error
// or the records.
func assertNothingLeaks(t *testing.T, r *channelRig, err error) {
	t.Helper()
	recs, _ := json.Marshal(r.rec.briefs())
	for _, where := range []string{r.log.String(), errText(err), string(recs)} {
		for _, secret := range []string{aliyunKeySecret, tencentSecretKey, smtpPassword, "13812345678", "wang@example.com", "oWang"} {
			assert.NotContains(t, where, secret)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestTencentRequest: the number in E.164, the app, the signature, the template's variables
// in order and the delivery key as SessionContext.
func TestTencentRequest(t *testing.T) {
	r := newChannelRig(t, rigOptions{vendor: "tencent", order: []string{"sms"}})
	require.NoError(t, r.handle(t, notify.ActionRemindConfirm, map[string]any{"nth": 2}, "9"))
	calls := r.sms.taken()
	require.Len(t, calls, 1)
	assert.Equal(t, map[string]any{"PhoneNumberSet": []any{"+8613812345678"}, "SmsSdkAppId": tencentAppID, "SignName": "苏州服务中心", "TemplateId": "1111",
		"TemplateParamSet": []any{"GD-20261202-000001", "2", "https://gd.example.com/t/tok-GD-20261202-000001"}, "SessionContext": "9/sms"}, calls[0].body)
	assert.Equal(t, []brief{{"9/sms", "remind_confirm", "sms", "138****5678", true, "", 1}}, r.rec.briefs())
}

// TestACustomersOwnOrderComesFirst: the customer asked for email first.
func TestACustomersOwnOrderComesFirst(t *testing.T) {
	tk := everywhere
	tk.Customer.Channels = []string{"email", "fax", "sms"}
	r := newChannelRig(t, rigOptions{tk: &tk})
	require.NoError(t, r.handle(t, ticket.ActionResolve, nil, "7"))
	assert.Equal(t, []brief{{"7/email", "resolved", "email", "w***@example.com", true, "", 1}}, r.rec.briefs())
	assert.Empty(t, r.wechat.sent)
	assert.Empty(t, r.sms.taken())
}

// TestAChannelWithoutAnAddressIsSkipped: no phone number, no SMS template for the kind: the
// channel is passed over without a record; with no channel left, nothing is sent and that is
// no failure.
func TestAChannelWithoutAnAddressIsSkipped(t *testing.T) {
	tk := everywhere
	tk.Customer.Phone, tk.Customer.WechatOpenID = "", ""
	r := newChannelRig(t, rigOptions{tk: &tk})
	require.NoError(t, r.handle(t, ticket.ActionResolve, nil, "7"))
	assert.Equal(t, []brief{{"7/email", "resolved", "email", "w***@example.com", true, "", 1}}, r.rec.briefs())

	tk.Customer.Email = ""
	r = newChannelRig(t, rigOptions{tk: &tk})
	require.NoError(t, r.handle(t, ticket.ActionResolve, nil, "7"))
	assert.Empty(t, r.rec.briefs())

	// A landline is no number for SMS: refused without asking the vendor.
	tk = everywhere
	tk.Customer.Phone = "0512-66881234"
	r = newChannelRig(t, rigOptions{tk: &tk, order: []string{"sms", "email"}})
	require.NoError(t, r.handle(t, ticket.ActionResolve, nil, "7"))
	assert.Empty(t, r.sms.taken())
	assert.Equal(t, []brief{
		{"7/sms", "resolved", "sms", "0512-****1234", false, "0512-****1234 is not a mobile number SMS can reach", 1},
		{"7/email", "resolved", "email", "w***@example.com", true, "", 2},
	}, r.rec.briefs())
}

// TestEveryChannelRefusedIsADeadLetter: nothing reached the customer; the refusals are kept
// together, masked.
func TestEveryChannelRefusedIsADeadLetter(t *testing.T) {
	r := newChannelRig(t, rigOptions{})
	r.wechat.err = notFollowing
	r.sms.set(200, "aliyun/isv.MOBILE_NUMBER_ILLEGAL.json")
	r.smtp.rcptReply = "550 5.1.1 <wang@example.com>: Recipient address rejected: User unknown"
	err := r.handle(t, ticket.ActionResolve, nil, "7")
	require.Error(t, err)
	assert.True(t, isPermanent(err))
	assert.Contains(t, err.Error(), "no channel reached the customer: wechat: errcode 43004")
	assert.Contains(t, err.Error(), "email: SMTP RCPT TO: 550 5.1.1 <w***@example.com>: Recipient address rejected")
	assert.Len(t, r.rec.briefs(), 3)
	assertNothingLeaks(t, r, err)
}

// TestARedeliveredEventSendsNoSMSTwice: the event comes again (a crash before its ack, in a
// new process with the same ledger file): the SMS that went out is not sent again, and the
// record that failed the first time is made.
func TestARedeliveredEventSendsNoSMSTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify", "deliveries.jsonl")
	ledger, err := notify.OpenFileLedger(path, 0, clock)
	require.NoError(t, err)
	r := newChannelRig(t, rigOptions{ledger: ledger, order: []string{"sms", "email"}})
	r.rec.fail = errors.New("store unavailable")
	err = r.handle(t, ticket.ActionResolve, nil, "7")
	require.Error(t, err, "the record failed: retried")
	assert.False(t, isPermanent(err))
	require.Len(t, r.sms.taken(), 1)
	require.NoError(t, ledger.Close())

	// A new process: a new Notifier, the ledger read back from its file.
	ledger, err = notify.OpenFileLedger(path, 0, clock.Add(time.Hour))
	require.NoError(t, err)
	defer ledger.Close()
	again := newChannelRig(t, rigOptions{ledger: ledger, order: []string{"sms", "email"}})
	require.NoError(t, again.handle(t, ticket.ActionResolve, nil, "7"))
	require.NoError(t, again.handle(t, ticket.ActionResolve, nil, "7"))
	assert.Len(t, r.sms.taken(), 1, "one SMS, from the first process")
	assert.Empty(t, again.sms.taken(), "none from the second")
	assert.Equal(t, []brief{{"7/sms", "resolved", "sms", "138****5678", true, "", 1}}, again.rec.briefs(), "recorded once, when the store took it")
	assert.Empty(t, again.smtp.received())

	// Past the retention, the ledger forgets.
	require.NoError(t, ledger.Close())
	ledger, err = notify.OpenFileLedger(path, 24*time.Hour, clock.Add(48*time.Hour))
	require.NoError(t, err)
	e, ok, err := ledger.Get(context.Background(), "7/sms")
	require.NoError(t, err)
	assert.False(t, ok, "forgotten: %+v", e)
	require.NoError(t, ledger.Close())
}

// TestARefusedChannelIsNotTriedAgainOnRetry: WeChat refused, SMS failed transiently; the
// retry goes straight to SMS.
func TestARefusedChannelIsNotTriedAgainOnRetry(t *testing.T) {
	r := newChannelRig(t, rigOptions{})
	r.wechat.err = notFollowing
	r.sms.set(200, "aliyun/isp.SYSTEM_ERROR.json")
	require.Error(t, r.handle(t, ticket.ActionResolve, nil, "7"))
	r.wechat.err = errors.New("must not be asked again")
	r.sms.set(200, "aliyun/OK.json")
	require.NoError(t, r.handle(t, ticket.ActionResolve, nil, "7"))
	assert.Equal(t, []brief{
		{"7/wechat", "resolved", "wechat", "***", false, "errcode 43004: require subscribe", 1},
		{"7/sms", "resolved", "sms", "138****5678", true, "", 2},
	}, r.rec.briefs())
}

// TestTheClosureLoopsMessages: reminders and the follow-up carry the tracking page, on every
// channel; without TrackingURL the configured confirm_url stands in.
func TestTheClosureLoopsMessages(t *testing.T) {
	r := newChannelRig(t, rigOptions{order: []string{"email"}})
	require.NoError(t, r.handle(t, notify.ActionRemindConfirm, map[string]any{"nth": 2}, "11"))
	require.NoError(t, r.handle(t, notify.ActionFollowupAsked, nil, "12"))
	got := r.smtp.received()
	require.Len(t, got, 2)
	subject, body := readMail(t, got[0].data)
	assert.Equal(t, "提醒：请确认您的报修 GD-20261202-000001 是否已解决", subject)
	assert.Equal(t, "第 2 次提醒：您的报修 GD-20261202-000001（空调不制冷）已处理完成，还在等您确认。请确认是否解决并评价：https://gd.example.com/t/tok-GD-20261202-000001", body)
	subject, body = readMail(t, got[1].data)
	assert.Equal(t, "回访：您的报修 GD-20261202-000001 的问题是否再次出现？", subject)
	assert.Equal(t, "回访：您的报修 GD-20261202-000001（空调不制冷）已处理完成。问题是否再次出现？请告诉我们：https://gd.example.com/t/tok-GD-20261202-000001", body)

	// Without the tracking page: the configured link.
	customers := &fakeSender{}
	n := notify.New(notify.Options{Config: config.Notify{Customers: &config.NotifyCustomers{ConfirmURL: "https://svc.example.com/c/{id}"}},
		Ticket:    func(context.Context, string) (ticket.Ticket, error) { return wechatTicket, nil },
		Customers: map[string]notify.CustomerSender{"gzh": customers}})
	require.NoError(t, n.Handle(context.Background(), event(t, notify.ActionRemindConfirm, ticket.StateResolved, map[string]any{"nth": 1}), map[string]string{"event_id": "13"}))
	require.Len(t, customers.sent, 1)
	assert.Equal(t, "提醒：您的报修 GD-20261202-000001（空调不制冷）已处理完成，还在等您确认。请确认是否解决并评价：https://svc.example.com/c/GD-20261202-000001", customers.sent[0].text)

	// Switched off.
	off := false
	n = notify.New(notify.Options{Config: config.Notify{Customers: &config.NotifyCustomers{FollowupAsked: &off}},
		Ticket:    func(context.Context, string) (ticket.Ticket, error) { return wechatTicket, nil },
		Customers: map[string]notify.CustomerSender{"gzh": customers}})
	require.NoError(t, n.Handle(context.Background(), event(t, notify.ActionFollowupAsked, ticket.StateClosed, nil), map[string]string{"event_id": "14"}))
	assert.Len(t, customers.sent, 1)
}

// readMail decodes a message as a mail client would: the subject's encoded words, the
// base64 body.
func readMail(t *testing.T, data []byte) (subject, body string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	raw, err := io.ReadAll(msg.Body)
	require.NoError(t, err)
	b, err := decodeBase64Lines(string(raw))
	require.NoError(t, err)
	return subject, strings.ReplaceAll(b, "\r\n", "\n")
}

// TestOutsideTheWindowWithoutATemplateFallsBack: WeChat's 45015 and no template for the
// message: SMS takes it.
func TestOutsideTheWindowWithoutATemplateFallsBack(t *testing.T) {
	r := newChannelRig(t, rigOptions{})
	r.wechat.err = outsideWindow{errors.New("errcode 45015: response out of time limit")}
	require.NoError(t, r.handle(t, ticket.ActionResolve, nil, "7"))
	assert.Equal(t, []brief{
		{"7/wechat", "resolved", "wechat", "***", false, "errcode 45015: response out of time limit", 1},
		{"7/sms", "resolved", "sms", "138****5678", true, "", 2},
	}, r.rec.briefs())
}

// TestAVendorThatDoesNotAnswerTimesOut: the request is bounded by sms.timeout, and a timeout
// is retried, not fallen back from.
func TestAVendorThatDoesNotAnswerTimesOut(t *testing.T) {
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang)
	sms := &config.NotifySMS{Vendor: "aliyun", SignName: "服务", Timeout: config.Duration(300 * time.Millisecond),
		Aliyun:    &config.NotifySMSAliyun{AccessKeyID: aliyunKeyID, AccessKeySecret: aliyunKeySecret, Endpoint: slow.URL},
		Templates: map[string]config.NotifySMSTemplate{"resolved": {Template: "SMS_1"}}}
	n := notify.New(notify.Options{Config: config.Notify{Customers: &config.NotifyCustomers{}, Channels: &config.NotifyChannels{Order: []string{"sms"}, SMS: sms}},
		Ticket: func(context.Context, string) (ticket.Ticket, error) { return everywhere, nil }})
	// The server never answers: without the timeout, Handle would not return.
	err := n.Handle(context.Background(), event(t, ticket.ActionResolve, ticket.StateResolved, nil), map[string]string{"event_id": "7"})
	require.Error(t, err)
	assert.False(t, isPermanent(err))
	assert.NotContains(t, err.Error(), aliyunKeySecret)
	assert.NotContains(t, err.Error(), "Signature=", "no URL with its signature in the error")
}

// TestAPlaceholderInATitleIsNotFilled: values are filled in once; a customer's title cannot
// pull another value in.
func TestAPlaceholderInATitleIsNotFilled(t *testing.T) {
	tk := everywhere
	tk.Title = "{tracking_url}"
	r := newChannelRig(t, rigOptions{tk: &tk, order: []string{"email"}})
	r.n = notify.New(notify.Options{
		Config: config.Notify{Customers: &config.NotifyCustomers{}, Channels: &config.NotifyChannels{Order: []string{"email"},
			Email: &config.NotifyEmail{SMTP: r.smtp.addr(), TLS: config.EmailSTARTTLS, Username: smtpUser, Password: smtpPassword,
				From: "service@example.com", Subjects: map[string]string{"resolved": "{title} / {id}"}}}},
		Ticket:    func(context.Context, string) (ticket.Ticket, error) { return tk, nil },
		TLSConfig: &tls.Config{RootCAs: r.smtp.roots},
	})
	require.NoError(t, r.handle(t, ticket.ActionResolve, nil, "7"))
	got := r.smtp.received()
	require.Len(t, got, 1)
	subject, _ := readMail(t, got[0].data)
	assert.Equal(t, "{tracking_url} / GD-20261202-000001", subject)
}
