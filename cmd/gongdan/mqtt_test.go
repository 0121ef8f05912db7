package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

// The MQTT connector end to end, against a real gongdan process: the "must be shown"
// for the alarm lifecycle and for a gongdan stopped while devices keep publishing. Every
// test runs against a mochi broker inside the test process — it outlives the gongdan child,
// so it keeps the persistent session while gongdan is down — and, with GONGDAN_TEST_MQTT
// set, against the Mosquitto on 127.0.0.1:1883.

const mqttAdminToken = "test-admin-token-0123456789"

// testMQTTBroker is a broker the tests can use.
type testMQTTBroker struct {
	name string
	// start returns the broker's URL (tcp://host:port).
	start func(t *testing.T) string
}

func testMQTTBrokers() []testMQTTBroker {
	brokers := []testMQTTBroker{{name: "mochi", start: startInProcessBroker}}
	if os.Getenv("GONGDAN_TEST_MQTT") != "" {
		// Shared and never stopped: every run uses topics and client ids of its own, and
		// queues well under Mosquitto's default max_queued_messages (1000).
		brokers = append(brokers, testMQTTBroker{name: "mosquitto", start: func(*testing.T) string { return "tcp://127.0.0.1:1883" }})
	}
	return brokers
}

// startInProcessBroker runs a mochi broker that lets anyone in, on a free loopback port,
// until the test ends.
func startInProcessBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := mochi.New(&mochi.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, srv.AddHook(new(auth.AllowHook), nil))
	require.NoError(t, srv.AddListener(listeners.NewNet("t", ln))) // handed over open: no one takes the port meanwhile
	require.NoError(t, srv.Serve())
	t.Cleanup(func() { _ = srv.Close() })
	return "tcp://" + ln.Addr().String()
}

// mqttRig is one gongdan data directory with an mqtt connector named plant, the broker it
// subscribes at, and the devices publishing there.
type mqttRig struct {
	t        *testing.T
	broker   string
	dir      string
	config   string
	addr     string
	prefix   string // the topics' first level, unique per run: prefix/<device>/telemetry
	clientID string // the connector's, and so its persistent session's
	devices  paho.Client
	srv      *child
}

// newMQTTRig writes the config: tick 100ms and offline_grace 0s so that silence is found
// quickly; payload times from the ts field. rules is the YAML list of the connector's rules;
// {{prefix}} in it stands for the run's topic prefix.
func newMQTTRig(t *testing.T, broker, rules, snapshotEvery string) *mqttRig {
	t.Helper()
	run := fmt.Sprintf("%016x", mrand.Uint64())
	r := &mqttRig{t: t, broker: broker, dir: t.TempDir(), addr: freeAddr(t),
		prefix: "gdtest-" + run, clientID: "gongdan-test-" + run}
	r.config = filepath.Join(r.dir, "gongdan.yaml")
	cfg := fmt.Sprintf(`server:
  http: %s
  tokens:
    - {token: %s, actor: admin-1, role: admin}
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
connectors:
  - name: plant
    type: mqtt
    brokers: [%q]
    client_id: %s
    topics: [%q]
    qos: 1
    device_id: "topic[1]"
    payload: {time: ts}
    tick: 100ms
    offline_grace: 0s
    snapshot_every: %s
    rules:
%s`, r.addr, mqttAdminToken, broker, r.clientID, r.prefix+"/+/telemetry", snapshotEvery, strings.ReplaceAll(rules, "{{prefix}}", r.prefix))
	require.NoError(t, os.WriteFile(r.config, []byte(cfg), 0o600))

	// The broker keeps the connector's persistent session after the test (Mosquitto keeps it
	// for good): end it once the last gongdan is gone. Registered first, so it runs last.
	t.Cleanup(func() {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(r.clientID).SetCleanSession(true).SetAutoReconnect(false))
		if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			c.Disconnect(0)
		}
	})
	r.devices = paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("gdtest-devices-" + run).
		SetCleanSession(true).SetAutoReconnect(false))
	tok := r.devices.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second), "devices: no CONNACK from %s", broker)
	require.NoError(t, tok.Error(), "devices: connect to %s", broker)
	t.Cleanup(func() { r.devices.Disconnect(0) })
	return r
}

