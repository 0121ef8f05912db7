package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"gongdan/core/report"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

const benchKPIStoreUsage = `usage: gongdan bench kpi-store [--tickets 1000000] [--days 365] [--seed 1] [--config FILE] [--data DIR]

Fills the store of --data (stop the server first) with generated tickets for the KPI report's
benchmark: each ticket's events are decided by the ticket package as the engine would
(create, assign, accept, start, resolve, confirm by the customer or automatically, close,
with some disputes, reopens, force-closes and tickets still open), spread over the last
--days days, and written through the store with their KPI facts, 10,000 tickets a
transaction. Then time: gongdan report kpi --since 365d.`

// benchKPIStoreCmd is `gongdan bench kpi-store`.
func benchKPIStoreCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench kpi-store", stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	tickets := fs.Int("tickets", 1_000_000, "tickets to generate")
	days := fs.Int("days", 365, "spread over this many days before now")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if *tickets < 1 || *days < 1 || fs.NArg() > 0 {
		return usageError("%s", benchKPIStoreUsage)
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	lock, err := lockDataDir(*conf.dataDir)
	if err != nil {
		return userError(err)
	}
	defer lock.release()
	cfg.ResolvePaths(*conf.dataDir)
	ctx := context.Background()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	g := &kpiGenerator{rnd: rand.New(rand.NewPCG(*seed, 7)), loc: cfg.Server.Location, now: time.Now().Truncate(time.Second)}
	g.start = g.now.Add(-time.Duration(*days) * 24 * time.Hour)
	began := time.Now()
	const perTx = 10_000
	for done := 0; done < *tickets; {
		n := min(perTx, *tickets-done)
		err := st.Write(ctx, func(tx store.Tx) error {
			for i := 0; i < n; i++ {
				if err := g.one(tx, done+i, *tickets); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		done += n
		fmt.Fprintf(stderr, "\r%d tickets", done)
	}
	fmt.Fprintf(stderr, "\n")
	// The generated history was never on the bus, and no one waits for it there: the
	// server's events outbox starts after it, as if it had published it, instead of spending
	// minutes (and the benchmark's CPU) publishing millions of old events.
	if err := st.SetCursor(ctx, "bus-events", g.lastEvent); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %d tickets over %d days in %s\n", *tickets, *days, time.Since(began).Round(time.Second))
	return nil
}

// kpiGenerator makes the benchmark's tickets.
type kpiGenerator struct {
	rnd        *rand.Rand
	loc        *time.Location
	start, now time.Time
	// lastEvent is the id of the last event written.
	lastEvent int64
}

var (
	benchTeams      = []string{"suzhou-a", "suzhou-b", "wuxi", "shanghai", "hangzhou"}
	benchCategories = []string{"急停故障", "设备过热", "设备离线", "液压泄漏", "门锁故障", "传感器故障", "电源故障", "通讯中断"}
	benchConnectors = []string{"hooks", "gzh", "hotline", "plant", "crm"}
	benchCauses     = []string{"接线松动", "传感器老化", "固件缺陷", "操作不当", "备件损坏", "电源波动", "密封圈老化"}
)

// one generates ticket i of n: created at a time spread evenly over the period, with a
// life drawn at random, and writes it with its facts.
func (g *kpiGenerator) one(tx store.Tx, i, n int) error {
	r := g.rnd
	span := g.now.Sub(g.start)
	at := g.start.Add(time.Duration(float64(span) * (float64(i) + r.Float64()) / float64(n))).Truncate(time.Second)
	day := at.In(g.loc)
	num, err := tx.NextNumber(day.Format("20060102"))
	if err != nil {
		return err
	}
	id := ticket.FormatID(day, num)
	team := benchTeams[r.IntN(len(benchTeams))]
	engineer := fmt.Sprintf("%s-eng-%02d", team, r.IntN(12))
	d := draft.Draft{
		Source:     draft.Source{Connector: benchConnectors[r.IntN(len(benchConnectors))], Type: "webhook"},
		ReceivedAt: at,
		Title:      "设备故障",
		Category:   benchCategories[r.IntN(len(benchCategories))],
		Customer:   draft.Customer{ID: fmt.Sprintf("c%07d", r.IntN(5_000_000)), Phone: fmt.Sprintf("138%08d", r.IntN(100_000_000))},
		Device:     draft.Device{ID: fmt.Sprintf("E%09d", r.IntN(1_000_000_000))},
		Urgency:    []draft.Urgency{draft.UrgencyBlue, draft.UrgencyYellow, draft.UrgencyOrange}[r.IntN(3)],
	}
	agent := ticket.Actor{ID: "agent-1", Role: ticket.RoleAgent}
	created, err := ticket.Create(id, d, "", agent, at, "")
	if err != nil {
		return err
	}
	t, err := ticket.Apply(ticket.Ticket{}, created)
	if err != nil {
		return err
	}
	events := []ticket.Event{created}
	var more []*ticket.Event
	do := func(action ticket.Action, actor ticket.Actor, reason string, data any, after time.Duration) bool {
		at = at.Add(after)
		if at.After(g.now) {
			return false // still open now
		}
		raw, _ := json.Marshal(data)
		if data == nil {
			raw = nil
		}
		ev, err := ticket.Decide(t, ticket.Command{TicketID: id, Action: action, Actor: actor, Reason: reason, Data: raw}, at)
		if err != nil {
			panic(fmt.Sprintf("bench kpi-store: %s %s: %v", id, action, err)) // a bug of the generator
		}
		t, _ = ticket.Apply(t, ev)
		events = append(events, ev)
		more = append(more, &events[len(events)-1])
		return true
	}
	minutes := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Minute }
	dispatcher := ticket.Actor{ID: "dispatcher-1", Role: ticket.RoleDispatcher}
	eng := ticket.Actor{ID: engineer, Role: ticket.RoleEngineer}
	customer := ticket.Actor{ID: d.Customer.ID, Role: ticket.RoleCustomer}
	system := ticket.Actor{ID: "system", Role: ticket.RoleSystem}
	yes, no := true, false
	life := func() {
		if !do(ticket.ActionAssign, dispatcher, "", ticket.AssignData{Assignee: engineer, Team: team}, minutes(1, 30)) {
			return
		}
		if r.IntN(100) < 3 {
			do(ticket.ActionForceClose, ticket.Actor{ID: "sup-1", Role: ticket.RoleSupervisor}, "duplicate", nil, minutes(10, 600))
			return
		}
		if !do(ticket.ActionAccept, eng, "", nil, minutes(1, 120)) || !do(ticket.ActionStart, eng, "", nil, minutes(5, 120)) {
			return
		}
		for round := 0; ; round++ {
			cause := benchCauses[r.IntN(len(benchCauses))]
			if !do(ticket.ActionResolve, eng, "", ticket.ResolveData{RootCause: cause}, minutes(30, 2880)) {
				return
			}
			p := r.IntN(100)
			switch {
			case p < 5 && round == 0: // disputed
				if !do(ticket.ActionConfirm, customer, "", ticket.ConfirmData{Solved: &no, Timeliness: 1 + r.IntN(2), Professionalism: 1 + r.IntN(3)}, minutes(60, 1440)) {
					return
				}
				continue
			case p < 30: // no answer: confirmed automatically
				if !do(ticket.ActionConfirm, system, "", ticket.ConfirmData{Solved: &yes, Auto: true}, 72*time.Hour) {
					return
				}
			default:
				if !do(ticket.ActionConfirm, customer, "", ticket.ConfirmData{Solved: &yes, Timeliness: 1 + r.IntN(5), Professionalism: 2 + r.IntN(4)}, minutes(10, 2880)) {
					return
				}
			}
			break
		}
		if !do(ticket.ActionClose, dispatcher, "", nil, minutes(5, 600)) {
			return
		}
		if r.IntN(100) < 4 && do(ticket.ActionReopen, dispatcher, "came back", nil, minutes(60, 14400)) {
			if do(ticket.ActionResolve, eng, "", ticket.ResolveData{RootCause: benchCauses[0]}, minutes(30, 1440)) {
				do(ticket.ActionForceClose, ticket.Actor{ID: "sup-1", Role: ticket.RoleSupervisor}, "fixed on site", nil, minutes(10, 600))
			}
		}
	}
	life()
	id0, err := tx.Insert(t, created, "", more...)
	if err != nil {
		return err
	}
	g.lastEvent = max(g.lastEvent, id0)
	for _, ev := range more {
		g.lastEvent = max(g.lastEvent, ev.ID)
	}
	f, ratings, err := report.FoldTicket(events, nil)
	if err != nil {
		return err
	}
	rt := tx.(store.ReportTx)
	if err := rt.PutKPIFacts(f); err != nil {
		return err
	}
	for _, rating := range ratings {
		if err := rt.PutKPIRating(rating); err != nil {
			return err
		}
	}
	return nil
}
