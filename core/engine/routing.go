package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gongdan/core/routing"
	"gongdan/core/store"
	"gongdan/core/ticket"
)

// RoutingOptions turn routing on: a new ticket is routed in the transaction that creates it,
// a declined one in the transaction of the decline, an offer not accepted in time by a timer.
// Deciding and assigning in one transaction, on the one committer, is what keeps caps
// (max_open, max_daily) from being overrun by concurrent intake.
type RoutingOptions struct {
	Router *routing.Router
	// AcceptTimeout: an assignment not accepted in this time is routed again without that
	// engineer. Default 30 minutes.
	AcceptTimeout time.Duration
	// Notify is told of routing failures and red cards (the notification hook); it runs
	// after the commit, on the committer: it must not block. Nil logs them.
	Notify func(Notification)
	// Cards are the rules of yellow and red cards (the cards section); nil:
	// routing.DefaultCardRules (two ratings of 1 in a row suspend for 24 hours).
	Cards *routing.CardRules
}

// Notification is a message for a person about routing: a ticket no one could take, or an
// engineer suspended after low ratings.
type Notification struct {
	Kind     string `json:"kind"` // routing_failed, red_card
	To       string `json:"to"`   // the team lead
	TicketID string `json:"ticket_id,omitempty"`
	Engineer string `json:"engineer,omitempty"`
	Detail   string `json:"detail"`
}

// Triggers of a routing decision.
const (
	TriggerCreated      = "created"
	TriggerDeclined     = "declined"
	TriggerOfferTimeout = "offer_timeout"
	TriggerSLA          = "sla_tier" // an SLA tier with reroute: true
	TriggerManual       = "manual"
)

// EngineerState is what the engine knows of an engineer beyond the config, kept in the store.
type EngineerState struct {
	// Status, Location and Skills, when set, override the config (PUT /api/v1/engineers/{id}).
	Status   routing.Status `json:"status,omitempty"`
	Location routing.Point  `json:"location,omitzero"`
	Skills   []string       `json:"skills,omitempty"`
	// SuspendedUntil is the end of a red-card suspension.
	SuspendedUntil time.Time `json:"suspended_until,omitzero"`
	// LowRatings counts the customer ratings of 1 in a row.
	LowRatings int `json:"low_ratings,omitempty"`
	// Yellows are the yellow cards since the last red one that may still count toward the
	// next (routing.CardRecord); the cards themselves are kept apart (store.Card).
	Yellows []routing.CardSpan `json:"yellows,omitempty"`
	// Fixed counts the tickets the engineer closed (the first close of each, force-closed
	// ones apart); FirstTime those of them closed with no rework (no reopen, no disputed
	// confirm); Repeats the repeat requests (ticket.RepeatWindow) that came back for them.
	Fixed     int `json:"fixed,omitempty"`
	FirstTime int `json:"first_time,omitempty"`
	Repeats   int `json:"repeats,omitempty"`
	// UpdatedAt is when it last changed.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// FTFR is the first-time-fix rate, and whether there is enough history for it (routing.FTFR).
func (s EngineerState) FTFR() (float64, bool) {
	return routing.FTFR(s.Fixed, s.FirstTime, s.Repeats)
}

// router is the engine's routing state. Only the committer touches it; what a batch changes
// is pending until the batch commits, and dropped if it does not.
type router struct {
	opts  RoutingOptions
	cards routing.CardRules

	open      map[string]int
	today     map[string]int
	day       string
	pointers  map[string]int
	engineers map[string]EngineerState

	pendingOpen      map[string]int // deltas
	pendingToday     map[dayKey]int // assignments, written once per batch by flush
	pendingPointers  map[string]int // written once per batch by flush
	pendingEngineers map[string]EngineerState

	// lives is every configured engineer's routing.Live (committed and pending), by
	// Router.Index, kept current as loads and states change: a decision reads its
	// candidates from it instead of six map lookups each.
	lives []routing.Live
	// traces keeps the batch's decisions, encoded off the committer.
	traces *traces
}

// dayKey is an engineer on a day (YYYYMMDD).
type dayKey struct{ engineer, day string }

func newRouter(ctx context.Context, s store.Store, opts RoutingOptions, now time.Time) (*router, error) {
	if opts.Router == nil {
		return nil, errors.New("engine: RoutingOptions.Router is required")
	}
	if opts.AcceptTimeout <= 0 {
		opts.AcceptTimeout = 30 * time.Minute
	}
	cards := routing.DefaultCardRules
	if opts.Cards != nil {
		cards = *opts.Cards
	}
	r := &router{opts: opts, cards: cards, day: now.Format("20060102"), traces: newTraces(),
		pendingOpen: map[string]int{}, pendingToday: map[dayKey]int{}, pendingPointers: map[string]int{}, pendingEngineers: map[string]EngineerState{}}
	var err error
	if r.open, err = s.OpenByAssignee(ctx); err != nil {
		return nil, fmt.Errorf("engine: routing: open tickets by assignee: %w", err)
	}
	if r.today, err = s.Assignments(ctx, r.day, r.day); err != nil {
		return nil, fmt.Errorf("engine: routing: today's assignments: %w", err)
	}
	if r.pointers, err = s.RoundRobin(ctx); err != nil {
		return nil, fmt.Errorf("engine: routing: round-robin pointers: %w", err)
	}
	bodies, err := s.Engineers(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine: routing: engineers: %w", err)
	}
	r.engineers = make(map[string]EngineerState, len(bodies))
	for id, b := range bodies {
		var st EngineerState
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("engine: routing: engineer %s: %w", id, err)
		}
		r.engineers[id] = st
	}
	r.rebuildLives()
	return r, nil
}

