package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"gongdan/core/routing"
	"gongdan/core/sla"
	"gongdan/core/store"
	"gongdan/core/ticket"
)

// Views: engineers, routing decisions and SLA clocks as the API reads them.

// EngineerView is an engineer as the API shows it: the config, what changed live, and load.
type EngineerView struct {
	routing.Engineer
	Teams []string `json:"teams"`
	// Live are the live changes (status, location, skills) and the record.
	Live EngineerState `json:"live"`
	// Status, Skills and Location are what routing uses now.
	EffectiveStatus   routing.Status `json:"effective_status"`
	EffectiveSkills   []string       `json:"effective_skills"`
	EffectiveLocation routing.Point  `json:"effective_location"`
	Open              int            `json:"open"`
	Today             int            `json:"today"`
	FTFR              *float64       `json:"ftfr"`
	Suspended         bool           `json:"suspended"`
	// YellowCards counts the yellow cards that still count toward a red one; which they
	// are is for GET /api/v1/engineers/{id}/cards, where fewer may look.
	YellowCards int `json:"yellow_cards"`
}

// ErrRoutingOff: the engine routes nothing, so it has no engineers.
var ErrRoutingOff = errors.New("routing is not configured")

// Engineer returns engineer id as routing sees it now.
func (e *Engine) Engineer(ctx context.Context, id string) (EngineerView, error) {
	if e.routing == nil {
		return EngineerView{}, ErrRoutingOff
	}
	res := e.submit(ctx, &request{update: &engineerUpdate{id: id, get: true}})
	if res.err != nil {
		return EngineerView{}, res.err
	}
	return *res.engineer, nil
}

// Engineers returns every configured engineer as routing sees them now.
func (e *Engine) Engineers(ctx context.Context) ([]EngineerView, error) {
	if e.routing == nil {
		return nil, ErrRoutingOff
	}
	// One request for all: a request each would be a trip through the committer each.
	res := e.submit(ctx, &request{update: &engineerUpdate{all: true}})
	return res.engineers, res.err
}

// viewOf is engineer cfg, whose state is st, as the API shows it.
func (e *Engine) viewOf(cfg routing.Engineer, st EngineerState) EngineerView {
	r := e.routing
	live := r.liveOf(cfg.ID, st)
	v := EngineerView{Engineer: cfg, Teams: r.opts.Router.TeamsOf(cfg.ID), Live: st,
		EffectiveStatus: cfg.Status, EffectiveSkills: cfg.Skills, EffectiveLocation: cfg.Home,
		Open: live.Open, Today: live.Today, Suspended: e.now().Before(st.SuspendedUntil)}
	if live.Status != "" {
		v.EffectiveStatus = live.Status
	}
	if live.Skills != nil {
		v.EffectiveSkills = live.Skills
	}
	if live.Location.Known() {
		v.EffectiveLocation = live.Location
	}
	if live.FTFRKnown {
		v.FTFR = &live.FTFR
	}
	now := e.now()
	for _, y := range st.Yellows {
		if now.Before(y.ExpiresAt) && (r.cards.RedWithin <= 0 || now.Sub(y.At) < r.cards.RedWithin) {
			v.YellowCards++
		}
	}
	v.Live.Yellows = nil
	return v
}

// CardsView is an engineer's cards as the API shows them.
type CardsView struct {
	Engineer string `json:"engineer"`
	// SuspendedUntil is the end of the red card's suspension; absent when not suspended.
	SuspendedUntil *time.Time `json:"suspended_until"`
	// Cards are every card given, the newest first.
	Cards []CardView `json:"cards"`
}

// CardView is one card: Active while a yellow one has not expired, or a red one's
// suspension lasts.
type CardView struct {
	store.Card
	Active bool `json:"active"`
}

