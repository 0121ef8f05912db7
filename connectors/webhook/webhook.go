// Package webhook is the webhook connector: JSON requests at POST /ingest/{name}, acked with
// 202 once the envelope is durable, turned into drafts as they are or through a mapping.
package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"gongdan/connectors"
	"gongdan/connectors/intakeauth"
	"gongdan/draft"
	"gongdan/problem"
)

// Webhook is one webhook instance.
type Webhook struct {
	name        string
	env         connectors.Env
	conf        *connectors.Conf
	mapping     *mapping
	mapErrs     map[string]error
	dedupHeader string
	maxBody     int64
	keep        []string
	auth        *intakeauth.Verifier
}

func newWebhook(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
	w := &Webhook{
		name:        conf.Name(),
		env:         env,
		conf:        conf,
		dedupHeader: conf.String(fieldDedupHeader),
		maxBody:     int64(conf.Int(fieldMaxBodyBytes)),
		keep:        conf.StringList(fieldKeepHeaders),
		auth:        intakeauth.New(conf, env.Now),
	}
	if conf.Has(fieldMapping) {
		w.mapping, w.mapErrs = compileMapping(conf.StringMapKeys(fieldMapping), conf.StringMap(fieldMapping))
	}
	return w, nil
}

// Validate reports mapping entries that name no draft field or do not compile, each at its
// line, credential headers in keep_headers, and what the signature and token checks find.
func (w *Webhook) Validate() error {
	errs := []error{w.auth.Validate(w.conf)}
	for _, f := range w.conf.StringMapKeys(fieldMapping) {
		if err := w.mapErrs[f]; err != nil {
			errs = append(errs, w.conf.Errorf(fieldMapping+"."+f, "%v", err))
		}
	}
	for _, h := range w.keep {
		if w.auth.CredentialHeader(h) {
			errs = append(errs, w.conf.Errorf(fieldKeepHeaders, "%s carries a credential and is never kept", h))
		}
	}
	return errors.Join(errs...)
}

// OpenIntake names the webhook's way in when it authenticates nobody: whoever reaches it sends
// requests, drafts included, as this connector.
func (w *Webhook) OpenIntake() []error {
	if !w.auth.Open() {
		return nil
	}
	return []error{w.conf.Errorf(intakeauth.FieldSignature,
		"POST /ingest/%s takes requests from anyone who can reach it: sign them (signature) or give the sender a token (tokens)", w.name)}
}

// Status is what GET /api/v1/connectors shows beyond the counters.
type Status struct {
	// RefusedByReason counts the requests refused for who sent them: missing, bad_token,
	// bad_signature, bad_timestamp, stale_timestamp, bad_key, replayed, replay_memory_full.
	RefusedByReason map[string]int64 `json:"refused_by_reason,omitempty"`
}

// Details reports the requests refused for who sent them, replays among them.
func (w *Webhook) Details() any { return Status{RefusedByReason: w.auth.Refused()} }

// Run has nothing to do: requests come through ServeHTTP. It returns when ctx is done.
func (w *Webhook) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Close releases nothing: the server owns the listener.
func (w *Webhook) Close(context.Context) error { return nil }

// Normalizer is the mapping, when there is one; otherwise the envelopes are drafts, which
// draft.FromJSON reads.
func (w *Webhook) Normalizer() draft.Normalizer {
	if w.mapping == nil {
		return draft.NormalizerFunc(draft.FromJSON)
	}
	return w.mapping
}

// accepted is the 202 answer.
type accepted struct {
	EnvelopeID string `json:"envelope_id"`
	Connector  string `json:"connector"`
}

// ServeHTTP takes one request: checks it, publishes its envelope and answers 202 only once the
// envelope is durable.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if !connectors.PostOnly(rw, r, "send requests with POST") {
		return
	}
	w.env.Stats.Received.Add(1)
	env, check, p := w.envelope(rw, r)
	if p != nil {
		w.env.Refuse(rw, r, "webhook request", p)
		return
	}
	if err := w.env.Publish(r.Context(), env); err != nil {
		check.Release() // not taken: the very same signed request may come again
		w.env.NotStored(rw, r, "webhook request", err, "the request was not stored; retry it (with the same "+w.dedupHeader+" header, if you sent one)")
		return
	}
	connectors.Accepted(rw, accepted{EnvelopeID: env.ID, Connector: w.name})
}