// rebuildLives computes every engineer's Live afresh.
func (r *router) rebuildLives() {
	engineers := r.opts.Router.Engineers()
	r.lives = make([]routing.Live, len(engineers))
	for i, eng := range engineers {
		r.lives[i] = r.liveNow(eng.ID)
	}
}

// touch recomputes engineer id's Live after a change to their load or state.
func (r *router) touch(id string) {
	if i, ok := r.opts.Router.Index(id); ok {
		r.lives[i] = r.liveNow(id)
	}
}

func (r *router) engineer(id string) EngineerState {
	if st, ok := r.pendingEngineers[id]; ok {
		return st
	}
	return r.engineers[id]
}

func (r *router) putEngineer(tx store.Tx, id string, st EngineerState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	r.pendingEngineers[id] = st
	r.touch(id)
	return tx.PutEngineer(id, b)
}

// rollDay starts a new day's counts when the day changed.
func (r *router) rollDay(now time.Time) {
	if day := now.Format("20060102"); day != r.day {
		r.day, r.today = day, map[string]int{}
		r.rebuildLives()
	}
}

// flush writes what the batch changed of the pointers and daily counts, once per team and
// engineer rather than once per ticket, at the end of the batch's transaction.
func (r *router) flush(tx store.Tx) error {
	if err := r.traces.flush(tx); err != nil {
		return err
	}
	for team, idx := range r.pendingPointers {
		if err := tx.SetRoundRobin(team, idx); err != nil {
			return err
		}
	}
	for k, n := range r.pendingToday {
		if err := tx.CountAssignments(k.engineer, k.day, n); err != nil {
			return err
		}
	}
	return nil
}

func (r *router) settle(committed bool) {
	r.traces.settle()
	if committed {
		for id, d := range r.pendingOpen {
			r.open[id] += d
		}
		for k, n := range r.pendingToday {
			if k.day == r.day {
				r.today[k.engineer] += n
			}
		}
		maps.Copy(r.pointers, r.pendingPointers)
		maps.Copy(r.engineers, r.pendingEngineers)
	}
	clear(r.pendingOpen)
	clear(r.pendingToday)
	clear(r.pendingPointers)
	clear(r.pendingEngineers)
	if !committed {
		r.rebuildLives() // without what the batch would have changed
	}
}

// liveNow is what the router knows of engineer id now, pending changes included.
func (r *router) liveNow(id string) routing.Live { return r.liveOf(id, r.engineer(id)) }

func (r *router) liveOf(id string, st EngineerState) routing.Live {
	ftfr, known := st.FTFR()
	return routing.Live{
		Status: st.Status, Location: st.Location, Skills: st.Skills, SuspendedUntil: st.SuspendedUntil,
		Open: r.open[id] + r.pendingOpen[id], Today: r.today[id] + r.pendingToday[dayKey{id, r.day}],
		FTFR: ftfr, FTFRKnown: known,
	}
}

func (r *router) pointersNow() map[string]int {
	if len(r.pendingPointers) == 0 {
		return r.pointers
	}
	out := maps.Clone(r.pointers)
	maps.Copy(out, r.pendingPointers)
	return out
}

