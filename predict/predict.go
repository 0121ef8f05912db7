// Package predict is predictive maintenance (预测性维护): it follows the tickets raised on
// devices and
//
//   - opens one preventive ticket (category 预防性维护) when devices of one model show the same
//     fault (fault_code, else category) on enough different devices within a window — a batch
//     problem — and adds each further device of the window to it;
//   - marks a device with many tickets within a window as chronic (频繁故障): the device's
//     entry shows it, and its next ticket is tagged;
//   - keeps each device's MTBF, MTTR and estimated next failure.
//
// It reads the core's events from the bus (pipeline.TopicEvents) as a durable pipeline
// consumer, so it never slows intake down and a crash costs nothing: an event is acked only
// once its failure and the device's figures are committed and its preventive draft is taken
// in; a redelivery writes the same rows again and sends a draft whose dedup key the core has
// seen. What it keeps (store.HistoryTx) is derived from the events and rebuilt from them.
//
// It speaks as a connector of its own, "predict": its drafts' dedup and thread keys live in
// the predict/ namespace, and their tickets name it as their source. It must never act on a
// ticket but through such drafts: the chronic tag is added by the engine as it creates a
// ticket (engine.Options.Tags, from Tracker.Tags), so the creation event records it.
package predict

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/pipeline"
)

// Connector is the name predict's drafts come from: reserved, no configured connector may
// take it.
const Connector = "predict"

// Category and urgency of preventive tickets, and the tag of chronic devices' tickets.
const (
	CategoryPreventive = "预防性维护"
	TagChronic         = "频繁故障"
)

// ClusterRule: Devices different devices of one model with the same fault within Within
// make a cluster.
type ClusterRule struct {
	Devices int
	Within  time.Duration
	// Off turns clusters off (the figures and chronic devices are still kept).
	Off bool
}

// ChronicRule: Tickets tickets on one device within Within make it chronic.
type ChronicRule struct {
	Tickets int
	Within  time.Duration
	// Tag goes on a chronic device's next tickets; default TagChronic.
	Tag string
}

// Defaults of the rules (issue 21).
var (
	DefaultCluster = ClusterRule{Devices: 3, Within: 7 * 24 * time.Hour}
	DefaultChronic = ChronicRule{Tickets: 3, Within: 30 * 24 * time.Hour, Tag: TagChronic}
)

// Store is what predict needs of the store.
type Store interface {
	Write(ctx context.Context, fn func(tx store.Tx) error) error
	Ticket(ctx context.Context, id string) (ticket.Ticket, error)
	EventsAfter(ctx context.Context, after int64, limit int) ([]ticket.Event, error)
	store.HistoryStore
}

// Options configure a Tracker.
type Options struct {
	Store Store
	// Create takes a preventive draft in (the engine's Create, as the predict connector). It
	// must be idempotent on the draft's dedup key. Nil: no preventive tickets.
	Create  func(ctx context.Context, d draft.Draft) error
	Cluster ClusterRule
	Chronic ChronicRule
	// Model is the registry's model of a device, for tickets that do not name one; nil: none.
	Model func(deviceID string) string
	// Now reads the clock; default time.Now. Location is the time zone of times shown;
	// default time.Local.
	Now      func() time.Time
	Location *time.Location
	Logger   *slog.Logger
	// Registerer receives predict's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Tracker keeps device history. Its methods are safe for concurrent use.
type Tracker struct {
	opts Options
	// mu orders the events' writes and rebuilds: a cluster is decided on what the writes
	// before it left, so two failures of one cluster must not be decided side by side.
	mu sync.Mutex
	// chronic holds the devices chronic now and until when, for Tags on the intake path
	// (a map read, never the store). Loaded at New, kept by each write.
	chronicMu sync.RWMutex
	chronic   map[string]time.Time
	// preventive counts the preventive drafts taken in (a redelivery's duplicate too).
	preventiveDrafts prometheus.Counter
}

// New builds a Tracker, reading which devices are chronic now.
func New(ctx context.Context, opts Options) (*Tracker, error) {
	if opts.Store == nil {
		return nil, errors.New("predict: Options.Store is required")
	}
	if opts.Cluster.Devices <= 0 {
		opts.Cluster.Devices = DefaultCluster.Devices
	}
	if opts.Cluster.Within <= 0 {
		opts.Cluster.Within = DefaultCluster.Within
	}
	if opts.Chronic.Tickets <= 0 {
		opts.Chronic.Tickets = DefaultChronic.Tickets
	}
	if opts.Chronic.Within <= 0 {
		opts.Chronic.Within = DefaultChronic.Within
	}
	if opts.Chronic.Tag == "" {
		opts.Chronic.Tag = DefaultChronic.Tag
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	chronic, err := opts.Store.ChronicDevices(ctx, opts.Now())
	if err != nil {
		return nil, fmt.Errorf("predict: reading chronic devices: %w", err)
	}
	t := &Tracker{opts: opts, chronic: chronic, preventiveDrafts: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gongdan_predict_preventive_drafts_total",
		Help: "Preventive drafts (a device joining a model+fault cluster) taken in by the core.",
	})}
	if r := opts.Registerer; r != nil {
		chronicDevices := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gongdan_predict_chronic_devices",
			Help: "Devices chronic now (频繁故障): their next tickets are tagged.",
		}, func() float64 { return float64(t.chronicCount(t.opts.Now())) })
		for _, c := range []prometheus.Collector{t.preventiveDrafts, chronicDevices} {
			if err := r.Register(c); err != nil {
				return nil, fmt.Errorf("predict: metrics: %w", err)
			}
		}
	}
	return t, nil
}