// envelope reads and checks a request; a non-nil problem is the answer to give instead. The
// check it returns holds the request's claim against replays.
func (w *Webhook) envelope(rw http.ResponseWriter, r *http.Request) (draft.Envelope, *intakeauth.Check, *problem.Problem) {
	dedup := r.Header.Get(w.dedupHeader)
	if len(dedup) > maxDedupLen {
		// Not a JSON problem: said apart, so the sender looks at its header, not its body.
		return draft.Envelope{}, nil, problem.New(http.StatusBadRequest, "bad-request",
			fmt.Sprintf("the %s header is longer than %d characters", w.dedupHeader, maxDedupLen))
	}
	// A token is checked before the body is read: a caller without one costs nothing more.
	check, p := w.auth.Begin(rw, r, dedup)
	if p != nil {
		return draft.Envelope{}, nil, p
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return draft.Envelope{}, nil, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type",
			fmt.Sprintf("send JSON with Content-Type: application/json (got %q)", ct))
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return draft.Envelope{}, nil, problem.New(http.StatusRequestEntityTooLarge, "payload-too-large",
				fmt.Sprintf("the body is over %d bytes, this connector's max_body_bytes", w.maxBody))
		}
		return draft.Envelope{}, nil, problem.New(http.StatusBadRequest, "bad-request", "reading the body: "+err.Error())
	}
	check.Write(body)
	if p := check.Finish(rw); p != nil {
		return draft.Envelope{}, nil, p
	}
	if check.Caller().Signed && !w.auth.SignsKey() {
		// Signed over the body alone: the header is the sender's word, and anyone replaying
		// the body could change it. The body is what was proven, so it is the request's key.
		dedup = bodyKey(body)
	}
	headers := map[string]string{}
	for _, h := range w.keep {
		if v := r.Header.Get(h); v != "" {
			headers[headerVar(h)] = v
		}
	}
	env, err := w.makeEnvelope(body, dedup, headers)
	if err != nil {
		check.Release()
		return draft.Envelope{}, nil, problem.New(http.StatusBadRequest, "malformed-json", err.Error())
	}
	return env, check, nil
}

// maxDedupLen bounds the dedup header, which becomes part of a draft's dedup key.
const maxDedupLen = 200

// makeEnvelope checks that the body is one JSON object and wraps it.
func (w *Webhook) makeEnvelope(body []byte, dedup string, headers map[string]string) (draft.Envelope, error) {
	if err := checkObject(body); err != nil {
		return draft.Envelope{}, err
	}
	typ := draft.TypeDraft
	if w.mapping != nil {
		typ = envelopeTypeMapped
	}
	if len(dedup) > maxDedupLen {
		return draft.Envelope{}, fmt.Errorf("the %s header is longer than %d characters", w.dedupHeader, maxDedupLen)
	}
	return draft.Envelope{
		ID:            w.env.NewID(),
		Connector:     w.name,
		ConnectorType: "webhook",
		Type:          typ,
		ReceivedAt:    w.env.Now().In(w.env.Location),
		DedupKey:      dedup,
		ContentType:   "application/json",
		Headers:       headers,
		Payload:       body,
	}, nil
}

// Sample makes the envelope a request with this body would make, for dry runs.
func (w *Webhook) Sample(payload []byte, headers map[string]string) ([]draft.Envelope, error) {
	kept := map[string]string{}
	var dedup string
	for k, v := range headers {
		if strings.EqualFold(k, w.dedupHeader) {
			dedup = v
		}
		for _, h := range w.keep {
			if strings.EqualFold(k, h) {
				kept[headerVar(h)] = v
			}
		}
	}
	if w.auth.Signed() && !w.auth.SignsKey() {
		dedup = bodyKey(payload) // as a request signed over its body alone is keyed
	}
	env, err := w.makeEnvelope(payload, dedup, kept)
	if err != nil {
		return nil, err
	}
	return []draft.Envelope{env}, nil
}

// bodyKey is the key of a request signed over its body alone: the body's SHA-256.
func bodyKey(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256-" + hex.EncodeToString(sum[:])
}

// headerVar is how a header is named in mapping expressions: X-Request-Id → x_request_id.
func headerVar(h string) string { return strings.ReplaceAll(strings.ToLower(h), "-", "_") }

// checkObject reports whether body is exactly one JSON object, with the place it goes wrong.
func checkObject(body []byte) error {
	var probe json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, se)
		}
		return fmt.Errorf("malformed JSON: %v", err)
	}
	if t := strings.TrimSpace(string(probe)); !strings.HasPrefix(t, "{") {
		return errors.New("the body must be one JSON object")
	}
	return nil
}

// Interface guards.
var (
	_ connectors.HTTPReceiver = (*Webhook)(nil)
	_ connectors.DryRunner    = (*Webhook)(nil)
	_ connectors.OpenIntake   = (*Webhook)(nil)
	_ connectors.Detailer     = (*Webhook)(nil)
)