// Cards returns engineer id's yellow and red cards; ErrNotFound for an engineer who is not
// configured.
func (e *Engine) Cards(ctx context.Context, id string) (CardsView, error) {
	if e.routing == nil {
		return CardsView{}, ErrRoutingOff
	}
	if _, ok := e.routing.opts.Router.Engineer(id); !ok {
		return CardsView{}, fmt.Errorf("engineer %s: %w", id, ErrNotFound)
	}
	v, err := e.Engineer(ctx, id) // the suspension as the committer knows it
	if err != nil {
		return CardsView{}, err
	}
	cards, err := e.store.Cards(ctx, id)
	if err != nil {
		return CardsView{}, err
	}
	now := e.now()
	out := CardsView{Engineer: id, Cards: make([]CardView, len(cards))}
	if v.Suspended {
		until := v.Live.SuspendedUntil.In(e.opts.Location)
		out.SuspendedUntil = &until
	}
	for i, c := range cards {
		c.At, c.ExpiresAt = c.At.In(e.opts.Location), c.ExpiresAt.In(e.opts.Location)
		out.Cards[i] = CardView{Card: c, Active: now.Before(c.ExpiresAt)}
	}
	return out, nil
}

// RoutingDecisions returns a ticket's routing decisions, oldest first.
func (e *Engine) RoutingDecisions(ctx context.Context, ticketID string) ([]store.RoutingRecord, error) {
	if _, err := e.store.Ticket(ctx, ticketID); err != nil {
		return nil, err
	}
	return e.store.RoutingDecisions(ctx, ticketID)
}

// SLAView is a ticket's SLA as the API shows it.
type SLAView struct {
	TicketID string `json:"ticket_id"`
	// Policy is the policy that applies; empty when none does.
	Policy   string      `json:"policy"`
	Calendar string      `json:"calendar,omitempty"`
	Clocks   []ClockView `json:"clocks"`
	// Tier is the colour of the highest tier fired on a target not yet met; empty when none.
	Tier string    `json:"tier,omitempty"`
	At   time.Time `json:"at"`
}

// ClockView is one target's clock.
type ClockView struct {
	Target string     `json:"target"`
	Goal   string     `json:"goal"`
	Status sla.Status `json:"status"`
	// Due is when the goal is (or was) reached; absent while paused before a breach.
	Due       *time.Time `json:"due"`
	Elapsed   string     `json:"elapsed"`
	Remaining string     `json:"remaining"`
	Paused    string     `json:"paused"`
	StoppedAt *time.Time `json:"stopped_at"`
	// BreachedAt is when it passed its goal; absent unless breached.
	BreachedAt *time.Time `json:"breached_at"`
	// WarnAt is when it passes the policy's warn_at share of the goal (past or to come).
	WarnAt *time.Time `json:"warn_at"`
	// Marks are the warning, breach and tiers of this target: when each is due, and when
	// it fired (absent until it does).
	Marks []MarkView `json:"marks"`
}

// MarkView is a warning, breach or tier of a target.
type MarkView struct {
	Kind    string     `json:"kind"`
	Tier    string     `json:"tier,omitempty"`
	Due     time.Time  `json:"due"`
	FireAt  time.Time  `json:"fire_at"`
	FiredAt *time.Time `json:"fired_at"`
}

// SLA returns ticket id's SLA clocks as of now.
func (e *Engine) SLA(ctx context.Context, id string) (SLAView, error) {
	t, err := e.store.Ticket(ctx, id)
	if err != nil {
		return SLAView{}, err
	}
	return e.slaView(t, e.now()), nil
}