// RoutingEnv is the ticket as routing rules see it.
func RoutingEnv(t ticket.Ticket) routing.Env {
	var source, channel string
	if len(t.Sources) > 0 {
		source, channel = t.Sources[0].Source.Connector, t.Sources[0].Source.Type
	}
	return routing.Env{
		Source: source, Channel: channel, Category: t.Category, Tags: t.Tags, Urgency: string(t.Urgency),
		Title: t.Title, Description: t.Description,
		Customer: routing.EnvCustomer{ID: t.Customer.ID, Name: t.Customer.Name, Phone: t.Customer.Phone, Org: t.Customer.Org},
		Device:   routing.EnvDevice{ID: t.Device.ID, Model: t.Device.Model, ProductType: t.Device.ProductType},
		Location: routing.EnvLocation{Address: t.Location.Address, City: t.Location.City, Lat: t.Location.Lat, Lon: t.Location.Lon},
	}
}

// follow runs what routing does after ev took before to res.ticket, inside tx: it keeps the
// loads, timers and engineer records current, and routes a new or declined ticket. Events
// it appends go to res.more, notifications to res.notes.
func (e *Engine) follow(tx store.Tx, before ticket.Ticket, res *result) error {
	r := e.routing
	ev := *res.event
	after := res.ticket
	now := ev.At
	r.rollDay(now)

	// Loads.
	released, taken := routing.MoveLoad(routing.Holding{Engineer: before.Assignee, Open: before.State.Open()},
		routing.Holding{Engineer: after.Assignee, Open: after.State.Open()})
	if released != "" {
		r.pendingOpen[released]--
		r.touch(released)
	}
	if taken != "" {
		r.pendingOpen[taken]++
		r.touch(taken)
	}

	switch ev.Action {
	case ticket.ActionAssign:
		r.pendingToday[dayKey{after.Assignee, r.day}]++
		r.touch(after.Assignee)
		if err := tx.SetTimer(store.Timer{TicketID: after.ID, Kind: timerOffer, Due: now.Add(r.opts.AcceptTimeout)}); err != nil {
			return err
		}
		if ev.Actor.Role != ticket.RoleSystem {
			body, _ := json.Marshal(map[string]any{"manual": true, "by": ev.Actor, "engineer": after.Assignee, "team": after.Team})
			r.traces.addRecord(store.RoutingRecord{TicketID: after.ID, At: now, Trigger: TriggerManual, Manual: true,
				Engineer: after.Assignee, Team: after.Team, Body: body})
		}
		return nil
	}
	if before.State == ticket.StateAssigned && after.State != ticket.StateAssigned {
		if err := tx.DeleteTimer(after.ID, timerOffer); err != nil {
			return err
		}
	}
	switch ev.Action {
	case ticket.ActionDecline:
		var d ticket.DeclineData
		_ = json.Unmarshal(ev.Data, &d)
		return e.route(tx, res, TriggerDeclined, d.ReasonCode, "")
	case ticket.ActionConfirm:
		return e.rate(tx, after, ev, res)
	}
	if ev.To == ticket.StateClosed && !before.ClosedOnce && !after.ForceClosed && after.Assignee != "" {
		st := r.engineer(after.Assignee)
		st.Fixed++
		if after.Reworks == 0 {
			st.FirstTime++
		}
		st.UpdatedAt = now
		return r.putEngineer(tx, after.Assignee, st)
	}
	return nil
}

// routeNew routes a new ticket as it is created: the creation, the assignment (or the
// failure) and the ticket row go to the store in one Insert, and the decision, the offer
// timer and the counts only after it.
func (e *Engine) routeNew(tx store.Tx, res *result, idempotencyKey string) error {
	created := *res.event
	err := e.routeWith(tx, res, TriggerCreated, "", "", func(next ticket.Ticket, ev *ticket.Event) error {
		id, err := tx.Insert(next, created, idempotencyKey, ev)
		if err != nil {
			return err
		}
		res.event.ID = id
		return nil
	})
	if err != nil {
		return err
	}
	if t := res.ticket; t.RepeatOf != "" {
		return e.countRepeat(tx, t, created.At, res)
	}
	return nil
}