// start runs gongdan on the rig's data directory and waits until the connector is
// subscribed: before that, on a fresh session, the broker would route nothing to it.
func (r *mqttRig) start() {
	r.t.Helper()
	var srv *child
	// Registered before startChild's own cleanup, so it runs after the child was killed and
	// its log is complete.
	r.t.Cleanup(func() {
		if r.t.Failed() && srv != nil {
			log := srv.logs.String()
			if len(log) > 30000 {
				log = "…" + log[len(log)-30000:]
			}
			r.t.Logf("gongdan log (%s):\n%s", srv.cmd.Path, log)
		}
	})
	srv = startChild(r.t, "serve", "--config", r.config, "--data", r.dir)
	srv.waitReady(r.addr)
	r.srv = srv
	r.waitFor(30*time.Second, "the mqtt connector to subscribe", func() (bool, string) {
		st, err := r.status()
		if err != nil {
			return false, err.Error()
		}
		return st.Details.Subscribed, fmt.Sprintf("state %s, last error %q", st.State, st.LastError)
	})
}

// terminate stops gongdan gracefully (SIGTERM, as a service manager does) and waits for it
// to exit.
func (c *child) terminate() {
	c.t.Helper()
	require.NoError(c.t, c.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(c.t, err, "gongdan did not exit cleanly on SIGTERM; its log:\n%s", c.logs)
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
		c.t.Fatalf("gongdan did not exit within a minute of SIGTERM; its log:\n%s", c.logs)
	}
}

// waitFor polls cond until it holds or the deadline passes (then the test fails with what
// cond last said). Bounded polling, not a timing assertion.
func (r *mqttRig) waitFor(limit time.Duration, what string, cond func() (bool, string)) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("gave up waiting for %s after %s: %s", what, limit, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mqttStatus is the connector's entry in GET /api/v1/connectors.
type mqttStatus struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	Received  int64  `json:"received"`
	Published int64  `json:"published"`
	LastError string `json:"last_error"`
	Details   struct {
		Subscribed bool  `json:"subscribed"`
		Raised     int64 `json:"alarms_raised"`
		Cleared    int64 `json:"alarms_cleared"`
	} `json:"details"`
}

