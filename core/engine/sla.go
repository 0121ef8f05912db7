package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gongdan/core/sla"
	"gongdan/core/store"
	"gongdan/core/ticket"
)

// SLAOptions turn SLA clocks on: every ticket a policy applies to has its clocks computed
// from its state history after each of its events, and one durable timer at the next
// warning, breach or tier; the timer loop fires it (each mark once, recorded as an sla event
// on the ticket in the transaction that deletes or moves the timer), so a restart loses
// none and fires overdue ones at once.
type SLAOptions struct {
	Policies *sla.Policies
	// LeadOf names the lead of a team (for tiers that notify team_lead); nil: none known.
	LeadOf func(team string) string
	// Notify is told of warnings, breaches and tiers (the notification hook); it runs after
	// the commit, on the committer: it must not block. Nil logs them.
	Notify func(Notification)
	// Fingerprint identifies the policies and calendars. When a store that keeps cursors
	// has not seen it before (the SLA config changed, or SLA was just turned on), every
	// open ticket's timer is armed again in the background after start, so changed goals
	// apply to tickets that do nothing meanwhile. Empty: never.
	Fingerprint string
}

// cursorStore is a store that keeps named positions (the SQLite store does).
type cursorStore interface {
	Cursor(ctx context.Context, name string) (int64, error)
	SetCursor(ctx context.Context, name string, pos int64) error
}

// rearmPage is how many tickets one re-arming request takes through the committer.
const rearmPage = 256