func (t *Tracker) chronicCount(now time.Time) int {
	t.chronicMu.RLock()
	defer t.chronicMu.RUnlock()
	n := 0
	for _, until := range t.chronic {
		if chronicAt(until, now) {
			n++
		}
	}
	return n
}

// Consumer is the Tracker as a pipeline consumer of the core's events. One at a time, in
// order: a resolve must find its ticket's failure, and a cluster the failures before it.
func (t *Tracker) Consumer() pipeline.Consumer {
	return pipeline.Consumer{Name: "predict", Topic: pipeline.TopicEvents, Concurrency: 1, Handle: t.Handle}
}

// Handle records what one event changes in device history and takes in the preventive
// draft it calls for. An error is retried; a permanent one (pipeline.Permanent) goes to the
// dead letters at once.
func (t *Tracker) Handle(ctx context.Context, payload []byte, _ map[string]string) error {
	var ev ticket.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return pipeline.Permanent(fmt.Errorf("predict: not an event: %w", err))
	}
	t.mu.Lock()
	d, err := t.apply(ctx, ev)
	t.mu.Unlock()
	if err != nil || d == nil || t.opts.Create == nil {
		return err
	}
	if err := t.opts.Create(ctx, *d); err != nil {
		return fmt.Errorf("predict: preventive ticket for %s: %w", d.ThreadKey, err)
	}
	t.preventiveDrafts.Inc()
	t.opts.Logger.Info("predict: a device joined a model+fault cluster", "dedup_key", d.DedupKey, "title", d.Title)
	return nil
}

// Tags are the tags predict adds to a new ticket from d at now: the chronic tag when its
// device is chronic. The engine calls it on its hot path; it reads a map.
func (t *Tracker) Tags(d draft.Draft, now time.Time) []string {
	if d.Device.ID == "" || d.Source.Connector == Connector || !t.Chronic(d.Device.ID, now) {
		return nil
	}
	return []string{t.opts.Chronic.Tag}
}

// Chronic reports whether device id is chronic at now.
func (t *Tracker) Chronic(id string, now time.Time) bool {
	t.chronicMu.RLock()
	until, ok := t.chronic[id]
	t.chronicMu.RUnlock()
	return ok && chronicAt(until, now)
}

// apply writes what ev changes, and returns the preventive draft it calls for (nil: none).
// It is idempotent: applying an event again writes the same rows and returns the same draft.
func (t *Tracker) apply(ctx context.Context, ev ticket.Event) (*draft.Draft, error) {
	switch {
	case ev.Action == ticket.ActionCreate, ev.Action == ticket.ActionSourceAdded:
		// A merged draft may name the device, model or fault the first one did not.
		return t.created(ctx, ev)
	case ev.Action == ticket.ActionReject:
		return nil, t.update(ctx, ev.TicketID, func(f *store.Failure) bool { return false })
	case ev.Action == ticket.ActionResolve:
		return nil, t.update(ctx, ev.TicketID, func(f *store.Failure) bool {
			if ev.At.After(f.ResolvedAt) {
				f.ResolvedAt = ev.At
			}
			return true
		})
	case ev.To.Open() && (ev.From == ticket.StateResolved || ev.From == ticket.StateCustomerConfirmed || ev.From == ticket.StateClosed):
		// Reopened or disputed: not repaired after all, until the next resolve. An older
		// event arriving late does not undo a later resolve.
		return nil, t.update(ctx, ev.TicketID, func(f *store.Failure) bool {
			if !f.ResolvedAt.IsZero() && ev.At.After(f.ResolvedAt) {
				f.ResolvedAt = time.Time{}
			}
			return true
		})
	}
	return nil, nil
}

