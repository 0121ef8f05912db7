package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"gongdan/config"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/logging"
	"gongdan/pipeline"
)

// Delivery is the outcome of one try to tell a customer one message on one channel, as it is
// recorded on the ticket (Options.Record).
type Delivery struct {
	// Key is the event's id and the channel ("1042/sms"): the same on every redelivery of the
	// event, so a recorder that takes it as its command id records each outcome once. It is
	// also what the vendor carries back in its receipts (Aliyun OutId, Tencent SessionContext,
	// the email's Message-ID).
	Key string `json:"key"`
	// Kind is the message: accepted, resolved, escalated, remind_confirm, followup_asked.
	Kind string `json:"kind"`
	// Channel is wechat, sms or email.
	Channel string `json:"channel"`
	// To is where it went, masked (138****5678, w***@example.com, oWan***).
	To string `json:"to"`
	// OK: the channel took the message. A refusal has OK false and Error set; the next
	// channel is tried after it.
	OK bool `json:"ok"`
	// Error is why the channel refused, phone numbers and addresses masked; never a secret.
	Error string `json:"error,omitempty"`
	// Attempt counts the channels tried for this message, 1 for the first.
	Attempt int `json:"attempt"`
	// At is when the channel answered.
	At time.Time `json:"at"`
}

// Ledger remembers what happened to each delivery, by Delivery.Key, so that an event
// delivered again (a crash before its ack, a retry after a later channel failed, a replayed
// dead letter) neither sends a message twice nor tries a channel that refused it again. The
// vendors offer no dedupe of their own (Aliyun's SendSms "不支持幂等", Tencent's SendSms
// neither), so this is the guard. Implementations must be safe for concurrent use.
type Ledger interface {
	// Get returns the entry kept for key, and whether there is one.
	Get(ctx context.Context, key string) (LedgerEntry, bool, error)
	// Put keeps e under key, durably before it returns.
	Put(ctx context.Context, key string, e LedgerEntry) error
}

// LedgerEntry is what a Ledger keeps of one delivery.
type LedgerEntry struct {
	Delivery Delivery `json:"delivery"`
	// Recorded: Options.Record took the delivery; until then a redelivery records it again.
	Recorded bool `json:"recorded"`
}

// channel reaches a ticket's customer one way.
type channel interface {
	name() string
	// send tells t's customer m. It returns where the message went, masked. An error that
	// refused reports (isRefusal) hands the message to the next channel; an unreachable one
	// says the customer has no address here (nothing was tried); any other is transient and
	// retried by the pipeline.
	send(ctx context.Context, t ticket.Ticket, m message, key string) (to string, err error)
}

// unreachable is a channel that has no address for the customer (no openid, no phone number,
// no email, no template for the message): skipped, not a failure.
type unreachable struct{ why string }

func (u unreachable) Error() string { return u.why }

// refusal is a channel's answer that no retry changes, for this message on this channel: the
// next channel is tried. ops marks refusals only the operator can fix (credentials, an
// unapproved template or signature, an exhausted balance): logged as errors.
type refusal struct {
	err error
	ops bool
}

func (r refusal) Error() string   { return r.err.Error() }
func (r refusal) Unwrap() error   { return r.err }
func (r refusal) Permanent() bool { return true }

func refused(format string, args ...any) error {
	return refusal{err: fmt.Errorf(format, args...)}
}

func refusedOps(format string, args ...any) error {
	return refusal{err: fmt.Errorf(format, args...), ops: true}
}

