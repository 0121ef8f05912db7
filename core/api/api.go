// Package api is gongdan's HTTP surface (DESIGN.md §6): the ticket endpoints, the event
// stream, health and metrics. It translates HTTP to engine calls and errors to problem+json;
// it holds no ticket logic of its own.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gongdan/attachments"
	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/devices"
	"gongdan/draft"
	"gongdan/pipeline/deadletter"
	"gongdan/problem"
)

// Token maps a bearer token to who uses it.
type Token struct {
	Token string
	Actor ticket.Actor
	// Demo tokens are well known, so they are honoured only from a client on this host that
	// did not come through a proxy (Client.Local).
	Demo bool
}

// Options configure the API.
type Options struct {
	Engine *engine.Engine
	Store  store.Store
	Tokens []Token
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies (413 beyond). Default 1 MiB.
	MaxBodyBytes int64
	// Gatherer serves /metrics; Registerer receives the HTTP metrics. Both may be nil.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	// Heartbeat is the interval of keep-alive comments on the event stream. Default 15s.
	Heartbeat time.Duration
	// Connectors reports the running connectors' state and counters for /api/v1/connectors
	// (JSON-encodable, no secrets); nil: none.
	Connectors func() any
	// Edge are the handlers mounted beside the API, under its middleware: the connectors'
	// HTTP intake (see Route).
	Edge []Route
	// DeadLetters and Replayer serve /api/v1/deadletters. Nil: the endpoints answer 503.
	DeadLetters deadletter.Store
	Replayer    Replayer
	// Devices is the device registry that /api/v1/devices reads and edits, the same one the
	// connectors look devices up in, so an edit applies to the next message. Nil: the
	// endpoints answer 503.
	Devices *devices.Registry
	// DeviceHistory is predictive maintenance (package predict's Tracker): device answers
	// show each device's history, and /api/v1/reports/devices ranks them. Nil (no predict
	// section): device answers show none, and the report answers 404.
	DeviceHistory DeviceHistory
	// Attachments serves GET /api/v1/attachments/{sha256}. Nil: 404.
	Attachments *attachments.Store
	// Ready are what /readyz checks besides the store's Ping, such as a probe write to the
	// store and a probe publish to the bus, so that a server that cannot write (a full disk)
	// is not ready. Each error names what cannot work and why; it is shown to any caller,
	// so it carries no paths or addresses. They run at once, and should keep their answers
	// for a moment: /readyz may be asked often. Nil: Ping only.
	Ready []func(ctx context.Context) error
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and X-Real-IP are believed
	// (server.trusted_proxies); see Client. None: the client is always the TCP peer.
	TrustedProxies []netip.Prefix
	// MetricsToken, when set, is a bearer token that may read /metrics (admin tokens may
	// too); when empty, /metrics answers without a token to a Local client only.
	MetricsToken string
	// Suggest gives a draft sent to POST /api/v1/tickets the knowledge articles that match it
	// (draft.Suggestions), as the pipeline gives every connector's draft. Suggestions are
	// gongdan's own: any the caller sent are dropped either way. Nil: none.
	Suggest func(draft.Draft) []draft.Suggestion
	// TrackingURL makes a customer's tracking link from its token; staff see it in a ticket's
	// JSON as tracking_url. Nil: the closing loop is off, and tickets carry none.
	TrackingURL TrackingURL
}

// Server is the HTTP handler. Use New.
type Server struct {
	handler http.Handler
	closing chan struct{}
	once    sync.Once
	opts    Options
	tokens  map[[32]byte]Token
	// metricsToken is the SHA-256 of Options.MetricsToken; nil when there is none.
	metricsToken []byte
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	// roles are the roles each route's pattern admits (RolesFor).
	roles map[string][]ticket.Role
}