// countRepeat charges a repeat request (created at now) to whoever closed the ticket
// it repeats: against their first-time fixes, and as a yellow card.
func (e *Engine) countRepeat(tx store.Tx, repeat ticket.Ticket, now time.Time, res *result) error {
	prev, found, err := e.ticketIn(tx, repeat.RepeatOf)
	if err != nil || !found || prev.Assignee == "" {
		return err
	}
	if prev.RepeatedBy != "" || prev.ClosedAt.IsZero() || now.Sub(prev.ClosedAt) > ticket.RepeatWindow {
		// Charged once per fix that did not hold, and only within the repeat window (a
		// follow-up "yes" may come later: it is linked, not charged).
		return nil
	}
	r := e.routing
	st := r.engineer(prev.Assignee)
	st.Repeats++
	st.UpdatedAt = now
	if err := r.putEngineer(tx, prev.Assignee, st); err != nil {
		return err
	}
	v := r.cards.Charged(st.record(), routing.CauseRepeat, now)
	return e.giveCards(tx, prev.Assignee, v, cardCause{ticket: prev.ID, key: repeat.ID + "/repeat",
		what: fmt.Sprintf("%s came back as %s within %s of its close", prev.ID, repeat.ID, ticket.RepeatWindow)}, res)
}

// rate judges the customer's rating of t, confirmed by ev, for the engineer who had t when
// the customer answered (Feedback.Engineer), whoever has it later. An automatic
// confirmation is no rating.
func (e *Engine) rate(tx store.Tx, t ticket.Ticket, ev ticket.Event, res *result) error {
	fb := t.Feedback
	if fb == nil || fb.Auto || fb.Engineer == "" {
		return nil
	}
	st := e.routing.engineer(fb.Engineer)
	v := e.routing.cards.Rated(st.record(), fb.Timeliness, fb.Professionalism, !fb.Solved, ev.At)
	what := fmt.Sprintf("%s rated %d for timeliness and %d for professionalism", t.ID, fb.Timeliness, fb.Professionalism)
	if !fb.Solved {
		what = fmt.Sprintf("%s disputed: not solved (rated %d and %d)", t.ID, fb.Timeliness, fb.Professionalism)
	}
	return e.giveCards(tx, fb.Engineer, v, cardCause{ticket: t.ID, key: fmt.Sprintf("%s/%d", t.ID, ev.Seq), what: what}, res)
}

// chargeSLA gives engineer the yellow card of an SLA red tier (tier) that fired on t at now:
// one per ticket and engineer, however many of its targets reach the tier.
func (e *Engine) chargeSLA(tx store.Tx, t ticket.Ticket, engineer, key string, now time.Time, res *result) error {
	r := e.routing
	if r == nil || engineer == "" {
		return nil
	}
	v := r.cards.Charged(r.engineer(engineer).record(), routing.CauseSLARed, now)
	return e.giveCards(tx, engineer, v, cardCause{ticket: t.ID, key: t.ID + "/sla_red/" + engineer,
		what: fmt.Sprintf("%s reached the SLA %s tier (%s)", t.ID, r.cards.SLATier, key)}, res)
}

// record is what of st counts toward the next red card.
func (st EngineerState) record() routing.CardRecord {
	return routing.CardRecord{Ones: st.LowRatings, Yellows: st.Yellows}
}

// cardCause is what a verdict is about: the engineer's ticket, the key that makes its cards
// once (each card's key adds its kind), and what happened, for people.
type cardCause struct{ ticket, key, what string }

// giveCards keeps what verdict v does to engineer, in tx: each card given (in the store, at
// most once per key: a key kept already gives nothing again, and changes nothing), the
// engineer's record and a red card's suspension; a red card tells their lead.
func (e *Engine) giveCards(tx store.Tx, engineer string, v routing.Verdict, about cardCause, res *result) error {
	r := e.routing
	st := r.engineer(engineer)
	if len(v.Cards) == 0 && v.Record.Ones == st.LowRatings && slices.Equal(v.Record.Yellows, st.Yellows) {
		return nil // a good rating, and no run of low ones to end
	}
	for _, c := range v.Cards {
		detail := about.what
		if c.Kind == routing.CardRed {
			detail = e.redDetail(engineer, c, v, about)
		}
		added, err := tx.PutCard(store.Card{Engineer: engineer, Kind: string(c.Kind), Cause: string(c.Cause), TicketID: about.ticket,
			At: c.At, ExpiresAt: c.ExpiresAt, Detail: detail, Key: about.key + "/" + string(c.Kind)})
		if err != nil {
			return err
		}
		if !added {
			return nil // given before: the event that gives it was applied once already
		}
		e.metrics.cards.WithLabelValues(string(c.Kind), string(c.Cause)).Inc()
		if c.Kind == routing.CardRed {
			res.notes = append(res.notes, Notification{Kind: "red_card", To: e.leadOf(engineer), TicketID: about.ticket,
				Engineer: engineer, Detail: detail})
			e.metrics.redCards.Inc()
		}
	}
	st.LowRatings, st.Yellows = v.Record.Ones, v.Record.Yellows
	if v.SuspendedUntil.After(st.SuspendedUntil) {
		st.SuspendedUntil = v.SuspendedUntil
	}
	st.UpdatedAt = e.now()
	return r.putEngineer(tx, engineer, st)
}