func (r *mqttRig) status() (mqttStatus, error) {
	status, body, err := call("GET", r.srv.url+"/api/v1/connectors", mqttAdminToken, "")
	if err != nil || status != 200 {
		return mqttStatus{}, fmt.Errorf("GET /api/v1/connectors: %d %v %s", status, err, body)
	}
	var list struct {
		Connectors []mqttStatus `json:"connectors"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return mqttStatus{}, err
	}
	for _, c := range list.Connectors {
		if c.Name == "plant" {
			return c, nil
		}
	}
	return mqttStatus{}, fmt.Errorf("no connector plant in %s", body)
}

// waitReceived waits until the connector has taken n messages from the broker in this
// process's life.
func (r *mqttRig) waitReceived(n int64) {
	r.t.Helper()
	r.waitFor(60*time.Second, fmt.Sprintf("the connector to receive %d messages", n), func() (bool, string) {
		st, err := r.status()
		if err != nil {
			return false, err.Error()
		}
		return st.Received >= n, fmt.Sprintf("received %d", st.Received)
	})
}

func (r *mqttRig) topic(device string) string { return r.prefix + "/" + device + "/telemetry" }

// telemetryReading is one telemetry payload; a zero ts is left out (the time of receipt counts).
func telemetryReading(temp float64, ts time.Time) []byte {
	if ts.IsZero() {
		return fmt.Appendf(nil, `{"temp": %g}`, temp)
	}
	return fmt.Appendf(nil, `{"temp": %g, "ts": %d}`, temp, ts.UnixMilli())
}

// publish sends readings of one device with QoS 1 and waits for the broker's PUBACKs.
func (r *mqttRig) publish(device string, payloads ...[]byte) {
	r.t.Helper()
	toks := make([]paho.Token, len(payloads))
	for i, p := range payloads {
		toks[i] = r.devices.Publish(r.topic(device), 1, false, p)
	}
	for _, tok := range toks {
		require.True(r.t, tok.WaitTimeout(30*time.Second), "device %s: no PUBACK from %s", device, r.broker)
		require.NoError(r.t, tok.Error(), "device %s", device)
	}
}

func (r *mqttRig) tickets() ([]ticket.Ticket, error) { return listTickets(r.srv.url, mqttAdminToken) }

// ticketsByThread groups tickets by thread key.
func ticketsByThread(tks []ticket.Ticket) map[string][]ticket.Ticket {
	out := map[string][]ticket.Ticket{}
	for _, tk := range tks {
		out[tk.ThreadKey] = append(out[tk.ThreadKey], tk)
	}
	return out
}

// waitThread waits until a ticket of thread exists and returns every ticket then.
func (r *mqttRig) waitThread(limit time.Duration, thread string) []ticket.Ticket {
	r.t.Helper()
	var tks []ticket.Ticket
	r.waitFor(limit, "a ticket of thread "+thread, func() (bool, string) {
		var err error
		if tks, err = r.tickets(); err != nil {
			return false, err.Error()
		}
		return len(ticketsByThread(tks)[thread]) > 0, fmt.Sprintf("threads so far: %v", ticketThreadKeys(tks))
	})
	return tks
}

func ticketThreadKeys(tks []ticket.Ticket) []string {
	var keys []string
	for k := range ticketsByThread(tks) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sourceKinds lists the source kinds of the source_added events of a ticket (alarm.clear, …).
func (r *mqttRig) sourceKinds(id string) ([]string, error) {
	status, body, err := call("GET", r.srv.url+"/api/v1/tickets/"+id+"/events", mqttAdminToken, "")
	if err != nil || status != 200 {
		return nil, fmt.Errorf("GET events of %s: %d %v %s", id, status, err, body)
	}
	var page struct {
		Events []ticket.Event `json:"events"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, err
	}
	var kinds []string
	for _, ev := range page.Events {
		if ev.Action != ticket.ActionSourceAdded {
			continue
		}
		var d struct {
			Source struct {
				Kind string `json:"kind"`
			} `json:"source"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return nil, fmt.Errorf("event %d of %s: %w", ev.ID, id, err)
		}
		kinds = append(kinds, d.Source.Kind)
	}
	return kinds, nil
}

func countKind(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func sourceKindsOf(tk ticket.Ticket) []string {
	kinds := make([]string, len(tk.Sources))
	for i, s := range tk.Sources {
		kinds[i] = s.Source.Kind
	}
	return kinds
}

// TestMQTTAlarmLifecycle: a device over its threshold for longer than `for` opens one
// ticket; 10,000 more breaching messages open no second one; clear_when clears it; a silent
// device raises offline; a graceful restart in the middle keeps a pending duration.
func TestMQTTAlarmLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gongdan processes against MQTT brokers")
	}
	for _, b := range testMQTTBrokers() {
		t.Run(b.name, func(t *testing.T) { testMQTTAlarmLifecycle(t, b.start(t)) })
	}
}

func testMQTTAlarmLifecycle(t *testing.T, broker string) {
	r := newMQTTRig(t, broker, `      - {id: overheat, when: "temp > 85", for: 30s, clear_when: "temp < 75", urgency: orange, category: 设备过热, title: "设备 {{device}} 温度 {{temp}}°C 超限"}
      - {id: offline, offline_after: 2s, topics: ["{{prefix}}/B/telemetry"], urgency: yellow, category: 设备离线, title: "设备 {{device}} 离线"}
`, "1h")
	r.start()

	// Message times an hour ahead: `for` is measured in the device's time (a message's ts,
	// plus the wall time since it arrived), so the 31 s steps below are taken by messages
	// well before the clock would take them. Silence is measured by receipt, and the offline
	// rule watches B's topic only: A and C go quiet between steps without being offline.
	t0 := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	const (
		threadA = "plant/device:A:overheat" // in the namespace of the connector
		threadB = "plant/device:B:offline"
		threadC = "plant/device:C:overheat"
	)

	// A: over 85 at t0, t0+10s (pending) and t0+31s (past `for`): one raise, by the third.
	r.publish("A", telemetryReading(90, t0), telemetryReading(91, t0.Add(10*time.Second)), telemetryReading(92, t0.Add(31*time.Second)))
	tks := r.waitThread(30*time.Second, threadA)
	a := ticketsByThread(tks)[threadA]
	require.Len(t, a, 1, "one ticket for A")
	require.Equal(t, []string{"alarm.raise"}, sourceKindsOf(a[0]))
	assert.Equal(t, "设备 A 温度 92°C 超限", a[0].Title, "raised by the message at t0+31s, not before")
	assert.Equal(t, fmt.Sprintf("plant/A/overheat/raise/%s", t0.UTC().Format(time.RFC3339Nano)), a[0].Sources[0].DedupKey,
		"pending since the first breaching message")
	idA := a[0].ID

	// B: one message, then silence.
	r.publish("B", telemetryReading(20, time.Time{}))
	r.waitReceived(4) // A's three and B's one, before the count below starts

	// 10,000 more breaching messages from A, in batches the connector is seen to take
	// before the next is sent, so the broker never queues many for it.
	st, err := r.status()
	require.NoError(t, err)
	before := st.Received
	const more, batch = 10000, 500
	for sent := 0; sent < more; sent += batch {
		payloads := make([][]byte, batch)
		for i := range payloads {
			payloads[i] = telemetryReading(float64(86+(sent+i)%10), t0.Add(32*time.Second+time.Duration(sent+i)*time.Millisecond))
		}
		r.publish("A", payloads...)
		r.waitReceived(before + int64(sent+batch))
	}

	// B fell silent while A was publishing.
	tks = r.waitThread(30*time.Second, threadB)

	st, err = r.status()
	require.NoError(t, err)
	assert.Equal(t, before+more, st.Received, "received exactly the 10,000")
	tks, err = r.tickets()
	require.NoError(t, err)
	a = ticketsByThread(tks)[threadA]
	require.Len(t, a, 1, "10,000 breaching messages opened no second ticket for A")
	assert.Equal(t, []string{"alarm.raise"}, sourceKindsOf(a[0]), "and merged nothing into it")
	assert.Equal(t, int64(2), st.Details.Raised, "the connector raised A's overheat and B's offline, nothing else")

	// A back under 75: the clear is recorded on the open ticket.
	r.publish("A", telemetryReading(70, t0.Add(32*time.Second+more*time.Millisecond+time.Second)))
	r.waitFor(30*time.Second, "A's clear on its ticket", func() (bool, string) {
		kinds, err := r.sourceKinds(idA)
		if err != nil {
			return false, err.Error()
		}
		return countKind(kinds, "alarm.clear") > 0, fmt.Sprintf("source_added kinds %v", kinds)
	})

	// C: over 85 at t0 (pending), then gongdan is stopped and started again.
	st, err = r.status()
	require.NoError(t, err)
	r.publish("C", telemetryReading(90, t0))
	r.waitReceived(st.Received + 1)
	r.srv.terminate()
	assert.FileExists(t, filepath.Join(r.dir, "connectors", "plant", "alarms.json"),
		"the alarm state is saved under <serve --data>/connectors/<name>/ at shutdown")
	r.start()
	// C still over 85 at t0+31s: the raise needs the pending duration from before the restart.
	r.publish("C", telemetryReading(91, t0.Add(31*time.Second)))
	tks = r.waitThread(30*time.Second, threadC)

	// Everything, counted.
	threads := ticketsByThread(tks)
	assert.Equal(t, []string{threadA, threadB, threadC}, ticketThreadKeys(tks))
	assert.Len(t, tks, 3)
	for thread, want := range map[string][]string{
		threadA: {"alarm.raise", "alarm.clear"},
		threadB: {"alarm.raise"},
		threadC: {"alarm.raise"},
	} {
		if !assert.Len(t, threads[thread], 1, thread) {
			continue
		}
		tk := threads[thread][0]
		assert.Equal(t, want, sourceKindsOf(tk), "%s: sources", thread)
		kinds, err := r.sourceKinds(tk.ID)
		require.NoError(t, err)
		assert.Equal(t, want[1:], append([]string{}, kinds...), "%s: source_added events", thread)
		assert.Equal(t, ticket.StateNew, tk.State, "%s: no routing, so the ticket waits as new", thread)
	}
	if c := threads[threadC]; len(c) == 1 {
		assert.Equal(t, "设备 C 温度 91°C 超限", c[0].Title)
		assert.Equal(t, fmt.Sprintf("plant/C/overheat/raise/%s", t0.UTC().Format(time.RFC3339Nano)), c[0].Sources[0].DedupKey,
			"pending since t0, before the restart")
	}
}

// TestMQTTNoTransitionLostWhileGongdanIsDown: gongdan killed (SIGKILL) while devices, one
// by one, start breaching: some raises are evaluated before the kill, some are in flight,
// some are published while gongdan is down. Started again, it makes exactly one ticket per
// device; and every clear after that reaches its ticket exactly once.
func TestMQTTNoTransitionLostWhileGongdanIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gongdan processes against MQTT brokers")
	}
	for _, b := range testMQTTBrokers() {
		t.Run(b.name, func(t *testing.T) { testMQTTNoTransitionLost(t, b.start(t)) })
	}
}

func testMQTTNoTransitionLost(t *testing.T, broker string) {
	// 100 devices: at most 100 messages queue for gongdan while it is down, well under
	// Mosquitto's default max_queued_messages of 1000.
	const devices, killAfterRaises, publishedBeforeKillAtMost = 100, 30, 60
	r := newMQTTRig(t, broker, `      - {id: overheat, when: "temp > 85", for: 0s, clear_when: "temp < 75", urgency: orange, category: 设备过热, title: "设备 {{device}} 温度 {{temp}}°C 超限"}
`, "200ms")
	r.start()
	name := func(i int) string { return fmt.Sprintf("d%03d", i) }

	// Normal readings from every device.
	for i := range devices {
		r.publish(name(i), telemetryReading(60, time.Now()))
	}
	r.waitReceived(devices)

	// Devices start breaching one by one; gongdan is killed once it has raised 30 alarms. The
	// devices past the 60th wait for the kill, so those are published while it is down.
	type kill struct {
		status mqttStatus // just before the kill
		sent   int64      // breaches published to the broker by then
	}
	var sent atomic.Int64
	killed := make(chan kill, 1)
	stop, stopped := make(chan struct{}), make(chan struct{})
	// Runs before the child's own cleanup: the watcher is gone before that kills anything.
	t.Cleanup(func() { close(stop); <-stopped })
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			st, err := r.status()
			if err == nil && st.Details.Raised >= killAfterRaises {
				r.srv.kill()
				killed <- kill{st, sent.Load()}
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var atKill kill
	for i := range devices {
		if i == publishedBeforeKillAtMost {
			select {
			case atKill = <-killed:
			case <-time.After(60 * time.Second):
				t.Fatalf("gongdan raised fewer than %d alarms for %d breaching devices", killAfterRaises, publishedBeforeKillAtMost)
			}
		}
		r.publish(name(i), telemetryReading(90, time.Now()))
		sent.Add(1)
		time.Sleep(5 * time.Millisecond) // pacing the devices, so that the kill falls among them
	}
	t.Logf("killed after %d alarms raised (%d messages received) with %d breaches published; %d more published while it was down",
		atKill.status.Details.Raised, atKill.status.Received, atKill.sent, devices-atKill.sent)
	require.Less(t, atKill.sent, int64(devices), "every breach was published before the kill")
	// For the record: the periodic snapshot (alarms.json) saved last before the kill. The
	// raises made and acked after it must be remembered some other way (the connector's
	// journal), or their clears are lost.
	savedAt, active := activeInSavedState(filepath.Join(r.dir, "connectors", "plant", "alarms.json"), "overheat")
	t.Logf("the snapshot saved last before the kill (at %s) has %d active alarms of %d raised: %v", savedAt, len(active), atKill.status.Details.Raised, active)

	r.start()
	thread := func(i int) string { return "plant/device:" + name(i) + ":overheat" }
	var tks []ticket.Ticket
	r.waitFor(60*time.Second, "a ticket for every device", func() (bool, string) {
		var err error
		if tks, err = r.tickets(); err != nil {
			return false, err.Error()
		}
		threads := ticketsByThread(tks)
		var missing []string
		for i := range devices {
			if len(threads[thread(i)]) == 0 {
				missing = append(missing, name(i))
			}
		}
		return len(missing) == 0, fmt.Sprintf("no ticket for %v", missing)
	})
	threads := ticketsByThread(tks)
	assert.Len(t, tks, devices, "one ticket per device, nothing else")
	for i := range devices {
		assert.Len(t, threads[thread(i)], 1, "%s: tickets", name(i))
	}

	// Every device back to normal: each ticket gets its clear.
	for i := range devices {
		r.publish(name(i), telemetryReading(70, time.Now()))
	}
	var missing []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		tks, err := r.tickets()
		require.NoError(t, err)
		missing = missing[:0]
		for _, tk := range tks {
			if countKind(sourceKindsOf(tk), "alarm.clear") == 0 {
				missing = append(missing, tk.ThreadKey)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(missing)
	st, err := r.status()
	require.NoError(t, err)
	assert.Empty(t, missing, "tickets whose alarm clear never came (connector after the restart: received %d, raised %d, cleared %d; "+
		"the snapshot saved last before the kill had %d active alarms, %d were raised by then)",
		st.Received, st.Details.Raised, st.Details.Cleared, len(active), atKill.status.Details.Raised)

	tks, err = r.tickets()
	require.NoError(t, err)
	for _, tk := range tks {
		kinds, err := r.sourceKinds(tk.ID)
		require.NoError(t, err)
		if !slices.Contains(missing, tk.ThreadKey) {
			assert.Equal(t, 1, countKind(kinds, "alarm.clear"), "%s (%s): alarm.clear events; all source_added kinds: %v", tk.ID, tk.ThreadKey, kinds)
		}
		assert.Equal(t, 1, countKind(sourceKindsOf(tk), "alarm.raise"), "%s (%s): one raise; sources %v", tk.ID, tk.ThreadKey, sourceKindsOf(tk))
		assert.True(t, strings.HasPrefix(tk.ThreadKey, "plant/device:d"), tk.ThreadKey)
	}
}

// activeInSavedState reads the connector's snapshot of its alarm state (a diagnostic: the
// test asserts nothing on its format) and lists the devices whose rule is active in it.
func activeInSavedState(path, rule string) (savedAt string, active []string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error(), nil
	}
	var st struct {
		SavedAt string `json:"saved_at"`
		Engine  map[string]struct {
			Rules map[string]struct {
				State string `json:"state"`
			} `json:"rules"`
		} `json:"engine"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return err.Error(), nil
	}
	for dev, d := range st.Engine {
		if d.Rules[rule].State == "active" {
			active = append(active, dev)
		}
	}
	slices.Sort(active)
	return st.SavedAt, active
}