// New returns the HTTP handler.
func New(opts Options) (*Server, error) {
	if opts.Engine == nil || opts.Store == nil {
		return nil, errors.New("api: Engine and Store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	s := &Server{opts: opts, tokens: map[[32]byte]Token{}, closing: make(chan struct{}), roles: map[string][]ticket.Role{}}
	for _, t := range opts.Tokens {
		// Look tokens up by their hash: the lookup's timing then says nothing about the token.
		s.tokens[sha256.Sum256([]byte(t.Token))] = t
	}
	if opts.MetricsToken != "" {
		sum := sha256.Sum256([]byte(opts.MetricsToken))
		s.metricsToken = sum[:]
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gongdan_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gongdan_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method"})
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{s.requests, s.latency} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}

	mux := http.NewServeMux()
	staff := []ticket.Role{ticket.RoleAdmin, ticket.RoleSupervisor, ticket.RoleDispatcher, ticket.RoleEngineer, ticket.RoleAgent, ticket.RoleQA, ticket.RoleSystem}
	creators := []ticket.Role{ticket.RoleAdmin, ticket.RoleSupervisor, ticket.RoleDispatcher, ticket.RoleEngineer, ticket.RoleAgent, ticket.RoleSystem}
	everyone := append(slices.Clone(staff), ticket.RoleCustomer)
	s.handle(mux, "POST /api/v1/tickets", creators, s.createTicket)
	s.handle(mux, "GET /api/v1/tickets", staff, s.listTickets)
	s.handle(mux, "GET /api/v1/tickets/{id}", everyone, s.getTicket)
	s.handle(mux, "POST /api/v1/tickets/{id}/actions/{action}", everyone, s.doAction)
	s.handle(mux, "GET /api/v1/tickets/{id}/events", staff, s.ticketEvents)
	s.handle(mux, "GET /api/v1/stream", staff, s.stream)
	s.handle(mux, "GET /api/v1/attachments/{sha256}", staff, s.getAttachment)
	s.routeRouting(mux, staff)
	s.routeKPI(mux)
	s.routeSLA(mux, staff)
	s.routeDevices(mux, staff)
	s.routeTracking(mux)
	s.routeIntake(mux)
	for _, rt := range opts.Edge {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if opts.Gatherer != nil {
		mux.Handle("GET /metrics", s.metricsAuth(promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{})))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, newProblem(http.StatusNotFound, "not-found", fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path)))
	})
	s.handler = s.observe(mux)
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// CloseStreams ends every open event stream, so that a graceful shutdown (which waits for
// handlers) is not held up by clients that never hang up. Their clients reconnect.
func (s *Server) CloseStreams() { s.once.Do(func() { close(s.closing) }) }

type ctxKey int

const (
	actorKey ctxKey = iota
	clientKey
)

func requestID(r *http.Request) string {
	return problem.RequestID(r.Context())
}

func actorOf(r *http.Request) ticket.Actor {
	a, _ := r.Context().Value(actorKey).(ticket.Actor)
	return a
}

// observe gives every request an id and its Client, recovers panics as 500s and records
// metrics.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r = s.withClient(r)
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 128 {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		r = r.WithContext(problem.WithRequestID(r.Context(), id))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.opts.Logger.Error("panic serving request", "request_id", id, "method", r.Method, "path", r.URL.Path,
					"client", ClientOf(r).String(), "panic", v)
				if !rec.wrote {
					writeProblem(rec, r, newProblem(http.StatusInternalServerError, "internal", "internal error; the server log has the details under this request_id"))
				}
			}
			route := r.Pattern
			if route == "" || route == "/" {
				route = "other"
			}
			s.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
			s.opts.Logger.Debug("http", "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"duration", time.Since(start), "request_id", id, "client", ClientOf(r).String())
			if route != "GET /api/v1/stream" {
				s.latency.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// handle mounts h at pattern for the roles given, and keeps them for RolesFor.
func (s *Server) handle(mux *http.ServeMux, pattern string, roles []ticket.Role, h http.HandlerFunc) {
	s.roles[pattern] = slices.Clone(roles)
	mux.Handle(pattern, s.auth(roles, h))
}

// RolesFor returns the roles the route pattern (as "GET /api/v1/tickets") admits; none for a
// pattern the API does not have. The console shows a page or a button only to the roles the
// endpoint behind it admits: these, not a copy of them.
func (s *Server) RolesFor(pattern string) []ticket.Role { return slices.Clone(s.roles[pattern]) }

// Admits reports whether role may use the route pattern.
func (s *Server) Admits(pattern string, role ticket.Role) bool {
	return slices.Contains(s.roles[pattern], role)
}

type internalKey struct{}

// AsActor returns ctx carrying actor for a request that gongdan itself hands to ServeHTTP on
// behalf of someone it has already signed in (the console's session): the API then takes
// actor as the caller instead of reading a bearer token, and applies every rule it applies
// to a token's actor. Only code in this process can set a context value, so no request from
// the network can claim one.
func AsActor(ctx context.Context, actor ticket.Actor) context.Context {
	return context.WithValue(ctx, internalKey{}, actor)
}

// auth checks the bearer token (or the in-process caller of AsActor) and the role, and puts
// the actor in the context.
func (s *Server) auth(roles []ticket.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok, demoRefused := s.token(r)
		if a, in := r.Context().Value(internalKey{}).(ticket.Actor); in {
			tok, ok = Token{Actor: a}, true
		}
		if !ok {
			s.unauthorized(w, r, demoRefused, "send Authorization: Bearer <token> with a token from server.tokens")
			return
		}
		if !slices.Contains(roles, tok.Actor.Role) {
			writeProblem(w, r, newProblem(http.StatusForbidden, "forbidden", fmt.Sprintf("role %s may not use %s", tok.Actor.Role, r.Pattern)))
			return
		}
		if p := badQuery(r); p != nil {
			writeProblem(w, r, p)
			return
		}
		if id, ok := ticketOfRoute(r); ok && tok.Actor.Role == ticket.RoleCustomer {
			if err := s.checkOwner(r, id, tok.Actor); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), actorKey, tok.Actor)))
	})
}