// redDetail says why engineer got red card c, and until when.
func (e *Engine) redDetail(engineer string, c routing.Card, v routing.Verdict, about cardCause) string {
	until := v.SuspendedUntil.In(e.opts.Location).Format("2006-01-02 15:04")
	rules := e.routing.cards
	if c.Cause == routing.CauseYellows {
		return fmt.Sprintf("%s got %d yellow cards within %s, the last: %s; no new assignments until %s",
			engineer, rules.RedAfterYellows, rules.RedWithin, about.what, until)
	}
	return fmt.Sprintf("%s was rated 1 by %d customers in a row, the last: %s; no new assignments until %s",
		engineer, rules.RedAfterOnes, about.what, until)
}

// leadOf is the lead of the first team that lists engineer.
func (e *Engine) leadOf(engineer string) string {
	return e.routing.opts.Router.LeadOf(engineer)
}

// route decides for res.ticket and appends the assignment or the failure, and the decision.
// timedOut, when set, is the engineer whose offer timed out (or, for TriggerSLA, whom the
// tier takes the ticket from).
func (e *Engine) route(tx store.Tx, res *result, trigger, cause, timedOut string) error {
	return e.routeWith(tx, res, trigger, cause, timedOut, func(next ticket.Ticket, ev *ticket.Event) error {
		id, err := tx.Append(next, *ev)
		if err != nil {
			e.forget(next.ID)
			return err
		}
		ev.ID = id
		return nil
	})
}