func (e *Engine) slaView(t ticket.Ticket, now time.Time) SLAView {
	v := SLAView{TicketID: t.ID, Clocks: []ClockView{}, At: now}
	p := e.policyOf(t)
	if p == nil {
		return v
	}
	v.Policy, v.Calendar = p.ID, p.Calendar.Name
	clocks := clocksOf(p, t, now)
	marks := p.Marks(clocks)
	fired := map[string]time.Time{}
	for _, m := range t.SLA {
		fired[m.Key] = m.At
	}
	colour := -1
	for _, c := range clocks {
		cv := ClockView{Target: string(c.Target), Goal: c.Goal.String(), Status: c.Status, Due: timePtr(c.Due),
			Elapsed: c.Elapsed.Round(time.Second).String(), Remaining: c.Remaining.Round(time.Second).String(),
			Paused: c.Paused.Round(time.Second).String(), StoppedAt: timePtr(c.StoppedAt), WarnAt: timePtr(c.WarnAt), Marks: []MarkView{}}
		if c.Status == sla.StatusBreached {
			cv.BreachedAt = timePtr(c.BreachedAt) // a running clock's is its due time
		}
		for _, m := range marks {
			if m.Target != c.Target {
				continue
			}
			mv := MarkView{Kind: m.Kind, Due: m.Due, FireAt: m.FireAt}
			if m.Tier != nil {
				mv.Tier = m.Tier.Name
			}
			if at, ok := fired[m.Key]; ok {
				mv.FiredAt = &at
				// The colour is the highest tier fired: a quiet lower one that fires after it
				// (at the next opening) does not lower it.
				if m.Tier != nil && c.Status != sla.StatusMet && tierOrder(p, m.Tier.Name) > colour {
					v.Tier, colour = m.Tier.Name, tierOrder(p, m.Tier.Name)
				}
			}
			cv.Marks = append(cv.Marks, mv)
		}
		v.Clocks = append(v.Clocks, cv)
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// BoardEntry is an open ticket on the SLA board.
type BoardEntry struct {
	TicketID string `json:"ticket_id"`
	Title    string `json:"title"`
	State    string `json:"state"`
	Urgency  string `json:"urgency"`
	Assignee string `json:"assignee"`
	Team     string `json:"team"`
	Policy   string `json:"policy"`
	// Target is the clock nearest its breach (or longest past it); Due its due time and
	// ToBreach the time until it (negative when breached).
	Target   string     `json:"target"`
	Status   sla.Status `json:"status"`
	Due      *time.Time `json:"due"`
	ToBreach string     `json:"to_breach"`
	// Tier is the colour of the latest tier fired; empty when none.
	Tier string `json:"tier,omitempty"`
	// Calls is how many times the customer phoned about the ticket; from the second call
	// (催单) Chased is set, so the board can show who is waiting on the phone.
	Calls  int  `json:"calls,omitempty"`
	Chased bool `json:"chased,omitempty"`

	toBreach time.Duration
}

// SLABoard returns up to q.Limit open tickets with a running clock, the nearest to breach (or
// longest breached) first, of q.Team and of q.Policy when set. It reads the board the engine
// keeps in the store with every event (one row a ticket, by due time, indexed by team and by
// policy too), so its cost does not grow with the open tickets.
func (e *Engine) SLABoard(ctx context.Context, q store.BoardQuery) ([]BoardEntry, error) {
	now := e.now()
	rows, err := e.store.Board(ctx, q)
	if err != nil {
		return nil, err
	}
	out := []BoardEntry{}
	for _, row := range rows {
		t, err := e.store.Ticket(ctx, row.TicketID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		v := e.slaView(t, now)
		if v.Policy == "" {
			continue
		}
		entry := BoardEntry{TicketID: t.ID, Title: t.Title, State: string(t.State), Urgency: string(t.Urgency), Assignee: t.Assignee,
			Team: t.Team, Policy: v.Policy, Tier: v.Tier, Calls: t.Calls, Chased: slices.Contains(t.Tags, ticket.TagChased), toBreach: 1<<63 - 1}
		for _, c := range v.Clocks {
			if c.Status == sla.StatusMet || c.Status == sla.StatusPaused || c.Due == nil || c.StoppedAt != nil {
				continue // met, or stopped late: nothing left to do for this target
			}
			if d := c.Due.Sub(now); d < entry.toBreach {
				entry.Target, entry.Status, entry.Due, entry.toBreach = c.Target, c.Status, c.Due, d
			}
		}
		if entry.Due == nil {
			continue // the board row is older than the ticket's last event: it goes at the next
		}
		entry.ToBreach = entry.toBreach.Round(time.Second).String()
		out = append(out, entry)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].toBreach < out[j].toBreach })
	return out, nil
}

// SLAOf is ticket t's SLA clocks as of now.
func (e *Engine) SLAOf(t ticket.Ticket) SLAView { return e.slaView(t, e.now()) }

// HasDue reports whether a running resolution clock sets a due time: the time promised.
func (v SLAView) HasDue() bool {
	for _, c := range v.Clocks {
		if c.Target == "resolution" && c.Due != nil && c.StoppedAt == nil {
			return true
		}
	}
	return false
}
