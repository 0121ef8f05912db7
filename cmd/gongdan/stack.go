package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gongdan/attachments"
	"gongdan/config"
	"gongdan/connectors"
	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/store/sqlite"
	"gongdan/core/ticket"
	"gongdan/devices"
	"gongdan/draft"
	"gongdan/notify"
	"gongdan/pipeline"
	"gongdan/pipeline/bus"
	"gongdan/predict"
	"gongdan/web/console"
	"gongdan/web/track"
)

// The predict consumer is what the API shows of device history.
var _ api.DeviceHistory = (*predict.Tracker)(nil)

// stack is the whole server but the HTTP listener: store, engine, bus, pipeline, connectors
// and the API handler, built in dependency order and closed in reverse, so that nothing a
// source was acked for is dropped on the way down.
type stack struct {
	log      *slog.Logger
	store    *sqlite.Store
	engine   *engine.Engine
	bus      *bus.Bus
	pipeline *pipeline.Pipeline
	conns    *connectors.Manager
	api      *api.Server
	// console is the web console at /console/, served by the API's handler.
	console *console.Handler
	// devices is the device registry the connectors look devices up in and the API edits.
	devices *devices.Registry
	// predict keeps device history (the predict section); nil when it is off.
	predict *predict.Tracker

	pipelineDone chan error
	outbox       *pipeline.Outbox
	// staff sends WeCom app messages (notify.wecom), staffUsers maps ids to UserIDs.
	staff      notify.StaffSender
	staffUsers map[string]string
	// ledger keeps what notify's channels did, under the data directory, against
	// redeliveries across restarts.
	ledger *notify.FileLedger
	// attachments keeps the files that come with messages, under the data directory.
	attachments *attachments.Store
	stopOutbox  context.CancelFunc
	outboxDone  chan struct{}
}