// badQuery finds a query parameter that is not text, for every endpoint at once: a NUL byte
// or invalid UTF-8 in its name or a value. Such bytes mean nothing in a filter or a search and
// reach the store as they are (a NUL cut SQLite's full-text query short: a 500).
func badQuery(r *http.Request) *Problem {
	qv := r.URL.Query()
	for _, name := range slices.Sorted(maps.Keys(qv)) {
		for _, v := range append([]string{name}, qv[name]...) {
			why := ""
			switch {
			case !utf8.ValidString(v):
				why = "is not valid UTF-8"
			case strings.ContainsRune(v, 0):
				why = "holds a NUL byte"
			default:
				continue
			}
			return badParam(name, fmt.Sprintf("query parameter %q %s; send UTF-8 text without NUL bytes", name, why))
		}
	}
	return nil
}

// ticketRoutes is the prefix of every route about one ticket, whose {id} is the ticket's.
const ticketRoutes = "/api/v1/tickets/{id}"

// ticketOfRoute returns the ticket id of a route about one ticket (its pattern's path is or
// starts with ticketRoutes).
func ticketOfRoute(r *http.Request) (string, bool) {
	_, path, _ := strings.Cut(r.Pattern, " ")
	if path != ticketRoutes && !strings.HasPrefix(path, ticketRoutes+"/") {
		return "", false
	}
	return r.PathValue("id"), true
}

// checkOwner refuses customer a's request about ticket id unless the ticket is theirs. It runs
// for every route about one ticket (reads, actions, and whatever comes next) before the
// handler, so nothing about another customer's ticket (its state, version, whether it is
// frozen, a command id sent to it) can show: a foreign ticket fails exactly as a missing one,
// with the error the engine gives for a missing ticket.
func (s *Server) checkOwner(r *http.Request, id string, a ticket.Actor) error {
	t, err := s.opts.Store.Ticket(r.Context(), id)
	if err == nil && !t.OwnedBy(a) {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return ticketNotFound(id)
	}
	return err
}

// ticketNotFound is the error for a ticket that does not exist, or that a customer may not see.
func ticketNotFound(id string) error { return fmt.Errorf("ticket %s: %w", id, engine.ErrNotFound) }

