// Package webhook is the webhook connector: JSON requests at POST /ingest/{name}, acked with
// 202 once the envelope is durable, turned into drafts as they are or through a mapping.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"gongdan/connectors"
	"gongdan/normalize"
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
	sig         *signature
}

type signature struct {
	header, prefix, encoding string
	secret                   []byte
}

func newWebhook(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
	w := &Webhook{
		name:        conf.Name(),
		env:         env,
		conf:        conf,
		dedupHeader: conf.String(fieldDedupHeader),
		maxBody:     int64(conf.Int(fieldMaxBodyBytes)),
		keep:        conf.StringList(fieldKeepHeaders),
	}
	if s := conf.Object(fieldSignature); s != nil {
		w.sig = &signature{
			header:   s.String(fieldSigHeader),
			prefix:   s.String(fieldSigPrefix),
			encoding: s.String(fieldSigEncoding),
			secret:   []byte(s.Secret(fieldSigSecret).Reveal()),
		}
	}
	if conf.Has(fieldMapping) {
		w.mapping, w.mapErrs = compileMapping(conf.StringMapKeys(fieldMapping), conf.StringMap(fieldMapping))
	}
	return w, nil
}

// Validate reports mapping entries that name no draft field or do not compile, each at its
// line.
func (w *Webhook) Validate() error {
	var errs []error
	for _, f := range w.conf.StringMapKeys(fieldMapping) {
		if err := w.mapErrs[f]; err != nil {
			errs = append(errs, w.conf.Errorf(fieldMapping+"."+f, "%v", err))
		}
	}
	for _, h := range w.keep {
		if w.secretHeader(h) {
			errs = append(errs, w.conf.Errorf(fieldKeepHeaders, "%s carries a credential and is never kept", h))
		}
	}
	return errors.Join(errs...)
}

func (w *Webhook) secretHeader(h string) bool {
	h = http.CanonicalHeaderKey(h)
	return h == "Authorization" || h == "Cookie" || (w.sig != nil && h == http.CanonicalHeaderKey(w.sig.header))
}

// Run has nothing to do: requests come through ServeHTTP. It returns when ctx is done.
func (w *Webhook) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Close releases nothing: the server owns the listener.
func (w *Webhook) Close(context.Context) error { return nil }

// Normalizer is the mapping, when there is one; otherwise the envelopes are drafts and the
// normalize registry's "draft" normalizer reads them.
func (w *Webhook) Normalizer() normalize.Normalizer {
	if w.mapping == nil {
		return nil
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
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		problem.Write(rw, r, problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "send requests with POST"))
		return
	}
	w.env.Stats.Received.Add(1)
	env, p := w.envelope(rw, r)
	if p != nil {
		w.env.Refuse(rw, r, "webhook request", p)
		return
	}
	if err := w.env.Publish(r.Context(), env); err != nil {
		w.env.NotStored(rw, r, "webhook request", err, "the request was not stored; retry it (with the same "+w.dedupHeader+" header, if you sent one)")
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusAccepted)
	json.NewEncoder(rw).Encode(accepted{EnvelopeID: env.ID, Connector: w.name})
}

// envelope reads and checks a request; a non-nil problem is the answer to give instead.
func (w *Webhook) envelope(rw http.ResponseWriter, r *http.Request) (normalize.Envelope, *problem.Problem) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return normalize.Envelope{}, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type",
			fmt.Sprintf("send JSON with Content-Type: application/json (got %q)", ct))
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return normalize.Envelope{}, problem.New(http.StatusRequestEntityTooLarge, "payload-too-large",
				fmt.Sprintf("the body is over %d bytes, this connector's max_body_bytes", w.maxBody))
		}
		return normalize.Envelope{}, problem.New(http.StatusBadRequest, "bad-request", "reading the body: "+err.Error())
	}
	if w.sig != nil {
		if detail := w.sig.check(r.Header.Get(w.sig.header), body); detail != "" {
			return normalize.Envelope{}, problem.New(http.StatusUnauthorized, "bad-signature", detail)
		}
	}
	dedup := r.Header.Get(w.dedupHeader)
	if len(dedup) > maxDedupLen {
		// Not a JSON problem: said apart, so the sender looks at its header, not its body.
		return normalize.Envelope{}, problem.New(http.StatusBadRequest, "bad-request",
			fmt.Sprintf("the %s header is longer than %d characters", w.dedupHeader, maxDedupLen))
	}
	headers := map[string]string{}
	for _, h := range w.keep {
		if v := r.Header.Get(h); v != "" {
			headers[headerVar(h)] = v
		}
	}
	env, err := w.makeEnvelope(body, dedup, headers)
	if err != nil {
		return normalize.Envelope{}, problem.New(http.StatusBadRequest, "malformed-json", err.Error())
	}
	return env, nil
}

// maxDedupLen bounds the dedup header, which becomes part of a draft's dedup key.
const maxDedupLen = 200

// makeEnvelope checks that the body is one JSON object and wraps it.
func (w *Webhook) makeEnvelope(body []byte, dedup string, headers map[string]string) (normalize.Envelope, error) {
	if err := checkObject(body); err != nil {
		return normalize.Envelope{}, err
	}
	typ := normalize.TypeDraft
	if w.mapping != nil {
		typ = envelopeTypeMapped
	}
	if len(dedup) > maxDedupLen {
		return normalize.Envelope{}, fmt.Errorf("the %s header is longer than %d characters", w.dedupHeader, maxDedupLen)
	}
	return normalize.Envelope{
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
func (w *Webhook) Sample(payload []byte, headers map[string]string) ([]normalize.Envelope, error) {
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
	env, err := w.makeEnvelope(payload, dedup, kept)
	if err != nil {
		return nil, err
	}
	return []normalize.Envelope{env}, nil
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

// check compares the header's signature with the body's HMAC in constant time. It returns
// what is wrong, without the secret or the expected value.
func (s *signature) check(header string, body []byte) string {
	if header == "" {
		return "the " + s.header + " header with the body's HMAC-SHA256 signature is missing"
	}
	got, ok := strings.CutPrefix(header, s.prefix)
	if !ok {
		return fmt.Sprintf("the %s header must start with %q", s.header, s.prefix)
	}
	var sig []byte
	var err error
	if s.encoding == "base64" {
		sig, err = base64.StdEncoding.DecodeString(got)
	} else {
		sig, err = hex.DecodeString(strings.ToLower(got))
	}
	if err != nil {
		return "the " + s.header + " header is not " + s.encoding
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return "the " + s.header + " signature does not match the body"
	}
	return ""
}

// Interface guards.
var (
	_ connectors.HTTPReceiver       = (*Webhook)(nil)
	_ connectors.NormalizerProvider = (*Webhook)(nil)
	_ connectors.Sampler            = (*Webhook)(nil)
)