// created records the ticket of a create (or source_added) event as a failure of its device,
// as the ticket is now (routing may have set its category in the creating transaction), at
// the ticket's creation.
func (t *Tracker) created(ctx context.Context, ev ticket.Event) (*draft.Draft, error) {
	tk, err := t.opts.Store.Ticket(ctx, ev.TicketID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, pipeline.Permanent(fmt.Errorf("predict: ticket %s of a %s event is not in the store", ev.TicketID, ev.Action))
	} else if err != nil {
		return nil, err
	}
	if tk.Device.ID == "" || fromPredict(tk) || tk.State == ticket.StateRejected {
		return nil, nil
	}
	f := store.Failure{TicketID: tk.ID, DeviceID: tk.Device.ID, Model: strings.TrimSpace(tk.Device.Model),
		Fault: strings.TrimSpace(tk.FaultCode), FailedAt: tk.CreatedAt.UTC().Truncate(time.Millisecond)}
	if f.Fault == "" {
		f.Fault = strings.TrimSpace(tk.Category)
	}
	if f.Model == "" && t.opts.Model != nil {
		f.Model = strings.TrimSpace(t.opts.Model(f.DeviceID))
	}
	if r := tk.Resolution; r != nil && !tk.State.Open() {
		f.ResolvedAt = r.ResolvedAt
	}
	var cluster []store.Failure
	var h store.DeviceHealth
	err = t.opts.Store.Write(ctx, func(tx store.Tx) error {
		if old, err := tx.Failure(f.TicketID); err == nil && old.ResolvedAt.After(f.ResolvedAt) {
			f.ResolvedAt = old.ResolvedAt // a redelivery after the resolve was recorded
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.PutFailure(f); err != nil {
			return err
		}
		var err error
		if h, err = t.refold(tx, f.DeviceID); err != nil {
			return err
		}
		cluster, err = t.clusterOf(tx, f)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("predict: recording %s: %w", f.TicketID, err)
	}
	t.setChronic(f.DeviceID, h.ChronicUntil)
	if cluster == nil {
		return nil, nil
	}
	d := t.preventive(f, cluster)
	return &d, nil
}

// update changes the failure of ticket id with fn (false: forget it) and folds its device
// again; a ticket that is no failure is left alone.
func (t *Tracker) update(ctx context.Context, id string, fn func(*store.Failure) bool) error {
	var device string
	var h store.DeviceHealth
	err := t.opts.Store.Write(ctx, func(tx store.Tx) error {
		f, err := tx.Failure(id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		device = f.DeviceID
		if fn(&f) {
			err = tx.PutFailure(f)
		} else {
			err = tx.DeleteFailure(id)
		}
		if err != nil {
			return err
		}
		h, err = t.refold(tx, device)
		return err
	})
	if err != nil {
		return fmt.Errorf("predict: updating %s: %w", id, err)
	}
	if device != "" {
		t.setChronic(device, h.ChronicUntil)
	}
	return nil
}

// refold computes a device's figures again from its failures and keeps them.
func (t *Tracker) refold(tx store.Tx, device string) (store.DeviceHealth, error) {
	fs, err := tx.DeviceFailures(device)
	if err != nil {
		return store.DeviceHealth{}, err
	}
	if len(fs) == 0 {
		return store.DeviceHealth{}, tx.DeleteDeviceHealth(device)
	}
	h := Fold(device, fs, t.opts.Chronic)
	return h, tx.PutDeviceHealth(h)
}

func (t *Tracker) setChronic(device string, until time.Time) {
	t.chronicMu.Lock()
	defer t.chronicMu.Unlock()
	if until.IsZero() {
		delete(t.chronic, device)
	} else {
		t.chronic[device] = until
	}
}

// clusterOf returns the failures of f's cluster when f brings a new device into one: the
// failures of f's model and fault within the cluster window ending at f, from at least
// Cluster.Devices devices, of which f's device had none before f. Nil otherwise: no cluster,
// or f's device is in it already (its first failure of the window spoke for it).
func (t *Tracker) clusterOf(tx store.Tx, f store.Failure) ([]store.Failure, error) {
	if t.opts.Cluster.Off || f.Model == "" || f.Fault == "" {
		return nil, nil
	}
	fs, err := tx.ClusterFailures(f.Model, f.Fault, f.FailedAt.Add(-t.opts.Cluster.Within), f.FailedAt)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, g := range fs {
		seen[g.DeviceID] = true
		if g.DeviceID == f.DeviceID && g.TicketID != f.TicketID && before(g, f) {
			return nil, nil
		}
	}
	if len(seen) < t.opts.Cluster.Devices {
		return nil, nil
	}
	// Only what came before f (and f): a failure recorded later at the same moment is not
	// part of what f decided, so a redelivery decides the same.
	out := fs[:0]
	for _, g := range fs {
		if g.TicketID == f.TicketID || before(g, f) {
			out = append(out, g)
		}
	}
	return out, nil
}

func before(a, b store.Failure) bool {
	return a.FailedAt.Before(b.FailedAt) || (a.FailedAt.Equal(b.FailedAt) && a.TicketID < b.TicketID)
}

// fromPredict reports whether tk is one of predict's own tickets.
func fromPredict(tk ticket.Ticket) bool {
	return len(tk.Sources) > 0 && tk.Sources[0].Source.Connector == Connector
}

// ClusterThreadKey is the thread key of the preventive ticket of a model and fault: every
// device of one cluster window joins the same ticket. Hashed, so that a long model or fault
// stays within a key's limit.
func ClusterThreadKey(model, fault string) string {
	sum := sha256.Sum256([]byte(model + "\x00" + fault))
	return Connector + "/cluster/" + hex.EncodeToString(sum[:12])
}

// preventive is the draft of the cluster that f's device joined: the first one of a window
// opens the preventive ticket, each later one is merged into it (its thread key) while the
// ticket is open and the devices keep coming within the window (thread_window). Its dedup key
// is f's ticket's, in predict's namespace: a redelivery is a duplicate.
func (t *Tracker) preventive(f store.Failure, cluster []store.Failure) draft.Draft {
	loc := t.opts.Location
	var devicesInOrder []string
	tickets := map[string][]store.Failure{}
	for _, g := range cluster {
		if tickets[g.DeviceID] == nil {
			devicesInOrder = append(devicesInOrder, g.DeviceID)
		}
		tickets[g.DeviceID] = append(tickets[g.DeviceID], g)
	}
	days := int(t.opts.Cluster.Within / (24 * time.Hour))
	window := fmt.Sprintf("%d 天", days)
	if t.opts.Cluster.Within%(24*time.Hour) != 0 {
		window = t.opts.Cluster.Within.String()
	}
	title := fmt.Sprintf("预防性维护：%s「%s」%s内 %d 台设备故障", f.Model, f.Fault, window, len(devicesInOrder))
	var b strings.Builder
	fmt.Fprintf(&b, "同型号 %s、同一故障「%s」在%s内出现在 %d 台不同设备上，可能是批次性问题，请安排预防性检修。\n", f.Model, f.Fault, window, len(devicesInOrder))
	if len(devicesInOrder) > t.opts.Cluster.Devices {
		fmt.Fprintf(&b, "新增设备：%s（工单 %s）\n", f.DeviceID, f.TicketID)
	}
	b.WriteString("设备及工单：\n")
	for _, dev := range devicesInOrder {
		fmt.Fprintf(&b, "- %s：", dev)
		for i, g := range tickets[dev] {
			if i > 0 {
				b.WriteString("，")
			}
			fmt.Fprintf(&b, "%s（%s）", g.TicketID, g.FailedAt.In(loc).Format("2006-01-02 15:04"))
		}
		b.WriteString("\n")
	}
	at := f.FailedAt.In(loc)
	return draft.Draft{
		Source:       draft.Source{Connector: Connector, Type: Connector, Kind: "cluster", ExternalID: f.TicketID},
		DedupKey:     Connector + "/cluster/" + f.TicketID,
		ThreadKey:    ClusterThreadKey(f.Model, f.Fault),
		ThreadWindow: draft.Window(t.opts.Cluster.Within),
		ReceivedAt:   at,
		OccurredAt:   at,
		Device:       draft.Device{Model: draft.Clip(f.Model, 128)},
		Title:        draft.Clip(title, draft.MaxTitleRunes),
		Description:  draft.Clip(b.String(), draft.MaxDescriptionRunes),
		Category:     CategoryPreventive,
		Tags:         []string{CategoryPreventive},
		Urgency:      draft.UrgencyYellow,
	}
}
