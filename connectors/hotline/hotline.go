package hotline

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"gongdan/connectors"
	"gongdan/connectors/intakeauth"
	"gongdan/draft"
	"gongdan/problem"
)

// EnvelopeType is the type of the hotline's envelopes: an ASR result as its vendor sent it.
// The body is kept as it came, so a dead letter replayed after a fix is read again in full.
const EnvelopeType = "hotline.asr"

// Hotline is one hotline instance.
type Hotline struct {
	name    string
	env     connectors.Env
	conf    *connectors.Conf
	format  Format
	opts    callOptions
	maxBody int64
	auth    *intakeauth.Verifier
	// urlToken is the SHA-256 of callback_token; nil when none is configured.
	urlToken []byte
	// rec keeps calls' recordings; nil without a recordings section.
	rec *recorder
	// join joins transcripts to their call records; nil without a cdr section.
	join     *joiner
	joinErrs map[string]error
	// poll asks vendors for results (iFlytek's on its notice, the tasks posted to /tasks);
	// nil without an iflytek or a poll section.
	poll *poller
}

func newHotline(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
	h := &Hotline{
		name:    conf.Name(),
		env:     env,
		conf:    conf,
		format:  Format(conf.String(fieldFormat)),
		maxBody: int64(conf.Int(fieldMaxBodyBytes)),
		auth:    intakeauth.New(conf, env.Now),
		opts: callOptions{
			enricher:     env.Enricher,
			threadWindow: conf.Duration(fieldThreadWindow),
			agitated:     conf.Float(fieldAgitated),
		},
	}
	if conf.Has(fieldAgentChannel) {
		n := conf.Int(fieldAgentChannel)
		h.opts.roles.AgentChannel = &n
	}
	if conf.Has(fieldAgentSpeaker) {
		n := conf.Int(fieldAgentSpeaker)
		h.opts.roles.AgentSpeaker = &n
	}
	if c := conf.Object(fieldRecordings); c != nil {
		h.rec = newRecorder(c, env.StateDir, env.Attachments)
	}
	if c := conf.Object(fieldCDR); c != nil {
		h.join, h.joinErrs = compileJoiner(c, conf.Duration(fieldCDRWait), env.StateDir)
	}
	if tok := conf.Secret(fieldCallbackToken).Reveal(); tok != "" {
		sum := sha256.Sum256([]byte(tok))
		h.urlToken = sum[:]
	}
	h.compilePoll(conf, env)
	return h, nil
}

// Validate reports what the signature and token checks find, and the cdr section's
// expressions that do not compile, each at its line.
func (h *Hotline) Validate() error {
	errs := []error{h.auth.Validate(h.conf)}
	if c := h.conf.Object(fieldCDR); c != nil {
		keys := make([]string, 0, len(h.joinErrs))
		for k := range h.joinErrs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			errs = append(errs, c.Errorf(k, "%v", h.joinErrs[k]))
		}
	} else if h.conf.Has(fieldCDRWait) {
		errs = append(errs, h.conf.Errorf(fieldCDRWait, "only used with a cdr section: without one a transcript becomes a ticket at once"))
	}
	errs = append(errs, h.validatePoll()...)
	return errors.Join(errs...)
}

// OpenIntake names the hotline's way in when nothing proves who calls it.
func (h *Hotline) OpenIntake() []error {
	if !h.auth.Open() || h.urlToken != nil {
		return nil
	}
	return []error{h.conf.Errorf(fieldCallbackToken,
		"POST /ingest/%s takes calls from anyone who can reach it: give the ASR vendor a callback URL with a secret (callback_token), or have the call centre sign (signature) or send a token (tokens)", h.name)}
}

// Refusals is what GET /api/v1/connectors shows beyond the counters.
type Refusals struct {
	RefusedByReason map[string]int64 `json:"refused_by_reason,omitempty"`
	// Tasks are the ASR tasks the connector asks vendors about (with an iflytek or a poll
	// section).
	Tasks *TaskCounts `json:"asr_tasks,omitempty"`
}

