package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"gongdan/core/ticket"
)

// catchUpPage is how many stored events one read of a reconnecting stream fetches.
const catchUpPage = 500

// stream serves ticket events as server-sent events. A client that reconnects with
// Last-Event-ID (or ?after=ID) first gets every event it missed from the store, then live
// ones. ?ticket=ID narrows the stream to one ticket. A client too slow to keep up is cut off
// and catches up the same way when it reconnects.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	flusher := http.NewResponseController(w) // reaches the connection through wrappers
	after := int64(-1)                       // live only
	for _, v := range []string{r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after")} {
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, badParam("after", fmt.Sprintf("event id must be a number, got %q", v)))
			return
		}
		after = n
	}
	only := r.URL.Query().Get("ticket")

	// Subscribe before reading the store so nothing committed in between is missed; events
	// seen in both are sent once, by ID.
	sub := s.opts.Engine.Subscribe(1024)
	defer sub.Close()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": gongdan ticket events\n\n")
	flusher.Flush()

	send := func(ev ticket.Event) bool {
		if ev.ID <= after {
			return true
		}
		after = ev.ID
		if only != "" && ev.TicketID != only {
			return true
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return false
		}
		_, err = fmt.Fprintf(w, "id: %d\ndata: %s\n\n", ev.ID, body)
		return err == nil
	}

	if after >= 0 {
		for {
			evs, err := s.opts.Store.EventsAfter(r.Context(), after, catchUpPage)
			if err != nil {
				s.opts.Logger.Warn("stream catch-up failed", "request_id", requestID(r), "err", err)
				return
			}
			for _, ev := range evs {
				if !send(ev) {
					return
				}
			}
			flusher.Flush()
			if len(evs) < catchUpPage {
				break
			}
		}
	} else {
		after = 0
	}

	heartbeat := time.NewTicker(s.opts.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case ev, ok := <-sub.C:
			if !ok {
				return // dropped for falling behind, or shutting down: the client reconnects
			}
			if !send(ev) {
				return
			}
			flusher.Flush()
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}
