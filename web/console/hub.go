package console

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/web/webkit"
)

// The live stream. One subscription to the engine serves every open page: changes are
// gathered for Options.Flush, each changed ticket is read and rendered once per language,
// and the batch goes to every page in one write. So the cost of the fan-out grows with the
// number of pages times the flushes, not times the changes: 200 queues open while 500
// tickets a second arrive are 200 writes every 200 ms.

// liveTicket is what a page learns of a changed ticket: enough to place it (the queue's
// filters, the board's columns) and, for the queue, its row already rendered.
type liveTicket struct {
	ID        string       `json:"id"`
	Version   int64        `json:"version"`
	State     ticket.State `json:"state"`
	Urgency   string       `json:"urgency"`
	Team      string       `json:"team"`
	Assignee  string       `json:"assignee"`
	Connector string       `json:"connector"`
	Tags      []string     `json:"tags"`
	Created   bool         `json:"created"`
	Row       string       `json:"row,omitempty"`
}

// liveEvent is one event of the batch (a ticket page shows who changed what).
type liveEvent struct {
	ID     int64         `json:"id"`
	Ticket string        `json:"ticket"`
	Action ticket.Action `json:"action"`
	Actor  string        `json:"actor"`
	At     time.Time     `json:"at"`
}

type liveBatch struct {
	Tickets []liveTicket `json:"tickets"`
	Events  []liveEvent  `json:"events"`
}

type liveClient struct {
	ch   chan []byte
	lang webkit.Lang
	// session is the SHA-256 of the session the page was opened in: its sign-out ends the
	// stream at once (endSession), and its expiry at the next heartbeat.
	session []byte
}

type hub struct {
	h       *Handler
	mu      sync.Mutex
	clients map[*liveClient]struct{}
	running bool
	closing chan struct{}
	once    sync.Once
	// rows renders a ticket's queue row in a language (the queue page sets it); nil: none.
	rows func(t ticket.Ticket, l webkit.Lang) string

	sent, dropped prometheus.Counter
}

func newHub(h *Handler) *hub {
	return &hub{h: h, clients: map[*liveClient]struct{}{}, closing: make(chan struct{}),
		sent:    prometheus.NewCounter(prometheus.CounterOpts{Name: "gongdan_console_live_batches_total", Help: "Batches of changes sent to console pages."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "gongdan_console_live_dropped_total", Help: "Console pages cut off for not keeping up (they reconnect and reload)."}),
	}
}

// Collectors are the console's metrics.
func (h *Handler) Collectors() []prometheus.Collector {
	return []prometheus.Collector{h.hub.sent, h.hub.dropped}
}

func (hb *hub) close() { hb.once.Do(func() { close(hb.closing) }) }

// serve is GET /console/events: the page's live stream (text/event-stream). Only roles that
// may read the API's event stream get one.
func (hb *hub) serve(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !hb.h.opts.API.Admits("GET /api/v1/stream", v.Actor.Role) {
		hb.h.forbidden(w, r, v)
		return
	}
	c := &liveClient{ch: make(chan []byte, 32), lang: v.Lang, session: v.Hash}
	hb.add(c)
	defer hb.remove(c)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("retry: 2000\n: gongdan console\n\n"))
	hb.catchUp(w, r, c)
	if rc.Flush() != nil {
		return
	}
	beat := time.NewTicker(hb.h.opts.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case b, ok := <-c.ch:
			if !ok {
				return // too slow: cut off; the page reconnects and reloads
			}
			if _, err := w.Write(b); err != nil || rc.Flush() != nil {
				return
			}
		case <-beat.C:
			// The session is looked at again: a page must not go on being told of tickets
			// after its session expired or what signed it in was taken out of the config.
			// An open page is not a use of the session: it does not keep it from idling.
			if _, live := hb.h.lookup(r, false); !live {
				return
			}
			if _, err := w.Write([]byte(": ping\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-hb.closing:
			return
		}
	}
}

func (hb *hub) add(c *liveClient) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	hb.clients[c] = struct{}{}
	if !hb.running {
		// Subscribed here, before the page is answered: nothing committed after the page
		// connected is missed while the goroutine starts.
		hb.running = true
		go hb.run(hb.h.opts.Engine.Subscribe(16384))
	}
}

// catchUpLimit is how many events a page may have missed between its rendering and its
// stream: beyond, it reloads what it shows.
const catchUpLimit = 500

// catchUp sends a page what changed after the event its rendering saw (?after=ID, the
// engine's LastEventID then), so that nothing is missed in between and the page need not
// reload. A page that does not say (or missed too much) is told to reload (resync).
func (hb *hub) catchUp(w http.ResponseWriter, r *http.Request, c *liveClient) {
	after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if err != nil || after <= 0 {
		_, _ = w.Write([]byte("event: resync\ndata: {}\n\n"))
		return
	}
	evs, err := hb.h.opts.Store.EventsAfter(r.Context(), after, catchUpLimit+1)
	if err != nil || len(evs) > catchUpLimit {
		_, _ = w.Write([]byte("event: resync\ndata: {}\n\n"))
		return
	}
	if len(evs) == 0 {
		return
	}
	if payload := hb.batch(evs, map[webkit.Lang]bool{c.lang: true}); payload != nil {
		_, _ = w.Write(payload[c.lang])
	}
}

