// Package connectors is the contract every intake channel implements, the registry of
// connector types, the checking of their config against their specs, the docs generated from
// those specs, and the manager that runs the configured instances.
//
// A connector speaks one outside protocol and nothing else: it turns what it receives into
// draft.Envelope values, publishes them, and acks its source only after Publish returned
// (the envelope is durable). It never makes drafts or tickets itself: it names the normalizer
// that reads its envelopes (Connector.Normalizer), and the pipeline runs it.
package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"gongdan/attachments"
	"gongdan/devices"
	"gongdan/draft"
	"gongdan/normalize"
	"gongdan/problem"
)

// Connector is one configured intake channel.
//
// Lifecycle (as Caddy modules): Spec.New builds it from a checked config with no side
// effects; Validate checks what the field lints cannot (cross-field rules, expressions);
// Run receives until its context ends; Close releases everything. Close must work whatever
// happened before it: after a Run that failed halfway, or with Run never called.
type Connector interface {
	// Validate reports config problems, as errors from Conf.Errorf where it can, so that they
	// are shown at the key's file:line. It has no side effects.
	Validate() error
	// Run receives from the source and publishes envelopes until ctx is done, then returns
	// nil. An error return means the connector stopped; the manager records it and runs the
	// connector again after a back-off. Connectors that only answer HTTP requests return
	// when ctx is done.
	Run(ctx context.Context) error
	// Close releases connections, goroutines and files. It is called once, after Run has
	// returned or when Run was never called.
	Close(ctx context.Context) error
	// Normalizer reads the envelopes the connector publishes (draft.FromJSON for envelopes
	// whose payload is a draft; a webhook's field mapping; a WeChat message reader). It is
	// never nil, and it depends only on the connector's config: the pipeline and the dry runs
	// ask for it once, and a replayed envelope meets it again.
	Normalizer() draft.Normalizer
}

// Constructor builds a connector instance. It must have no side effects.
type Constructor func(conf *Conf, env Env) (Connector, error)

// PublishFunc hands an envelope to the pipeline. It returns only once the envelope is
// durable; only then may the connector ack its source. An error means it is not durable: the
// connector must not ack (answer 503, do not PUBACK, do not move its cursor).
type PublishFunc func(ctx context.Context, env draft.Envelope) error

// Env is what the host gives a connector instance.
type Env struct {
	// Publish hands envelopes to the pipeline.
	Publish PublishFunc
	// Stats are the instance's counters; the connector counts what it received and rejected
	// (Publish counts what was published).
	Stats *Stats
	// Logger is the server log, with the connector's name and type attached.
	Logger *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
	// Location is the configured time zone.
	Location *time.Location
	// NewID makes envelope ids.
	NewID func() string
	// Devices is the device registry; nil when none is configured.
	Devices devices.Lookup
	// Enricher is the config's (normalize:), as the pipeline applies it to every draft: a
	// connector that must know at the edge what a message says (a phone number, an address,
	// a category) reads it with the same extractors. The zero value finds phone numbers only.
	Enricher normalize.Enricher
	// Attachments keeps the files that come with messages (a customer's photo); nil: keep
	// references only.
	Attachments *attachments.Store
	// DataDir is the root of the relative paths in the config (serve --data; the other
	// commands' --data): Conf.Path reads a KindPath field under it. Empty: the working
	// directory (tests).
	DataDir string
	// StateDir is a directory of the instance's own for state kept across restarts (alarm
	// state snapshots); the connector creates it on first use. Empty: keep nothing (validate,
	// dry runs).
	StateDir string
}

// HTTPReceiver is a connector that takes requests at /<Spec.Mount>/{name}. The server routes
// every request under that path to it, with the prefix kept.
type HTTPReceiver interface {
	Connector
	http.Handler
}

// SubPaths is an HTTPReceiver that takes requests under its path too (the hotline's
// /ingest/{name}/cdr): Paths names them, without the leading slash. The server answers 404 for
// any other path under a receiver's name, and for every one under a receiver without it.
type SubPaths interface {
	Paths() []string
}

// OpenIntake is implemented by every connector that takes input through gongdan's HTTP server
// (server.http: /ingest/{name}, /wechat/{name}). It names each way in where a caller does not
// prove who it is (no signature, token, or secret in the callback URL), as errors from
// Conf.Errorf at the key that would close it, so that validate reports them at file:line.
// gongdan refuses to serve such a connector on an address other than loopback (DESIGN.md §11,
// docs/SECURITY.md). An empty result: every way in is authenticated. A connector with a
// listener of its own (an embedded broker) checks that listener's address in Validate.
type OpenIntake interface {
	OpenIntake() []error
}

// DryRunner is a connector that can say, without any source, which envelopes an input would
// make: the dry runs (gongdan normalize, gongdan test) feed it a payload from a file.
type DryRunner interface {
	Sample(payload []byte, headers map[string]string) ([]draft.Envelope, error)
}

// Detailer is a connector that reports more than the common counters: GET /api/v1/connectors
// shows what Details returns (JSON-encodable, no secrets) under "details".
type Detailer interface {
	Details() any
}

// Refuse answers a request refused at the edge with p: counted as rejected, its reason kept
// as the connector's last error and logged (what names the request: "webhook request").
func (e Env) Refuse(rw http.ResponseWriter, r *http.Request, what string, p *problem.Problem) {
	e.Stats.Rejected.Add(1)
	e.Stats.Fail(e.Now(), errors.New(p.Detail))
	e.Logger.Info(what+" rejected", "status", p.Status, "reason", p.Detail, "request_id", problem.RequestID(r.Context()))
	problem.Write(rw, r, p)
}

// NotStored answers 503 for a request whose input the bus did not confirm (err): the client
// must send it again, and detail says how.
func (e Env) NotStored(rw http.ResponseWriter, r *http.Request, what string, err error, detail string) {
	e.Stats.Fail(e.Now(), err)
	e.Logger.Error(what+" not taken: the bus did not confirm it", "err", err, "request_id", problem.RequestID(r.Context()))
	rw.Header().Set("Retry-After", "1")
	problem.Write(rw, r, problem.New(http.StatusServiceUnavailable, "unavailable", detail))
}

// PostOnly answers 405 (Allow: POST) to a request that is not a POST, with detail saying how
// to send; false: it did, and the request is done. An HTTPReceiver that takes only POST calls
// it first.
func PostOnly(rw http.ResponseWriter, r *http.Request, detail string) bool {
	if r.Method == http.MethodPost {
		return true
	}
	rw.Header().Set("Allow", http.MethodPost)
	problem.Write(rw, r, problem.New(http.StatusMethodNotAllowed, "method-not-allowed", detail))
	return false
}

// Accepted answers 202 with body as JSON: what the request brought is durable.
func Accepted(rw http.ResponseWriter, body any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusAccepted)
	json.NewEncoder(rw).Encode(body)
}