// openStack builds the stack from a checked config whose paths are resolved. On error,
// whatever was opened is closed again.
func openStack(ctx context.Context, cfg *config.Config, log *slog.Logger, reg *prometheus.Registry) (_ *stack, err error) {
	// Closed through this variable, not the named result: `return nil, err` clears that, and
	// the deferred close would run on nil.
	s := &stack{log: log}
	defer func() {
		if err != nil {
			s.close(context.Background())
		}
	}()
	if s.store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	if err := foldMissingKPIFacts(ctx, s.store, cfg, log); err != nil {
		return nil, err
	}
	eopts := engine.Options{Store: s.store, Location: cfg.Server.Location, Logger: log, Registerer: reg}
	trackingKey, err := s.store.Secret(ctx, engine.TrackingSecret, engine.NewTrackingKey)
	if err != nil {
		return nil, fmt.Errorf("the tracking links' key: %w", err)
	}
	eopts.Closure = closureOptions(cfg, trackingKey)
	if cfg.Routing != nil {
		eopts.Routing = &engine.RoutingOptions{Router: cfg.Routing.Router, AcceptTimeout: cfg.Routing.AcceptTimeout.Std(),
			Notify: s.engineNotification}
		if cfg.Cards != nil {
			eopts.Routing.Cards = &cfg.Cards.Rules
		}
	}
	if cfg.SLA.BuiltPolicies.Len() > 0 {
		so := &engine.SLAOptions{Policies: cfg.SLA.BuiltPolicies, Fingerprint: cfg.SLA.Fingerprint}
		if cfg.Routing != nil {
			router := cfg.Routing.Router
			so.LeadOf = func(team string) string { t, _ := router.Team(team); return t.Lead }
		}
		eopts.SLA = so
	}
	if cfg.Predict != nil {
		if s.predict, err = s.openPredict(ctx, cfg, reg); err != nil {
			return nil, err
		}
		eopts.Tags = s.predict.Tags
	}
	if s.engine, err = engine.New(ctx, eopts); err != nil {
		return nil, err
	}
	if s.devices, err = openDevices(ctx, cfg, s.store, log); err != nil {
		return nil, err
	}
	if s.bus, err = bus.Open(ctx, busConfig(cfg), log); err != nil {
		return nil, userError(err)
	}

	// The connectors publish through the pipeline, and the pipeline normalizes with the
	// connectors' normalizers: the manager is built first and reaches the pipeline through
	// this variable, which is set before anything runs.
	var pl *pipeline.Pipeline
	mopts := connectors.ManagerOptions{
		Publish:  func(ctx context.Context, env draft.Envelope) error { return pl.Publish(ctx, env) },
		Logger:   log,
		Location: cfg.Server.Location,
		Enricher: cfg.Normalize.Enricher,
		Devices:  s.devices,
	}
	if cfg.DataDir != "" {
		mopts.DataDir = cfg.DataDir
		mopts.StateDir = filepath.Join(cfg.DataDir, "connectors")
		s.attachments = attachments.New(filepath.Join(cfg.DataDir, "attachments"))
		mopts.Attachments = s.attachments
	}
	s.conns, err = connectors.NewManager(cfg.File, cfg.Connectors, mopts)
	if err != nil {
		return nil, userError(err)
	}
	reg.MustRegister(s.conns.Collector())
	var sources []pipeline.Source
	for _, inst := range s.conns.Instances() {
		n, err := connectors.NormalizerOf(inst)
		if err != nil {
			return nil, err
		}
		sources = append(sources, pipeline.Source{Name: inst.Name, Normalizer: n, Scope: inst.Scope})
	}
	consumers, err := s.notifier(cfg)
	if err != nil {
		return nil, userError(err)
	}
	if s.predict != nil {
		consumers = append(consumers, s.predict.Consumer())
	}
	pl, err = pipeline.New(pipeline.Options{
		Bus:         s.bus,
		Sources:     sources,
		Consumers:   consumers,
		Enrich:      intakeEnrich(cfg, s.devices),
		Intake:      s.intake,
		Permanent:   permanentIntakeError,
		DeadLetters: s.store,
		OnDeadLetter: func(connector string) {
			if inst, ok := s.conns.Instance(connector); ok {
				inst.Stats.DeadLettered.Add(1)
			}
		},
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	s.pipeline = pl
	s.outbox = pipeline.NewOutbox(pipeline.OutboxOptions{
		Bus: s.bus, Topic: pipeline.TopicEvents, Name: "bus-events",
		Read: func(ctx context.Context, after int64, limit int) ([]pipeline.OutboxRecord, error) {
			evs, err := s.store.EventsAfter(ctx, after, limit)
			recs := make([]pipeline.OutboxRecord, len(evs))
			for i, ev := range evs {
				payload, _ := json.Marshal(ev)
				recs[i] = pipeline.OutboxRecord{Position: ev.ID, Payload: payload, Metadata: map[string]string{
					"event_id": strconv.FormatInt(ev.ID, 10), "ticket_id": ev.TicketID, "action": string(ev.Action),
				}}
			}
			return recs, err
		},
		Cursor:    s.store.Cursor,
		SetCursor: s.store.SetCursor,
		Wake:      s.wakeOnEvents(),
		Logger:    log,
	})

	page, err := track.New(track.Options{Engine: s.engine, Store: s.store, Attachments: s.attachments, Key: derivedKey(trackingKey, "forms"),
		Engineer: engineerContact(cfg), MaxPhotos: cfg.Tracking.MaxPhotos, MaxPhotoBytes: cfg.Tracking.MaxPhotoBytes,
		Location: cfg.Server.Location, Logger: log})
	if err != nil {
		return nil, err
	}
	co := console.Options{Engine: s.engine, Store: s.store, Attachments: s.attachments, Location: cfg.Server.Location, Logger: log,
		Secure: strings.HasPrefix(cfg.Server.PublicURL, "https://")}
	consoleSignIn(cfg, &co)
	s.console, err = console.New(co)
	if err != nil {
		return nil, err
	}
	var history api.DeviceHistory
	if s.predict != nil {
		history = s.predict // not a nil *Tracker in the interface: the API tells nil apart
	}
	tokens := make([]api.Token, len(cfg.Server.Tokens))
	for i, t := range cfg.Server.Tokens {
		tokens[i] = api.Token{Token: t.Token.Reveal(), Actor: ticket.Actor{ID: t.Actor, Role: ticket.Role(t.Role)}, Demo: t.Demo}
	}
	s.api, err = api.New(api.Options{
		Engine: s.engine, Store: s.store, Tokens: tokens, Logger: log, MaxBodyBytes: cfg.Server.MaxBodyBytes,
		Gatherer: reg, Registerer: reg,
		Connectors: func() any { return s.conns.Status() }, Edge: slices.Concat(intakeRoutes(s.conns), page.Routes(), s.console.Routes()), DeadLetters: s.store, Replayer: s.pipeline, Devices: s.devices, Attachments: s.attachments,
		DeviceHistory:  history,
		TrustedProxies: cfg.Server.Proxies, MetricsToken: cfg.Server.MetricsToken.Reveal(),
		TrackingURL: trackingURL(cfg),
		// Matched with what the registry knows of the draft's device, as the pipeline's are.
		Suggest: func(d draft.Draft) []draft.Suggestion {
			return cfg.KnowledgeBase.Suggest(devices.FillDraft(d, s.devices))
		},
		// Ping is not enough: on a full disk the store answers and the bus is connected,
		// yet neither can write.
		Ready: []func(context.Context) error{sqlite.NewWriteProbe(s.store).Check, s.bus.Healthy},
	})
	if err != nil {
		return nil, err
	}
	s.console.UseAPI(s.api)
	for _, c := range s.console.Collectors() {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// engineNotification takes the engine's notifications. Those with an event of their own
// (routing failures, SLA marks) reach people through the notify consumer, durably; a red
// card has none, so it goes to the lead by WeCom here, best effort (three tries), and every
// notification is logged.
func (s *stack) engineNotification(n engine.Notification) {
	s.log.Warn("notification", "kind", n.Kind, "to", n.To, "ticket", n.TicketID, "engineer", n.Engineer, "detail", n.Detail)
	if n.Kind != "red_card" || s.staff == nil || n.To == "" {
		return
	}
	to := n.To
	if u := s.staffUsers[to]; u != "" {
		to = u
	}
	go func() {
		wait := time.Second
		for try := 1; ; try++ {
			err := s.staff.SendAppText(context.Background(), []string{to}, "【红牌】"+n.Detail)
			if err == nil || try == 3 {
				if err != nil {
					s.log.Error("notify: the red card did not reach the lead", "to", n.To, "err", err)
				}
				return
			}
			time.Sleep(wait)
			wait *= 2
		}
	}()
}

// notifier builds the notify section's consumer of the core's events: customers are told
// through the official account connectors, staff through the WeCom connector it names.
func (s *stack) notifier(cfg *config.Config) ([]pipeline.Consumer, error) {
	nc := cfg.Notify
	if nc.Customers == nil && nc.WeCom == nil {
		return nil, nil
	}
	opts := notify.Options{Config: nc, Ticket: s.store.Ticket, Customers: map[string]notify.CustomerSender{},
		Location: cfg.Server.Location, Logger: s.log.With("component", "notify"),
		// Outcomes go on the ticket as notified events, once per delivery key.
		Record: func(ctx context.Context, id string, d notify.Delivery) error {
			return s.engine.RecordDelivery(ctx, id, ticket.DeliveryData{Key: d.Key, Kind: d.Kind, Channel: d.Channel, To: d.To,
				OK: d.OK, Error: d.Error, Attempt: d.Attempt})
		}}
	if cfg.Server.PublicURL != "" {
		// The customer's own page; a relative link is no use in a message.
		link := trackingURL(cfg)
		opts.TrackingURL = func(t ticket.Ticket) string {
			token, err := s.engine.TrackingToken(context.Background(), t.ID)
			if err != nil || token == "" {
				return ""
			}
			return link(token)
		}
	}
	if nc.Customers != nil && cfg.DataDir != "" {
		// Without a data directory (tests, dry runs) the ledger is in memory.
		ledger, err := notify.OpenFileLedger(filepath.Join(cfg.DataDir, "notify", "deliveries.jsonl"), 0, time.Now())
		if err != nil {
			return nil, err
		}
		s.ledger, opts.Ledger = ledger, ledger
	}
	for _, inst := range s.conns.Instances() {
		if cs, ok := inst.Connector.(notify.CustomerSender); ok {
			opts.Customers[inst.Name] = cs
		}
	}
	if w := nc.WeCom; w != nil {
		inst, ok := s.conns.Instance(w.Connector)
		staff, isStaff := inst.Connector.(notify.StaffSender)
		if !ok || !isStaff {
			return nil, fmt.Errorf("notify.wecom.connector: %s is not a wechat.work connector", w.Connector)
		}
		opts.Staff = staff
		s.staff, s.staffUsers = staff, w.Users
	}
	if cfg.Routing != nil {
		router := cfg.Routing.Router
		opts.Name = func(id string) string { e, _ := router.Engineer(id); return e.Name }
	}
	return []pipeline.Consumer{notify.New(opts).Consumer()}, nil
}

// openPredict builds predictive maintenance over the store. Its preventive drafts go to the
// engine as the connector predict (set by then: nothing runs before the stack is built), and
// a ticket that names no model is counted under the registry's.
func (s *stack) openPredict(ctx context.Context, cfg *config.Config, reg prometheus.Registerer) (*predict.Tracker, error) {
	p := cfg.Predict
	return predict.New(ctx, predict.Options{
		Store: s.store,
		Create: func(ctx context.Context, d draft.Draft) error {
			_, _, err := s.engine.Create(ctx, engine.CreateRequest{Draft: d, Actor: ticket.ConnectorActor(predict.Connector)})
			if errors.Is(err, ticket.ErrInvalidData) {
				return pipeline.Permanent(err)
			}
			return err
		},
		Cluster: predict.ClusterRule{Devices: p.Cluster.Devices, Within: p.Cluster.Within.Std(), Off: !config.On(p.Cluster.Enabled)},
		Chronic: predict.ChronicRule{Tickets: p.Chronic.Tickets, Within: p.Chronic.Within.Std(), Tag: p.Chronic.Tag},
		Model: func(id string) string {
			d, _ := s.devices.Device(id)
			return d.Model
		},
		Location:   cfg.Server.Location,
		Logger:     s.log.With("component", "predict"),
		Registerer: reg,
	})
}

// openDevices builds the device registry from the config's devices and the edits made through
// the API, which the store keeps and which win; later edits are kept in the store too.
func openDevices(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger) (*devices.Registry, error) {
	bodies, err := st.Devices(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the devices edited through the API: %w", err)
	}
	stored := make([]devices.Device, 0, len(bodies))
	for _, id := range slices.Sorted(maps.Keys(bodies)) {
		var d devices.Device
		if err := json.Unmarshal(bodies[id], &d); err != nil {
			// One unreadable row should not keep the server down; PUT it again to replace it.
			log.Warn("a device edited through the API cannot be read back; its config entry, if any, is used", "device", id, "err", err)
			continue
		}
		d.ID = id
		stored = append(stored, d)
	}
	save := func(d devices.Device) error {
		body, err := json.Marshal(d)
		if err != nil {
			return err
		}
		// Without the server's cancellation: an edit that arrives as the server stops is
		// still kept (or refused) whole, and the registry in memory follows the store.
		return st.Write(context.WithoutCancel(ctx), func(tx store.Tx) error { return tx.PutDevice(d.ID, body) })
	}
	log.Info("device registry", "from_config", len(cfg.Devices.Loaded), "edited_through_api", len(stored))
	return devices.New(cfg.Devices.Loaded, stored, save), nil
}

// start runs the pipeline and, once it is subscribed, the connectors.
func (s *stack) start(ctx context.Context) error {
	s.pipelineDone = make(chan error, 1)
	go func() { s.pipelineDone <- s.pipeline.Run(context.WithoutCancel(ctx)) }()
	select {
	case <-s.pipeline.Running():
	case err := <-s.pipelineDone:
		return fmt.Errorf("pipeline: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	s.conns.Start(ctx)
	var outboxCtx context.Context
	outboxCtx, s.stopOutbox = context.WithCancel(context.WithoutCancel(ctx))
	s.outboxDone = make(chan struct{})
	go func() { defer close(s.outboxDone); s.outbox.Run(outboxCtx) }()
	return nil
}

// wakeOnEvents turns the engine's committed events into wake-ups for the outbox. If the
// subscription is dropped (the outbox fell far behind), the outbox still polls.
func (s *stack) wakeOnEvents() <-chan struct{} {
	wake := make(chan struct{}, 1)
	sub := s.engine.Subscribe(1024)
	go func() {
		for range sub.C {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()
	return wake
}

// intake hands a draft from the pipeline to the engine, as the connector it came from (the
// pipeline has confined it: its source is that connector's, whatever the payload said).
func (s *stack) intake(ctx context.Context, d draft.Draft) error {
	_, _, err := s.engine.Create(ctx, engine.CreateRequest{Draft: d, Actor: ticket.ConnectorActor(d.Source.Connector)})
	return err
}

// permanentIntakeError tells the pipeline which engine errors no retry can fix.
func permanentIntakeError(err error) bool {
	var fe *draft.FieldError
	return errors.Is(err, ticket.ErrInvalidData) || errors.As(err, &fe)
}

// close takes the stack down in reverse: the connectors stop taking input, the pipeline
// finishes the messages in hand, then the bus, the engine and the store close.
func (s *stack) close(ctx context.Context) error {
	var errs []error
	if s.conns != nil {
		errs = append(errs, s.conns.Close(ctx))
	}
	if s.pipeline != nil {
		errs = append(errs, s.pipeline.Close())
		if s.pipelineDone != nil {
			errs = append(errs, <-s.pipelineDone)
		}
	}
	if s.stopOutbox != nil {
		s.stopOutbox()
		<-s.outboxDone
	}
	if s.bus != nil {
		errs = append(errs, s.bus.Close())
	}
	if s.engine != nil {
		errs = append(errs, s.engine.Close())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	if s.ledger != nil {
		errs = append(errs, s.ledger.Close()) // after the pipeline: no delivery is being kept
	}
	return errors.Join(errs...)
}

func busConfig(cfg *config.Config) bus.Config {
	embedded := cfg.Bus.Embedded == nil || *cfg.Bus.Embedded
	return bus.Config{Driver: cfg.Bus.Driver, Embedded: embedded && cfg.Bus.URL == "", URL: cfg.Bus.URL, Dir: cfg.Bus.Dir, SyncAlways: cfg.Bus.SyncAlways,
		PublishTimeout: cfg.Bus.PublishTimeout.Std()}
}

// foldMissingKPIFacts folds the KPI facts of a store upgraded from before they were kept, once,
// before the engine starts (so no event is written meanwhile): without them every KPI would
// leave the tickets of before the upgrade out.
func foldMissingKPIFacts(ctx context.Context, st store.Store, cfg *config.Config, log *slog.Logger) error {
	rs, ok := st.(store.ReportStore)
	if !ok {
		return nil
	}
	missing, err := rs.KPIFactsMissing(ctx)
	if err != nil || !missing {
		return err
	}
	log.Info("KPI facts: folding them from the events of the tickets stored before they were kept (once)")
	began := time.Now()
	n, err := engine.RebuildKPIs(ctx, st, kpiPolicyOf(cfg))
	if err != nil {
		return fmt.Errorf("folding the KPI facts of the stored tickets: %w", err)
	}
	log.Info("KPI facts: folded", "tickets", n, "took", time.Since(began).Round(time.Millisecond))
	return nil
}