// Details reports the requests refused for who sent them, and the ASR tasks kept.
func (h *Hotline) Details() any {
	d := Refusals{RefusedByReason: h.auth.Refused()}
	if h.poll != nil {
		d.Tasks = h.poll.counts()
	}
	return d
}

// Run publishes, with a cdr section, the transcripts whose record did not come within
// cdr_wait (those waiting when gongdan stopped included), and, with an iflytek or a poll
// section, asks the vendors about the tasks kept (those kept when gongdan stopped included);
// results come through ServeHTTP. It returns when ctx is done.
func (h *Hotline) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if h.join != nil && h.join.dir != "" {
		wg.Go(func() {
			h.join.run(ctx, h.env.Now, h.publishCall, func(err error) {
				h.env.Stats.Fail(h.env.Now(), err)
				h.env.Logger.Error("hotline: a call waiting for its record was not published; trying again", "err", err)
			})
		})
	}
	if h.poll != nil && h.poll.dir != "" {
		wg.Go(func() { h.poll.run(ctx) })
	}
	if h.rec != nil && h.rec.dir != "" && h.rec.store != nil {
		wg.Go(func() {
			h.rec.run(ctx, h.env.Now, h.env.Publish, func(err error) {
				h.env.Stats.Fail(h.env.Now(), err)
				h.env.Logger.Error("hotline: a call waiting for its recording was not published; trying again", "err", err)
			})
		})
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// publishCall publishes a transcript that waited, with its record or (nil) without.
func (h *Hotline) publishCall(ctx context.Context, w waitingCall, c *CDR) error {
	env := h.callEnvelope(w.EnvelopeID, w.ReceivedAt, w.ContentType, w.Body)
	env.Headers = map[string]string{headerCDRMissing: "true"}
	if c != nil {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		env.Headers = map[string]string{headerCDR: string(b)}
	}
	return h.deliver(ctx, env, recordingOf(Transcript{RecordingURL: w.RecordingURL}, c))
}

// Close releases the vendors' idle connections; the server owns the listener.
func (h *Hotline) Close(context.Context) error {
	if h.poll != nil {
		h.poll.close()
	}
	return nil
}

// Normalizer reads a call's envelope: the ASR result decoded again, roles decided, the draft
// made from what the customer said.
func (h *Hotline) Normalizer() draft.Normalizer {
	return draft.NormalizerFunc(func(env draft.Envelope) ([]draft.Draft, error) {
		if env.Type == EnvelopeTypeGaveUp {
			return nil, gaveUpError(env)
		}
		if env.Type != EnvelopeType {
			return nil, fmt.Errorf("envelope type %q: the hotline's envelopes are %q", env.Type, EnvelopeType)
		}
		t, err := Decode(h.format, env.ContentType, env.Payload)
		if err != nil {
			return nil, err // a vendor's failure (Tencent Status 3) is a dead letter with its reason
		}
		o := h.opts
		var rec *CDR
		if b := env.Headers[headerCDR]; b != "" {
			rec = &CDR{}
			if err := json.Unmarshal([]byte(b), rec); err != nil {
				return nil, fmt.Errorf("the call record with the envelope is unreadable: %v", err)
			}
		}
		d := draft.Complete(callDraft(env, withRecord(t, rec, &o), o), env)
		d = noteRecord(d, rec, env.Headers[headerCDRMissing] == "true")
		d = noteRecording(d, env)
		if err := d.Validate(); err != nil {
			return nil, err
		}
		return []draft.Draft{d}, nil
	})
}

// accepted is the answer to a result taken (Tencent's callback gets its own).
type accepted struct {
	Code       int    `json:"code"`
	Message    string `json:"message"`
	EnvelopeID string `json:"envelope_id"`
	Connector  string `json:"connector"`
}

// ServeHTTP takes one ASR result or callback (or, at /cdr, call records): checks who sent it
// and that it is one, publishes it (or keeps it until its record comes) and answers 200 only
// once it is durable.
func (h *Hotline) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/ingest/"+h.name)
	if rest == "/cdr" && h.join != nil {
		h.serveCDR(rw, r)
		return
	}
	if rest == "/tasks" && h.poll != nil {
		h.serveTasks(rw, r)
		return
	}
	if rest != "" && rest != "/" {
		problem.Write(rw, r, problem.New(http.StatusNotFound, "not-found",
			fmt.Sprintf("no endpoint %s under /ingest/%s: ASR results are posted to /ingest/%s itself", rest, h.name, h.name)))
		return
	}
	if h.fetchesIflytek() && (r.Method == http.MethodGet || r.Method == http.MethodPost) && formHas(r.URL.Query(), "orderId") {
		// iFlytek's completion notice: GET callbackUrl?orderId=…&status=1.
		h.serveNotice(rw, r)
		return
	}
	if !connectors.PostOnly(rw, r, "post ASR results and callbacks with POST") {
		return
	}
	h.env.Stats.Received.Add(1)
	env, t, check, p := h.envelope(rw, r)
	if p != nil {
		h.env.Refuse(rw, r, "hotline request", p)
		return
	}
	if t.Shape == shapeIflytekNotice {
		// The notice as a form body.
		form, _ := url.ParseQuery(string(env.Payload))
		h.takeNotice(rw, r, check, form)
		return
	}
	var err error
	if t.Status == StatusDone {
		err = h.takeTranscript(r.Context(), queryOf(r), env, t)
	} else {
		err = h.env.Publish(r.Context(), env) // a vendor's failure: a dead letter, no recording
	}
	if err != nil {
		if check != nil {
			check.Release()
		}
		h.env.NotStored(rw, r, "hotline request", err, "the result was not stored; send it again")
		return
	}
	if t.Shape == "tencent.callback" {
		// Exactly this, or Tencent calls again.
		rw.Header().Set("Content-Type", "application/json")
		io.WriteString(rw, TencentCallbackAnswer)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	json.NewEncoder(rw).Encode(accepted{Code: 0, Message: "success", EnvelopeID: env.ID, Connector: h.name})
}

// takeTranscript hands on a decoded transcript, posted or fetched alike: joined to its call
// record with a cdr section, else delivered (its recording kept first, with a recordings
// section).
func (h *Hotline) takeTranscript(ctx context.Context, query map[string]string, env draft.Envelope, t Transcript) error {
	if h.join != nil {
		return h.awaitRecord(ctx, query, env, t)
	}
	return h.deliver(ctx, env, t.RecordingURL)
}

// awaitRecord joins a transcript to its call record: published with it when the record is
// here, else kept until it comes or cdr_wait passes. A transcript join_on gives no call id
// for is published at once, alone.
func (h *Hotline) awaitRecord(ctx context.Context, query map[string]string, env draft.Envelope, t Transcript) error {
	key, err := h.join.key(t, query)
	if err != nil || key == "" {
		if err != nil {
			h.env.Logger.Warn("hotline: a transcript's call id could not be read; it becomes a ticket without its record", "err", err)
		}
		env.Headers = map[string]string{headerCDRMissing: "true"}
		return h.deliver(ctx, env, t.RecordingURL)
	}
	w := waitingCall{Key: key, Identity: callKey(t, env.Payload), EnvelopeID: env.ID, ReceivedAt: env.ReceivedAt, ContentType: env.ContentType, Query: query, Body: env.Payload,
		RecordingURL: t.RecordingURL}
	return h.join.transcriptArrived(ctx, w, h.publishCall)
}

// queryOf is a request's query, one value a key, without the callback token.
func queryOf(r *http.Request) map[string]string {
	q := map[string]string{}
	for k, vs := range r.URL.Query() {
		if k != "token" && len(vs) > 0 {
			q[k] = vs[0]
		}
	}
	return q
}

// jsonBody checks who sent r and reads its JSON body (howTo says how to send when it is not
// JSON); a non-nil problem is the answer to give. The check, when the request carried a
// signature or token, is to be released if what it brought is not taken.
func (h *Hotline) jsonBody(rw http.ResponseWriter, r *http.Request, howTo string) (*intakeauth.Check, []byte, *problem.Problem) {
	check, p := h.caller(rw, r)
	if p != nil {
		return check, nil, p
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return check, nil, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type", howTo)
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, h.maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return check, nil, problem.New(http.StatusRequestEntityTooLarge, "payload-too-large", fmt.Sprintf("the body is over %d bytes, this connector's max_body_bytes", h.maxBody))
	case err != nil:
		return check, nil, problem.New(http.StatusBadRequest, "bad-request", "reading the body: "+err.Error())
	case check != nil:
		check.Write(body)
		if p := check.Finish(rw); p != nil {
			return check, nil, p
		}
	}
	return check, body, nil
}

// serveCDR takes call records: checks who sent them, maps them, and answers with the
// configured answer once each is published with its transcript or kept until it comes.
func (h *Hotline) serveCDR(rw http.ResponseWriter, r *http.Request) {
	if !connectors.PostOnly(rw, r, "post call records with POST") {
		return
	}
	h.env.Stats.Received.Add(1)
	check, body, p := h.jsonBody(rw, r, "post call records as JSON (application/json)")
	var records []CDR
	if p == nil {
		var err error
		if records, err = h.join.records(body, queryOf(r)); err != nil {
			p = problem.New(http.StatusUnprocessableEntity, "bad-call-record", err.Error())
		}
	}
	if p != nil {
		if check != nil {
			check.Release()
		}
		h.env.Refuse(rw, r, "hotline call record", p)
		return
	}
	for _, c := range records {
		if err := h.join.cdrArrived(r.Context(), c, h.env.Now(), h.publishCall); err != nil {
			if check != nil {
				check.Release()
			}
			h.env.NotStored(rw, r, "hotline call record", err, "the call records were not all stored; post them again")
			return
		}
	}
	rw.Header().Set("Content-Type", "application/json")
	io.WriteString(rw, h.join.answer)
}

// envelope reads and checks a request; a non-nil problem is the answer to give instead.
func (h *Hotline) envelope(rw http.ResponseWriter, r *http.Request) (draft.Envelope, Transcript, *intakeauth.Check, *problem.Problem) {
	check, p := h.caller(rw, r)
	if p != nil {
		return draft.Envelope{}, Transcript{}, nil, p
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") &&
		mt != "application/x-www-form-urlencoded" && mt != "text/plain") {
		return draft.Envelope{}, Transcript{}, nil, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type",
			fmt.Sprintf("send the ASR result as JSON (application/json) or, as Tencent calls back, application/x-www-form-urlencoded (got %q)", ct))
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return draft.Envelope{}, Transcript{}, nil, problem.New(http.StatusRequestEntityTooLarge, "payload-too-large",
				fmt.Sprintf("the body is over %d bytes, this connector's max_body_bytes", h.maxBody))
		}
		return draft.Envelope{}, Transcript{}, nil, problem.New(http.StatusBadRequest, "bad-request", "reading the body: "+err.Error())
	}
	if check != nil {
		check.Write(body)
		if p := check.Finish(rw); p != nil {
			return draft.Envelope{}, Transcript{}, nil, p
		}
	}
	env, t, err := h.makeEnvelope(body, ct)
	if err != nil && t.Shape == shapeIflytekNotice && errors.Is(err, ErrNoResult) && h.fetchesIflytek() {
		return draft.Envelope{Payload: body}, t, check, nil
	}
	if err != nil {
		if check != nil {
			check.Release()
		}
		var de *DecodeError
		if errors.As(err, &de) {
			return draft.Envelope{}, Transcript{}, nil, problem.New(de.Status, problemType(de), de.Reason)
		}
		return draft.Envelope{}, Transcript{}, nil, problem.New(http.StatusBadRequest, "bad-request", err.Error())
	}
	return env, t, check, nil
}

