package hotline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/time/rate"

	"gongdan/connectors"
	"gongdan/draft"
)

// shapeIflytekNotice is the Transcript shape Decode gives iFlytek's completion notice.
const shapeIflytekNotice = "iflytek.callback"

// compilePoll builds the poller from the iflytek and poll sections; without either the
// connector asks no vendor. It has no side effects: clients and limiters only.
func (h *Hotline) compilePoll(conf *connectors.Conf, env connectors.Env) {
	ifl, pc := conf.Object(fieldIflytek), conf.Object(fieldPoll)
	if ifl == nil && pc == nil {
		return
	}
	p := newPoller(env.StateDir, env.Now, env.Location)
	if ifl != nil {
		c := newVendorClient(ifl.String(fieldBaseURL))
		interval := ifl.Duration(fieldInterval)
		p.vendors[FormatIflytek] = &pollVendor{
			format: FormatIflytek, name: "iFlytek", api: "getResult", taskWord: "order", configKey: fieldIflytek,
			ask:       iflytekAsk(c, ifl.String(fieldAppID), ifl.Secret(fieldSecretKey).Reveal(), env.Now),
			limiter:   rate.NewLimiter(rate.Limit(ifl.Float(fieldRate)), 1),
			retention: iflytekRetention, maxCalls: iflytekMaxCalls,
			// The budget spread over the retention: 100 calls last the 72 hours.
			interval: interval, maxDelay: max(interval, iflytekRetention/iflytekMaxCalls),
			close: c.GetClient().CloseIdleConnections,
		}
	}
	if pc != nil {
		interval, maxDelay := pc.Duration(fieldInterval), max(pc.Duration(fieldMaxInterval), pc.Duration(fieldInterval))
		if tc := pc.Object(fieldTencent); tc != nil {
			c := newVendorClient(tc.String(fieldEndpoint))
			p.vendors[FormatTencent] = &pollVendor{
				format: FormatTencent, name: "Tencent", api: tencentAction, taskWord: "task", configKey: fieldPoll + "." + fieldTencent,
				ask:       tencentAsk(c, tc.String(fieldSecretID), tc.Secret(fieldSecretKey).Reveal(), tc.String(fieldRegion), env.Now),
				limiter:   rate.NewLimiter(rate.Limit(tc.Float(fieldRate)), 1),
				retention: tencentRetention, interval: interval, maxDelay: maxDelay, perDay: true,
				close: c.GetClient().CloseIdleConnections,
			}
		}
		if ac := pc.Object(fieldAliyun); ac != nil {
			c := newVendorClient(ac.String(fieldEndpoint))
			p.vendors[FormatAliyun] = &pollVendor{
				format: FormatAliyun, name: "Aliyun", api: aliyunAction, taskWord: "task", configKey: fieldPoll + "." + fieldAliyun,
				ask:       aliyunAsk(c, ac.String(fieldAccessKeyID), ac.Secret(fieldAccessKeySecret).Reveal(), env.Now),
				limiter:   rate.NewLimiter(rate.Limit(ac.Float(fieldRate)), 1),
				retention: aliyunRetention, interval: interval, maxDelay: maxDelay,
				close: c.GetClient().CloseIdleConnections,
			}
		}
	}
	p.publish, p.publishGaveUp = h.publishFetched, h.publishGaveUp
	p.gaveUpHook = func(t asrTask) {
		h.env.Stats.Fail(h.env.Now(), errors.New(t.Reason))
		h.env.Logger.Error("hotline: gave up fetching an ASR result; it becomes a dead letter", "vendor", t.Vendor, "task_id", t.TaskID, "calls", t.Calls, "reason", t.Reason)
	}
	p.warn = func(msg string, t asrTask, err error) {
		h.env.Stats.Fail(h.env.Now(), fmt.Errorf("%s %s: %v", t.Vendor, t.TaskID, err))
		h.env.Logger.Warn("hotline: "+msg, "vendor", t.Vendor, "task_id", t.TaskID, "err", err)
	}
	h.poll = p
}

// validatePoll reports what the iflytek and poll sections cannot mean.
func (h *Hotline) validatePoll() []error {
	var errs []error
	if pc := h.conf.Object(fieldPoll); pc != nil {
		if pc.Object(fieldTencent) == nil && pc.Object(fieldAliyun) == nil {
			errs = append(errs, h.conf.Errorf(fieldPoll, "names no vendor to poll: add tencent or aliyun (or both) with their keys"))
		}
		if pc.Has(fieldMaxInterval) && pc.Duration(fieldMaxInterval) < pc.Duration(fieldInterval) {
			errs = append(errs, pc.Errorf(fieldMaxInterval, "is shorter than interval (%s): the back-off starts at interval and grows to max_interval", pc.Duration(fieldInterval)))
		}
	}
	if h.poll == nil || h.format == FormatAuto {
		return errs
	}
	for f, v := range h.poll.vendors {
		if f != h.format {
			errs = append(errs, h.conf.Errorf(fieldFormat, "format %s refuses %s's results, which %s fetches: use format auto (or %s)", h.format, v.name, v.configKey, f))
		}
	}
	return errs
}

func (h *Hotline) fetchesIflytek() bool { return h.poll != nil && h.poll.vendors[FormatIflytek] != nil }

// publishFetched publishes a vendor's answer as the envelope it would make posted to
// /ingest/{name}, with the envelope id and time fixed when its task came; with a cdr section
// a result is joined to its call record first, as a posted one is.
func (h *Hotline) publishFetched(ctx context.Context, t asrTask) error {
	env := h.callEnvelope(t.EnvelopeID, t.ReceivedAt, "application/json", t.Body)
	tr, err := Decode(t.Vendor, env.ContentType, t.Body)
	if err != nil {
		return h.env.Publish(ctx, env) // the vendor's failure: a dead letter with its reason
	}
	return h.takeTranscript(ctx, t.Query, env, tr)
}

// publishGaveUp publishes the failure of a task given up: a dead letter with the reason.
func (h *Hotline) publishGaveUp(ctx context.Context, t asrTask) error {
	b, err := json.Marshal(gaveUp{Vendor: t.Vendor, TaskID: t.TaskID, Query: t.Query, Calls: t.Calls, ReceivedAt: t.ReceivedAt, Reason: t.Reason})
	if err != nil {
		return err
	}
	return h.env.Publish(ctx, draft.Envelope{
		ID: t.GaveUpID, Connector: h.name, ConnectorType: TypeHotline, Type: EnvelopeTypeGaveUp,
		ReceivedAt: t.ReceivedAt, ContentType: "application/json", Payload: b,
	})
}

// gaveUpError is the normalizer's answer to a gave-up envelope: the reason, as the dead
// letter shows it.
func gaveUpError(env draft.Envelope) error {
	var g gaveUp
	if err := json.Unmarshal(env.Payload, &g); err != nil {
		return fmt.Errorf("%w: the envelope is unreadable: %v", ErrGaveUp, err)
	}
	call := ""
	if id := g.Query["call_id"]; id != "" {
		call = " (call " + clip(id, 128) + ")"
	}
	return fmt.Errorf("%w: %s%s; hand the task over again at /ingest/%s/tasks once the cause is fixed", ErrGaveUp, g.Reason, call, env.Connector)
}