// routeWith is route with the write of the event given: write stores next, the ticket after
// ev, and sets ev.ID. Nothing else is written before write succeeds, so a write that fails
// (a conflict) leaves no decision, timer or count behind.
func (e *Engine) routeWith(tx store.Tx, res *result, trigger, cause, timedOut string, write func(next ticket.Ticket, ev *ticket.Event) error) error {
	r := e.routing
	t := res.ticket
	if !t.State.Open() || (t.State != ticket.StateNew && trigger != TriggerOfferTimeout && trigger != TriggerSLA) {
		return nil
	}
	now := e.now()
	r.rollDay(now) // a new day's max_daily starts from 0
	excluded := make(map[string]string, len(t.Excluded)+1)
	for _, x := range t.Excluded {
		excluded[x.Engineer] = x.Reason
	}
	if timedOut != "" {
		excluded[timedOut] = ticket.ExclusionOfferTimeout
		if trigger == TriggerSLA {
			excluded[timedOut] = ticket.ExclusionSLAReroute
		}
	}
	started := time.Now()
	job := r.traces.next()
	job.d = r.opts.Router.Decide(routing.Request{Ticket: RoutingEnv(t), Now: now, Lives: r.lives, Exclude: excluded,
		Pointers: r.pointersNow(), Reuse: &job.d})
	d := &job.d
	took := time.Since(started)
	kept := false
	defer func() {
		if !kept {
			r.traces.drop(job)
		}
	}()
	e.metrics.routingSeconds.Observe(took.Seconds())

	var set *ticket.Classification
	if d.Set.Urgency != "" || d.Set.Category != "" || len(d.Set.Tags) > 0 {
		set = &ticket.Classification{Urgency: d.Set.Urgency, Category: d.Set.Category, Tags: d.Set.Tags}
	}
	var ev ticket.Event
	var err error
	switch {
	case d.Failure == nil:
		ad := ticket.AssignData{Assignee: d.Engineer, Team: d.Team, OfferTimedOut: timedOut, Set: set}
		if trigger == TriggerSLA {
			ad.OfferTimedOut, ad.Rerouted = "", timedOut
		}
		data, _ := json.Marshal(ad)
		ev, err = ticket.Decide(t, ticket.Command{TicketID: t.ID, Action: ticket.ActionAssign, Actor: ticket.SystemActor, Data: data, Rule: d.Rule}, now)
	case trigger == TriggerOfferTimeout:
		// No one else can take it: the offer is escalated (DESIGN §5), to the team lead.
		reason := fmt.Sprintf("%s did not accept within %s and no one else can take it (%s: %s)",
			timedOut, r.opts.AcceptTimeout, d.Failure.Reason, d.Failure.Detail)
		ev, err = ticket.Decide(t, ticket.Command{TicketID: t.ID, Action: ticket.ActionEscalate, Actor: ticket.SystemActor, Reason: reason, Rule: d.Rule}, now)
	default:
		ev, err = ticket.RoutingFailed(t, ticket.RoutingFailedData{Reason: string(d.Failure.Reason), Detail: d.Failure.Detail,
			Rule: d.Rule, Lead: d.Failure.Lead, Set: set}, now)
	}
	if err != nil {
		// The ticket refuses the decision (frozen by rollbacks, or a rule set something it
		// cannot take): record a failure rather than fail the intake, and assign no one.
		e.opts.Logger.Error("routing: the decision cannot be applied", "ticket", t.ID, "rule", d.Rule, "err", err)
		lead := r.opts.Router.LeadOf(d.Engineer)
		if len(d.Teams) > 0 {
			if tm, ok := r.opts.Router.Team(d.Teams[0].Team); ok {
				lead = tm.Lead
			}
		}
		d.Engineer, d.Team, d.Pointer, d.Overflow = "", "", nil, false
		d.Failure = &routing.Failure{Reason: "invalid_decision", Detail: err.Error(), Lead: lead}
		if ev, err = ticket.RoutingFailed(t, ticket.RoutingFailedData{Reason: "invalid_decision", Detail: d.Failure.Detail, Rule: d.Rule, Lead: lead}, now); err != nil {
			return err
		}
	}
	next, err := ticket.Apply(t, ev)
	if err != nil {
		return err
	}
	if err := write(next, &ev); err != nil {
		return err
	}
	e.pending[next.ID] = next
	res.ticket = next
	res.more = append(res.more, ev)

	extra, err := json.Marshal(struct {
		Trigger  string  `json:"trigger"`
		Cause    string  `json:"cause,omitempty"`
		TookMs   float64 `json:"took_ms"`
		Manual   bool    `json:"manual"`
		EventSeq int64   `json:"event_seq"`
	}{trigger, cause, float64(took.Microseconds()) / 1000, false, ev.Seq})
	if err != nil {
		return err
	}
	rec := store.RoutingRecord{TicketID: t.ID, At: now, Trigger: trigger, Cause: cause, Engineer: d.Engineer, Team: d.Team, Rule: d.Rule}
	if d.Failure != nil {
		rec.Failure = string(d.Failure.Reason)
		if len(d.Teams) > 0 {
			rec.Team = d.Teams[0].Team // the rule's team, for the report
		}
		e.metrics.routingFailures.WithLabelValues(string(d.Failure.Reason)).Inc()
		res.notes = append(res.notes, Notification{Kind: "routing_failed", To: d.Failure.Lead, TicketID: t.ID,
			Detail: fmt.Sprintf("%s: %s", d.Failure.Reason, d.Failure.Detail)})
	} else {
		e.metrics.routed.WithLabelValues(trigger).Inc()
	}
	r.traces.add(job, rec, extra[1:len(extra)-1])
	kept = true
	if d.Pointer != nil {
		r.pendingPointers[d.Pointer.Team] = d.Pointer.Index
	}
	if d.Failure == nil {
		// The assignment's own follow-ups: loads, today's count, the offer timer.
		before := t
		sub := result{ticket: next, event: &ev}
		if err := e.follow(tx, before, &sub); err != nil {
			return err
		}
		res.more = append(res.more, sub.more...)
		res.notes = append(res.notes, sub.notes...)
	} else if trigger == TriggerOfferTimeout {
		// No one else: the offer stays with the engineer, and the timer is spent.
		if err := tx.DeleteTimer(t.ID, timerOffer); err != nil {
			return err
		}
	}
	return nil
}

// notify hands n to the hook of its kind (SLA or routing), or logs it.
func (e *Engine) notify(n Notification) {
	var hook func(Notification)
	switch {
	case strings.HasPrefix(n.Kind, "sla_") && e.opts.SLA != nil:
		hook = e.opts.SLA.Notify
	case e.routing != nil:
		hook = e.routing.opts.Notify
	}
	if hook != nil {
		hook(n)
		return
	}
	e.opts.Logger.Warn("notification", "kind", n.Kind, "to", n.To, "ticket", n.TicketID, "engineer", n.Engineer, "detail", n.Detail)
}