// caller checks who sent r: the secret in the callback URL (?token=, for vendors that cannot
// sign: Tencent, iFlytek), else a token or signature as intakeauth reads them. A nil check
// with no problem: the URL's secret proved it.
func (h *Hotline) caller(rw http.ResponseWriter, r *http.Request) (*intakeauth.Check, *problem.Problem) {
	if q := r.URL.Query().Get("token"); q != "" && h.urlToken != nil {
		sum := sha256.Sum256([]byte(q))
		if subtle.ConstantTimeCompare(sum[:], h.urlToken) == 1 {
			return nil, nil
		}
		return nil, problem.New(http.StatusUnauthorized, "unauthorized", "the callback URL's token is not this connector's")
	}
	if h.urlToken != nil && h.auth.Open() {
		return nil, problem.New(http.StatusUnauthorized, "unauthorized", "the request carries no credential: call back to the URL with its ?token=")
	}
	return h.auth.Begin(rw, r, "")
}

// makeEnvelope decodes body to check it is an ASR result and wraps it. A vendor's failure is
// taken (a dead letter with the vendor's reason, where people see it); anything else Decode
// refuses is refused here, before it is stored.
func (h *Hotline) makeEnvelope(body []byte, contentType string) (draft.Envelope, Transcript, error) {
	t, err := Decode(h.format, contentType, body)
	if err != nil && !errors.Is(err, ErrVendorFailed) {
		return draft.Envelope{}, t, err
	}
	return h.callEnvelope(h.env.NewID(), h.env.Now().In(h.env.Location), contentType, body), t, nil
}