// endSession ends the streams of the session whose SHA-256 is hash (its sign-out).
func (hb *hub) endSession(hash []byte) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	for c := range hb.clients {
		if bytes.Equal(c.session, hash) {
			delete(hb.clients, c)
			close(c.ch)
		}
	}
}

func (hb *hub) remove(c *liveClient) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if _, ok := hb.clients[c]; ok {
		delete(hb.clients, c)
		close(c.ch)
	}
}

// run gathers the engine's events and sends a batch every Flush while anyone listens. When
// the engine cuts the subscription (the hub fell too far behind), it subscribes again and
// tells every page to reload what it shows, since changes were missed. It stops when no
// page listens; whether a page listens and whether run goes on are decided under one lock,
// so a page that arrives as run stops starts it again (add).
func (hb *hub) run(sub *engine.Subscription) {
	for {
		cut, got := hb.pump(sub)
		sub.Close()
		if !cut {
			return // pump marked the hub stopped
		}
		if got == 0 { // the engine is closed
			hb.mu.Lock()
			hb.running = false
			hb.mu.Unlock()
			return
		}
		hb.h.opts.Logger.Warn("console: the live stream fell behind; pages reload")
		sub = hb.h.opts.Engine.Subscribe(16384)
		hb.send([]byte("event: resync\ndata: {}\n\n"), nil)
	}
}

// pump batches sub's events until no page listens or the console closes (false: the hub is
// marked stopped) or the engine cuts sub (true), and says how many events it took.
func (hb *hub) pump(sub *engine.Subscription) (cut bool, got int) {
	tick := time.NewTicker(hb.h.opts.Flush)
	defer tick.Stop()
	var pending []ticket.Event
	stop := func() bool {
		hb.mu.Lock()
		defer hb.mu.Unlock()
		if len(hb.clients) > 0 {
			return false
		}
		hb.running = false
		return true
	}
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return true, got
			}
			got++
			pending = append(pending, ev)
		case <-tick.C:
			if len(pending) > 0 {
				hb.broadcast(pending)
				pending = pending[:0]
			}
			if stop() {
				return false, got
			}
		case <-hb.closing:
			hb.mu.Lock()
			hb.running = false
			hb.mu.Unlock()
			return false, got
		}
	}
}

// broadcast reads each changed ticket once, renders it once per language in use, and sends
// the batch to every page.
func (hb *hub) broadcast(evs []ticket.Event) {
	hb.mu.Lock()
	langs := map[webkit.Lang]bool{}
	for c := range hb.clients {
		langs[c.lang] = true
	}
	hb.mu.Unlock()
	if len(langs) == 0 {
		return
	}
	if payload := hb.batch(evs, langs); payload != nil {
		hb.send(nil, payload)
	}
}

// batch is the message of evs for each language: each changed ticket read once and
// rendered once per language.
func (hb *hub) batch(evs []ticket.Event, langs map[webkit.Lang]bool) map[webkit.Lang][]byte {
	var ids []string
	created := map[string]bool{}
	batch := liveBatch{}
	for _, ev := range evs {
		if !slices.Contains(ids, ev.TicketID) {
			ids = append(ids, ev.TicketID)
		}
		if ev.Action == ticket.ActionCreate {
			created[ev.TicketID] = true
		}
		batch.Events = append(batch.Events, liveEvent{ID: ev.ID, Ticket: ev.TicketID, Action: ev.Action, Actor: ev.Actor.ID, At: ev.At})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tickets := make([]ticket.Ticket, 0, len(ids))
	for _, id := range ids {
		t, err := hb.h.opts.Store.Ticket(ctx, id)
		if err != nil {
			hb.h.opts.Logger.Warn("console: reading a changed ticket", "ticket", id, "err", err)
			continue
		}
		tickets = append(tickets, t)
	}
	payload := map[webkit.Lang][]byte{}
	for l := range langs {
		b := batch
		b.Tickets = make([]liveTicket, 0, len(tickets))
		for _, t := range tickets {
			lt := summarize(t)
			lt.Created = created[t.ID]
			if hb.rows != nil {
				lt.Row = hb.rows(t, l)
			}
			b.Tickets = append(b.Tickets, lt)
		}
		data, err := json.Marshal(b)
		if err != nil {
			hb.h.opts.Logger.Error("console: encoding a live batch", "err", err)
			return nil
		}
		var buf bytes.Buffer
		buf.Grow(len(data) + 24)
		buf.WriteString("event: tickets\ndata: ")
		buf.Write(data)
		buf.WriteString("\n\n")
		payload[l] = buf.Bytes()
	}
	return payload
}

// send gives every page b, or its language's payload; a page whose queue is full is cut off
// (it reconnects and reloads).
func (hb *hub) send(b []byte, payload map[webkit.Lang][]byte) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	for c := range hb.clients {
		msg := b
		if payload != nil {
			msg = payload[c.lang]
		}
		select {
		case c.ch <- msg:
			hb.sent.Inc()
		default:
			delete(hb.clients, c)
			close(c.ch)
			hb.dropped.Inc()
		}
	}
}

// summarize is what the live stream says of a ticket.
func summarize(t ticket.Ticket) liveTicket {
	lt := liveTicket{ID: t.ID, Version: t.Version, State: t.State, Urgency: string(t.Urgency), Team: t.Team,
		Assignee: t.Assignee, Tags: t.Tags}
	if len(t.Sources) > 0 {
		lt.Connector = t.Sources[0].Source.Connector
	}
	if lt.Tags == nil {
		lt.Tags = []string{}
	}
	return lt
}