// fail answers with the problem for err; an error with no problem is internal and logged.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p == nil {
		s.opts.Logger.Error("request failed", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path,
			"client", ClientOf(r).String(), "err", err)
		p = newProblem(http.StatusInternalServerError, "internal", "internal error; the server log has the details under this request_id")
	}
	writeProblem(w, r, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// apiScope is what drafts sent to POST /api/v1/tickets may say: they come from the API
// (source "api"), their dedup and thread keys live under "api/", and their intents reach only
// the API's own threads, as the caller's role allows.
var apiScope = draft.Scope{Connector: "api", Type: "api", Intents: []string{draft.IntentUpdate, draft.IntentResolve}}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request) {
	var d draft.Draft
	var err error
	if err = decodeJSON(w, r, s.opts.MaxBodyBytes, &d, false); err != nil {
		s.fail(w, r, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		s.fail(w, r, newProblem(http.StatusBadRequest, "bad-request", "Idempotency-Key is longer than 255 characters"))
		return
	}
	// A caller of the API speaks for the API, as a connector speaks for itself (DESIGN.md
	// §11): its draft's source is the API's and its keys are in the API's namespace, so a
	// staff token cannot pose as WeChat (and have replies sent to someone's openid), join a
	// WeChat customer's thread, or take a CRM order's dedup key first. The audit trail names
	// the caller.
	if d, err = apiScope.Confine(d); err != nil {
		s.fail(w, r, err)
		return
	}
	d.Suggestions = nil
	if s.opts.Suggest != nil {
		d.Suggestions = s.opts.Suggest(d)
	}
	t, outcome, err := s.opts.Engine.Create(r.Context(), engine.CreateRequest{Draft: d, Actor: actorOf(r), IdempotencyKey: key})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeIntake(w, r, d, t, outcome)
}

// readTicket reads with read what a route about one ticket shows of ticket {id} (auth has
// refused a customer a ticket that is not theirs); false: it failed, and the answer, 404
// ticket-not-found for a ticket that does not exist, is written.
func readTicket[T any](s *Server, w http.ResponseWriter, r *http.Request, read func(ctx context.Context, id string) (T, error)) (T, bool) {
	v, err := read(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		err = ticketNotFound(r.PathValue("id"))
	}
	if err != nil {
		s.fail(w, r, err)
		return v, false
	}
	return v, true
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request) {
	if t, ok := readTicket(s, w, r, s.opts.Store.Ticket); ok {
		writeJSON(w, http.StatusOK, s.staffView(r.Context(), actorOf(r), t))
	}
}

// actionBody is what POST .../actions/{action} takes; the actor is the caller.
type actionBody struct {
	Reason          string          `json:"reason"`
	Data            json.RawMessage `json:"data"`
	ExpectedVersion int64           `json:"expected_version"`
	CommandID       string          `json:"command_id"`
}

func (s *Server) doAction(w http.ResponseWriter, r *http.Request) {
	action, err := ticket.ParseAction(r.PathValue("action"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body actionBody
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &body, true); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.CommandID == "" {
		body.CommandID = r.Header.Get("Idempotency-Key")
	}
	if len(body.CommandID) > 255 {
		p := newProblem(http.StatusUnprocessableEntity, "invalid-data", "command_id is longer than 255 characters")
		p.Field = "command_id"
		s.fail(w, r, p)
		return
	}
	t, err := s.opts.Engine.Do(r.Context(), ticket.Command{
		TicketID: r.PathValue("id"), Action: action, Actor: actorOf(r), Reason: body.Reason,
		Data: body.Data, ExpectedVersion: body.ExpectedVersion, CommandID: body.CommandID,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) ticketEvents(w http.ResponseWriter, r *http.Request) {
	if evs, ok := readTicket(s, w, r, s.opts.Store.Events); ok {
		writeJSON(w, http.StatusOK, map[string]any{"ticket": r.PathValue("id"), "events": evs})
	}
}

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	var q store.Query
	for _, v := range splitList(qv["state"]) {
		st, err := ticket.ParseState(v)
		if err != nil {
			s.fail(w, r, badParam("state", err.Error()))
			return
		}
		q.States = append(q.States, st)
	}
	for _, v := range splitList(qv["urgency"]) {
		if !draft.Urgency(v).Valid() {
			s.fail(w, r, badParam("urgency", fmt.Sprintf("unknown urgency %q (one of: blue, yellow, orange, red)", v)))
			return
		}
		q.Urgencies = append(q.Urgencies, v)
	}
	q.Assignees = splitList(qv["assignee"])
	q.Teams = splitList(qv["team"])
	q.Connectors = splitList(qv["connector"])
	// Each tag= is one tag (a tag may hold a comma); a ticket must carry them all.
	for _, tag := range qv["tag"] {
		if tag = strings.TrimSpace(tag); tag != "" {
			q.Tags = append(q.Tags, tag)
		}
	}
	if len(q.Tags) > maxTagFilters {
		s.fail(w, r, badParam("tag", fmt.Sprintf("%d tags, at most %d", len(q.Tags), maxTagFilters)))
		return
	}
	switch q.SLA = qv.Get("sla"); q.SLA {
	case "", store.SLABreached, store.SLAAtRisk, store.SLAOnTime, store.SLANone:
	default:
		s.fail(w, r, badParam("sla", fmt.Sprintf("unknown SLA status %q (one of: breached, at_risk, on_time, none)", q.SLA)))
		return
	}
	switch q.Sort = qv.Get("sort"); q.Sort {
	case "", store.SortNewest, store.SortDue:
	default:
		s.fail(w, r, badParam("sort", fmt.Sprintf("unknown sort %q (newest or due)", q.Sort)))
		return
	}
	if q.Sort == store.SortDue && q.SLA == store.SLANone {
		// Nearest due first lists tickets with a running clock only: none would be listed.
		s.fail(w, r, badParam("sla", "sla=none has no due time to sort by: use sort=newest"))
		return
	}
	q.Now = s.opts.Engine.Now()
	q.Q = strings.TrimSpace(qv.Get("q"))
	if n := utf8.RuneCountInString(q.Q); n > maxSearchRunes {
		s.fail(w, r, badParam("q", fmt.Sprintf("the search text has %d characters, at most %d", n, maxSearchRunes)))
		return
	}
	if c := qv.Get("customer"); c != "" {
		kind, v, _ := strings.Cut(c, ":")
		switch {
		case strings.TrimSpace(v) == "" || !slices.Contains([]string{"id", "phone", "wechat_openid", "wecom_userid"}, kind):
			s.fail(w, r, badParam("customer", fmt.Sprintf("want id:…, phone:…, wechat_openid:… or wecom_userid:… (the first the customer has), got %q", c)))
			return
		case kind == "id":
			q.Customer = ticket.CustomerKey(draft.Customer{ID: v})
		case kind == "phone":
			q.Customer = ticket.CustomerKey(draft.Customer{Phone: v})
		default:
			q.Customer = kind + ":" + strings.TrimSpace(v)
		}
	}
	q.Cursor = qv.Get("cursor")
	limit, bad := parseLimit(qv, 0)
	if bad != nil {
		s.fail(w, r, bad)
		return
	}
	q.Limit = limit
	if q.Cursor != "" {
		var err error
		if q.Sort == store.SortDue {
			_, _, err = store.DecodeDueCursor(q.Cursor)
		} else {
			_, err = store.DecodeCursor(q.Cursor)
		}
		if err != nil {
			s.fail(w, r, badParam("cursor", err.Error()))
			return
		}
	}
	page, err := s.opts.Store.List(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// maxTagFilters caps the tag= of a ticket list: each is a lookup of its own.
const maxTagFilters = 8

// maxSearchRunes caps the q of a ticket list: longer text is no search a person typed, and
// each character of it costs the full-text index a lookup.
const maxSearchRunes = 200

// parseLimit reads the limit parameter: 1 to store.MaxLimit, def when absent.
func parseLimit(qv url.Values, def int) (int, *Problem) {
	l := qv.Get("limit")
	if l == "" {
		return def, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > store.MaxLimit {
		return 0, badParam("limit", fmt.Sprintf("limit must be 1 to %d, got %q", store.MaxLimit, l))
	}
	return n, nil
}

func badParam(name, msg string) *Problem {
	p := newProblem(http.StatusBadRequest, "bad-request", msg)
	p.Field = name
	return p
}

// splitList accepts both ?state=a&state=b and ?state=a,b.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// ready answers 200 when the store answers and every Options.Ready check passes, and 503
// otherwise, with a problem whose detail names each thing that cannot work. The checks run
// at once, within 3s: a bus probe may wait 2s for its acknowledgement.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	ping := func(ctx context.Context) error {
		if err := s.opts.Store.Ping(ctx); err != nil {
			s.opts.Logger.Warn("not ready: the store does not answer", "err", err)
			return errors.New("store: does not answer")
		}
		return nil
	}
	checks := append([]func(context.Context) error{ping}, s.opts.Ready...)
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, check := range checks {
		wg.Go(func() { errs[i] = check(ctx) })
	}
	wg.Wait()
	var failed []string
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		detail := "not ready: " + strings.Join(failed, "; ")
		s.opts.Logger.Warn(detail)
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, "unavailable", detail))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