// callEnvelope is the envelope of an ASR result.
func (h *Hotline) callEnvelope(id string, at time.Time, contentType string, body []byte) draft.Envelope {
	return draft.Envelope{
		ID:            id,
		Connector:     h.name,
		ConnectorType: TypeHotline,
		Type:          EnvelopeType,
		ReceivedAt:    at,
		ContentType:   contentType,
		Payload:       body,
	}
}

// problemType names a decode error's kind for problem+json.
func problemType(de *DecodeError) string {
	switch {
	case errors.Is(de, ErrMalformed):
		return "malformed-body"
	case errors.Is(de, ErrTooLarge):
		return "payload-too-large"
	case errors.Is(de, ErrNotFinished):
		return "task-not-finished"
	case errors.Is(de, ErrEmptyTranscript):
		return "empty-transcript"
	case errors.Is(de, ErrNoResult):
		return "no-result"
	}
	return "not-an-asr-result"
}

// Sample makes the envelope a result with this body would make, for dry runs.
func (h *Hotline) Sample(payload []byte, headers map[string]string) ([]draft.Envelope, error) {
	ct := "application/json"
	for k, v := range headers {
		if strings.EqualFold(k, "Content-Type") {
			ct = v
		}
	}
	env, _, err := h.makeEnvelope(payload, ct)
	if err != nil {
		return nil, err
	}
	return []draft.Envelope{env}, nil
}

// Paths are the paths under /ingest/{name} the hotline takes: its call records' with a cdr
// section, ASR task ids' with an iflytek or a poll section.
func (h *Hotline) Paths() []string {
	var paths []string
	if h.join != nil {
		paths = append(paths, "cdr")
	}
	if h.poll != nil {
		paths = append(paths, "tasks")
	}
	return paths
}

// Interface guards.
var (
	_ connectors.SubPaths     = (*Hotline)(nil)
	_ connectors.HTTPReceiver = (*Hotline)(nil)
	_ connectors.DryRunner    = (*Hotline)(nil)
	_ connectors.OpenIntake   = (*Hotline)(nil)
	_ connectors.Detailer     = (*Hotline)(nil)
)