// rearmAll arms the SLA timer of every open ticket again, a page at a time, unless it was
// done for this fingerprint; it records that it was once done. It stops when the engine
// closes (the next start does it again). The name's "/board-policy" is since the board keeps
// each row's team and policy (migration 0018): a store from before has its rows' policies
// written by this, once.
func (e *Engine) rearmAll() {
	defer close(e.rearmDone)
	cs, ok := e.store.(cursorStore)
	if !ok || e.opts.SLA.Fingerprint == "" {
		return
	}
	ctx := context.Background()
	name := "sla_rearmed:" + e.opts.SLA.Fingerprint + "/board-policy"
	if done, err := cs.Cursor(ctx, name); err != nil || done > 0 {
		return
	}
	q := store.Query{Limit: rearmPage}
	for _, st := range ticket.States {
		if st.Open() {
			q.States = append(q.States, st)
		}
	}
	n := 0
	for {
		page, err := e.store.List(ctx, q)
		if err != nil {
			e.opts.Logger.Error("sla: re-arming after a change of policies", "err", err)
			return
		}
		ids := make([]string, len(page.Tickets))
		for i, t := range page.Tickets {
			ids[i] = t.ID
		}
		if res := e.submit(ctx, &request{rearm: ids}); res.err != nil {
			if !errors.Is(res.err, ErrClosed) {
				e.opts.Logger.Error("sla: re-arming after a change of policies", "err", res.err)
			}
			return
		}
		n += len(ids)
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	if err := cs.SetCursor(ctx, name, 1); err != nil {
		e.opts.Logger.Error("sla: re-arming after a change of policies", "err", err)
		return
	}
	e.opts.Logger.Info("sla: policies changed: the timers of the open tickets were armed again", "tickets", n)
}

// applyRearm arms the timers of tickets ids again.
func (e *Engine) applyRearm(tx store.Tx, ids []string) (result, error) {
	for _, id := range ids {
		t, found, err := e.ticketIn(tx, id)
		if err != nil {
			return result{}, err
		}
		if !found || !t.State.Open() {
			continue
		}
		if err := e.armSLA(tx, t, t); err != nil {
			return result{}, err
		}
	}
	return result{}, nil
}

// SLAEnv is the ticket as SLA policy conditions see it.
func SLAEnv(t ticket.Ticket) sla.Env {
	var source, channel string
	if len(t.Sources) > 0 {
		source, channel = t.Sources[0].Source.Connector, t.Sources[0].Source.Type
	}
	return sla.Env{Urgency: string(t.Urgency), Category: t.Category, Tags: t.Tags, Source: source, Channel: channel,
		Customer: sla.EnvCustomer{ID: t.Customer.ID, Org: t.Customer.Org}, Team: t.Team}
}

// policyOf is the policy that applies to t now, or nil. A change of urgency or category
// may change it; the clocks are computed from the history again, so the time already
// paused stays paused.
func (e *Engine) policyOf(t ticket.Ticket) *sla.Policy {
	if e.opts.SLA == nil {
		return nil
	}
	return e.opts.SLA.Policies.Choose(SLAEnv(t))
}

func historyOf(t ticket.Ticket) []sla.StateAt {
	h := make([]sla.StateAt, len(t.History))
	for i, c := range t.History {
		h[i] = sla.StateAt{At: c.At, State: string(c.State)}
	}
	if len(h) == 0 && !t.CreatedAt.IsZero() {
		// A ticket from before histories were kept: from its creation, in its state now.
		h = append(h, sla.StateAt{At: t.CreatedAt, State: string(t.State)})
	}
	return h
}

// clocksOf are t's clocks under p as of now: response and resolution from its history, and
// next_update while the customer waits for an answer.
func clocksOf(p *sla.Policy, t ticket.Ticket, now time.Time) []sla.Clock {
	clocks := p.Clocks(historyOf(t), now)
	if c, ok := p.UpdateClock(t.AwaitingUpdate, now); ok {
		clocks = append(clocks, c)
	}
	return clocks
}

// armSLA sets t's SLA timer to its next mark not yet recorded, or deletes it, in tx; and
// counts the targets that before → t stopped, met or breached.
func (e *Engine) armSLA(tx store.Tx, before, t ticket.Ticket) error {
	p := e.policyOf(t)
	if p == nil {
		if before.Version > 0 && e.policyOf(before) != nil {
			// No policy applies any more: off the board, and no timer.
			return errors.Join(tx.DeleteBoardDue(t.ID), tx.DeleteTimer(t.ID, timerSLA))
		}
		return nil
	}
	now := e.now()
	clocks := clocksOf(p, t, now)
	if before.Version > 0 {
		if !before.AwaitingUpdate.IsZero() && t.AwaitingUpdate.IsZero() {
			if c, ok := p.UpdateClock(before.AwaitingUpdate, now); ok {
				outcome := "met"
				if c.Status == sla.StatusBreached {
					outcome = "breached"
				}
				e.metrics.slaTargets.WithLabelValues(p.ID, string(sla.NextUpdate), outcome).Inc()
			}
		}
		var prev []sla.Clock // computed only when a clock has stopped: most events stop none
		for i, c := range clocks {
			if c.StoppedAt.IsZero() {
				continue
			}
			if prev == nil {
				prev = p.Clocks(historyOf(before), now)
			}
			if i < len(prev) && prev[i].StoppedAt.IsZero() {
				outcome := "met"
				switch {
				case t.State == ticket.StateRejected || t.ForceClosed:
					outcome = "cancelled" // not a fix: counted apart (DESIGN §4)
				case c.Status == sla.StatusBreached:
					outcome = "breached"
				}
				e.metrics.slaTargets.WithLabelValues(p.ID, string(c.Target), outcome).Inc()
			}
		}
	}
	// The board: the running clock nearest to (or longest past) its breach.
	var due time.Time
	for _, c := range clocks {
		if (c.Status == sla.StatusRunning || c.Status == sla.StatusBreached) && c.StoppedAt.IsZero() && !c.Due.IsZero() &&
			(due.IsZero() || c.Due.Before(due)) {
			due = c.Due
		}
	}
	var err error
	if due.IsZero() || !t.State.Open() {
		err = tx.DeleteBoardDue(t.ID)
	} else {
		err = tx.SetBoardDue(store.BoardEntry{TicketID: t.ID, Due: due, Team: t.Team, Policy: p.ID})
	}
	if err != nil {
		return err
	}
	for _, m := range p.Marks(clocks) {
		if !t.Marked(m.Key) {
			return tx.SetTimer(store.Timer{TicketID: t.ID, Kind: timerSLA, Due: m.FireAt})
		}
	}
	return tx.DeleteTimer(t.ID, timerSLA)
}

// applySLATimer records every mark of ticket t that is due and not yet recorded, in order;
// a tier that escalates escalates the ticket, one that re-routes routes it again.
func (e *Engine) applySLATimer(tx store.Tx, tm store.Timer, t ticket.Ticket) (result, error) {
	p := e.policyOf(t)
	if p == nil {
		return result{}, tx.DeleteTimer(tm.TicketID, tm.Kind) // no policy applies any more
	}
	now := e.now()
	before := t
	var evs []ticket.Event
	var notes []Notification
	rerouted := false
	marks := p.Marks(clocksOf(p, t, now))
	for i, m := range marks {
		if m.FireAt.After(now) {
			break
		}
		if t.Marked(m.Key) {
			continue
		}
		d := ticket.SLAData{Key: m.Key, Policy: p.ID, Target: string(m.Target), Kind: m.Kind, Due: m.Due}
		notify := []string{"assignee"} // warnings and breaches go to whoever has the ticket
		if m.Tier != nil {
			d.Tier, notify = m.Tier.Name, m.Tier.Notify
			// A higher tier of the same target fired already (a quiet tier that waited for
			// the office to open) or fires now (after downtime): this one says nothing.
			if higher := higherTier(p, t, marks, i, now); higher != "" {
				d.Skipped, notify = "superseded by the "+higher+" tier", nil
			}
		}
		d.Notify = e.recipients(t, notify)
		var esc *ticket.Command
		if m.Tier != nil && m.Tier.Escalate && d.Skipped == "" && t.State != ticket.StateEscalated {
			esc = &ticket.Command{TicketID: t.ID, Action: ticket.ActionEscalate, Actor: ticket.SystemActor, Rule: p.ID,
				Reason: fmt.Sprintf("SLA %s: the %s tier of the %s target (due %s)", p.ID, m.Tier.Name, m.Target, m.Due.In(e.opts.Location).Format("2006-01-02 15:04"))}
			if _, err := ticket.Decide(t, *esc, now); err != nil {
				// Frozen, or in a state that cannot be escalated: recorded as refused.
				d.Refused, esc = "not escalated: "+err.Error(), nil
			} else {
				d.Escalate = true
			}
		}
		ev, err := ticket.SLA(t, d, now)
		if err != nil {
			return result{}, err
		}
		if t, err = e.appendEvent(tx, t, ev); err != nil {
			return result{}, err
		}
		evs = append(evs, ev)
		if m.Tier != nil && e.routing != nil && m.Tier.Name == e.routing.cards.SLATier {
			// A yellow card for whoever has the ticket, superseded or not: it reached the tier.
			cr := result{}
			if err := e.chargeSLA(tx, t, t.Assignee, m.Key, now, &cr); err != nil {
				return result{}, err
			}
			notes = append(notes, cr.notes...)
		}
		label := m.Kind
		if m.Tier != nil {
			label = m.Tier.Name
		}
		e.metrics.slaMarks.WithLabelValues(p.ID, string(m.Target), label).Inc()
		if d.Skipped == "" {
			notes = append(notes, Notification{Kind: "sla_" + m.Kind, To: strings.Join(d.Notify, ","), TicketID: t.ID,
				Detail: slaDetail(p, m, now, e.opts.Location)})
		}
		if m.Tier != nil && m.Tier.Reroute && d.Skipped == "" && e.routing != nil && t.Assignee != "" && t.State.Open() {
			// Routed again without whoever let it breach; routing keeps the loads itself.
			rr := result{ticket: t, event: &ticket.Event{At: now}}
			if err := e.route(tx, &rr, TriggerSLA, m.Key, t.Assignee); err != nil {
				return result{}, err
			}
			t, rerouted = rr.ticket, true
			evs = append(evs, rr.more...)
			notes = append(notes, rr.notes...)
		}
		if esc != nil {
			next, err := ticket.Decide(t, *esc, now)
			if err != nil {
				return result{}, fmt.Errorf("sla: escalate %s: %w", t.ID, err) // decided just before: cannot happen
			}
			if t, err = e.appendEvent(tx, t, next); err != nil {
				return result{}, err
			}
			evs = append(evs, next)
		}
	}
	if len(evs) == 0 {
		// Nothing due after all (the ticket moved on): arm it for what is next.
		return result{followed: true}, e.armSLA(tx, before, t)
	}
	// A re-route did routing's follow-ups (loads, the offer timer) for its assignment; the
	// other events here leave loads as they are.
	return result{ticket: t, event: &evs[0], before: before, more: evs[1:], notes: notes, followed: rerouted}, nil
}

// higherTier names the highest tier of marks[i]'s target after it in the policy's order that
// was recorded on t or is due by now; empty when none is.
func higherTier(p *sla.Policy, t ticket.Ticket, marks []sla.Mark, i int, now time.Time) string {
	m := marks[i]
	order, best := tierOrder(p, m.Tier.Name), ""
	for j, o := range marks {
		if j == i || o.Tier == nil || o.Target != m.Target || tierOrder(p, o.Tier.Name) <= order {
			continue
		}
		if t.Marked(o.Key) || !o.FireAt.After(now) {
			best, order = o.Tier.Name, tierOrder(p, o.Tier.Name)
		}
	}
	return best
}

// tierOrder is the position of tier name in p's tiers.
func tierOrder(p *sla.Policy, name string) int {
	for i, tier := range p.Tiers {
		if tier.Name == name {
			return i
		}
	}
	return -1
}

// appendEvent applies ev to t and writes both; the ticket after it is kept for the batch.
func (e *Engine) appendEvent(tx store.Tx, t ticket.Ticket, ev ticket.Event) (ticket.Ticket, error) {
	next, err := ticket.Apply(t, ev)
	if err != nil {
		return t, err
	}
	id, err := tx.Append(next, ev)
	if err != nil {
		e.forget(t.ID)
		return t, err
	}
	ev.ID = id
	e.pending[next.ID] = next
	return next, nil
}

// recipients resolves a tier's roles to people where the engine knows them: the assignee,
// the lead of the ticket's team; other roles and user:<id> stay as written.
func (e *Engine) recipients(t ticket.Ticket, notify []string) []string {
	var out []string
	for _, n := range notify {
		switch {
		case n == "assignee" && t.Assignee != "":
			out = append(out, "assignee:"+t.Assignee)
		case n == "team_lead" && t.Team != "" && e.opts.SLA.LeadOf != nil && e.opts.SLA.LeadOf(t.Team) != "":
			out = append(out, "team_lead:"+e.opts.SLA.LeadOf(t.Team))
		default:
			out = append(out, n)
		}
	}
	return out
}

func slaDetail(p *sla.Policy, m sla.Mark, now time.Time, loc *time.Location) string {
	what := map[string]string{"warning": "is near its target", "breach": "passed its target"}[m.Kind]
	if m.Tier != nil {
		what = fmt.Sprintf("%s tier, %s after the breach", m.Tier.Name, m.Tier.After)
	}
	s := fmt.Sprintf("SLA %s: the %s target %s (due %s)", p.ID, m.Target, what, m.Due.In(loc).Format("2006-01-02 15:04"))
	if late := now.Sub(m.FireAt); late > time.Minute {
		s += fmt.Sprintf("; fired %s late", late.Round(time.Second))
	}
	return s
}