// isRefusal reports an error that a retry cannot change: a refusal of ours, or any error
// that says Permanent (the WeChat connector's: not following, outside the 48 hours).
func isRefusal(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// order is the channels to try for customer c: their own order where it names channels
// this Notifier has, else the configured one.
func (n *Notifier) order(c draft.Customer) []channel {
	var out []channel
	for _, name := range c.Channels {
		name = strings.ToLower(strings.TrimSpace(name))
		if ch := n.channels[name]; ch != nil && !slices.Contains(out, ch) {
			out = append(out, ch)
		}
	}
	if len(out) > 0 {
		return out
	}
	return n.defaultOrder
}

// tellCustomer tells t's customer m on the first channel of their order that takes it,
// falling back to the next on a refusal and returning a transient failure for the pipeline
// to retry. Every outcome is kept in the ledger and recorded on the ticket.
func (n *Notifier) tellCustomer(ctx context.Context, t ticket.Ticket, m message, eventID string) error {
	var refusals []string
	attempt := 0
	for _, ch := range n.order(t.Customer) {
		key := eventID + "/" + ch.name()
		e, seen, err := n.ledger.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("notify: reading the delivery ledger: %w", err)
		}
		if seen {
			// Handled before this delivery of the event: not sent again.
			attempt = e.Delivery.Attempt
			if !e.Recorded {
				if err := n.record(ctx, t.ID, key, e.Delivery); err != nil {
					return err
				}
			}
			if e.Delivery.OK {
				return nil
			}
			refusals = append(refusals, ch.name()+": "+e.Delivery.Error)
			continue
		}
		to, err := ch.send(ctx, t, m, key)
		var u unreachable
		if errors.As(err, &u) {
			n.opts.Logger.Debug("notify: a channel has no address for the customer", "ticket", t.ID, "kind", m.kind, "channel", ch.name(), "why", u.why)
			continue
		}
		if err != nil && !isRefusal(err) {
			n.opts.Logger.Warn("notify: a channel failed; the event is retried", "ticket", t.ID, "kind", m.kind, "channel", ch.name(), "to", to, "err", clean(err))
			return fmt.Errorf("notify: %s %s by %s: %s", t.ID, m.kind, ch.name(), clean(err))
		}
		attempt++
		d := Delivery{Key: key, Kind: m.kind, Channel: ch.name(), To: to, OK: err == nil, Attempt: attempt, At: n.opts.Now()}
		if err != nil {
			d.Error = clean(err)
			level := n.opts.Logger.Warn
			var r refusal
			if errors.As(err, &r) && r.ops {
				level = n.opts.Logger.Error
			}
			level("notify: a channel refused the message; the next is tried", "ticket", t.ID, "kind", m.kind, "channel", ch.name(), "to", to, "attempt", attempt, "err", d.Error)
		} else {
			n.opts.Logger.Info("notify: told the customer", "ticket", t.ID, "kind", m.kind, "channel", ch.name(), "to", to, "attempt", attempt)
		}
		if err := n.ledger.Put(ctx, key, LedgerEntry{Delivery: d}); err != nil {
			n.opts.Logger.Error("notify: the delivery ledger did not keep a delivery; a redelivery may send it again", "ticket", t.ID, "key", key, "err", err)
			return fmt.Errorf("notify: keeping %s in the delivery ledger: %w", key, err)
		}
		if err := n.record(ctx, t.ID, key, d); err != nil {
			return err
		}
		if d.OK {
			return nil
		}
		refusals = append(refusals, ch.name()+": "+d.Error)
	}
	if len(refusals) == 0 {
		n.opts.Logger.Info("notify: no channel has an address for the customer", "ticket", t.ID, "kind", m.kind)
		return nil
	}
	return pipeline.Permanent(fmt.Errorf("notify: %s %s: no channel reached the customer: %s", t.ID, m.kind, strings.Join(refusals, "; ")))
}

// record hands d to Options.Record and marks it recorded in the ledger.
func (n *Notifier) record(ctx context.Context, ticketID, key string, d Delivery) error {
	if n.opts.Record != nil {
		if err := n.opts.Record(ctx, ticketID, d); err != nil {
			return fmt.Errorf("notify: recording the %s delivery on %s: %w", d.Channel, ticketID, err)
		}
	}
	return n.ledger.Put(ctx, key, LedgerEntry{Delivery: d, Recorded: true})
}

// maxErrorText bounds an error kept on a ticket.
const maxErrorText = 300

var emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

// clean is err's text fit for a log and a ticket: phone numbers and email addresses masked,
// clipped.
func clean(err error) string {
	s := logging.MaskPhones(err.Error())
	s = emailPattern.ReplaceAllStringFunc(s, maskEmail)
	return draft.Clip(s, maxErrorText)
}

// maskEmail keeps an address's first letter and its domain: w***@example.com.
func maskEmail(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return "***"
	}
	r := []rune(local)
	return string(r[0]) + "***@" + domain
}

// maskID keeps the start of an opaque id (an openid): enough to tell two apart in a log.
func maskID(id string) string {
	r := []rune(id)
	if len(r) <= 6 {
		return "***"
	}
	return string(r[:4]) + "***"
}

// wechatChannel tells the customer on the WeChat account their ticket came in by, with the
// template message standing in outside the 48 hours.
type wechatChannel struct{ n *Notifier }

func (wechatChannel) name() string { return config.ChannelWeChat }

func (w wechatChannel) send(ctx context.Context, t ticket.Ticket, m message, key string) (string, error) {
	if len(t.Sources) == 0 {
		return "", unreachable{"the ticket has no source"}
	}
	via := t.Sources[0].Source.Connector
	sender := w.n.opts.Customers[via]
	if sender == nil {
		return "", unreachable{fmt.Sprintf("came in through %s, which does not reach customers", via)}
	}
	to := maskID(t.Customer.WechatOpenID)
	if t.Customer.WechatOpenID == "" {
		to = maskID(t.Customer.ID)
	}
	ok, err := sender.TellCustomer(ctx, t.Sources[0], t.Customer, m.text)
	var win interface{ OutsideWindow() bool }
	if errors.As(err, &win) && win.OutsideWindow() {
		eventID, _, _ := strings.Cut(key, "/")
		if sent, terr := w.n.template(ctx, sender, t, m, eventID); sent {
			return to, terr
		}
	}
	if err == nil && !ok {
		return "", unreachable{fmt.Sprintf("%s has no way to reach this customer", via)}
	}
	return to, err
}

// Interface guards.
var (
	_ channel = wechatChannel{}
	_ error   = refusal{}
	_ error   = unreachable{}
)
