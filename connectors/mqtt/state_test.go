package mqtt_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors/mqtt"
	"gongdan/connectors/mqtt/alarm"
	"gongdan/draft"
)

// The connector's name: its state is in <StateDir>/plant.
const stateConnector = "plant"

// wait bounds every poll of these tests; the conditions normally hold within milliseconds.
const wait = 10 * time.Second

// runConfig names the broker, the client id (its persistent session) and the overheat rule's
// for; the time of a reading is the payload's ts when it has one.
type runConfig struct {
	broker, client, ruleFor string
}

// startStateRun builds and starts a manager whose connector keeps its state under root. The
// manager is closed at cleanup (Close is idempotent, so a test may close it earlier).
func startStateRun(t *testing.T, rc runConfig, root string, failing bool) *connRun {
	t.Helper()
	if rc.ruleFor == "" {
		rc.ruleFor = "0s"
	}
	cfg := fmt.Appendf(nil, `connectors:
  - name: %s
    type: mqtt
    brokers: ["tcp://%s"]
    client_id: %s
    topics: ["factory/+/telemetry"]
    device_id: "topic[1]"
    snapshot_every: 1h
    payload: {time: ts}
    rules:
      - {id: overheat, when: "temp > 85", for: %s, urgency: orange}
`, stateConnector, rc.broker, rc.client, rc.ruleFor)
	return startRun(t, cfg, runOptions{stateDir: root, failing: failing})
}

// deviceClient is a publisher that the broker has forgotten before it closes. mochi v2.7.9 can
// deadlock when Close meets a clean session's disconnect (Clients.GetByListener read-locks
// twice, and Delete's write lock waits between the two): the device is disconnected, and gone
// from the broker, first.
func deviceClient(t *testing.T, b *testBroker, id string) paho.Client {
	t.Helper()
	c := publisher(t, b.Addr, id)
	t.Cleanup(func() { forget(t, b, c, id) })
	return c
}

func forget(tb testing.TB, b *testBroker, c paho.Client, id string) {
	c.Disconnect(0)
	assert.Eventually(tb, func() bool { _, ok := b.server.Clients.Get(id); return !ok }, wait, time.Millisecond,
		"the broker still holds %s", id)
}

func transitionsOf(t *testing.T, envs []draft.Envelope) []alarm.Transition {
	t.Helper()
	var out []alarm.Transition
	for _, e := range envs {
		if e.Type != mqtt.EnvelopeAlarm {
			continue
		}
		var p struct {
			Transition alarm.Transition `json:"transition"`
		}
		require.NoError(t, json.Unmarshal(e.Payload, &p), "payload of envelope %s", e.ID)
		out = append(out, p.Transition)
	}
	return out
}

// kinds lists the transitions as "kind device", for messages that show what was published.
func kinds(ts []alarm.Transition) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t.Kind) + " " + t.Device
	}
	return out
}

// send publishes a reading of device and waits until the connector acked it: by then every
// transition it made is published and journaled.
func send(t *testing.T, b *testBroker, dev paho.Client, device, payload string) {
	t.Helper()
	topic := "factory/" + device + "/telemetry"
	before := b.Acked(topic, []byte(payload))
	require.NoError(t, publish(dev, topic, []byte(payload)))
	require.Eventually(t, func() bool { return b.Acked(topic, []byte(payload)) > before }, wait, time.Millisecond,
		"%s on %s was not acked", payload, topic)
}

// crashCopy copies the connector's state files as they are now into a new state root: what
// a crash at this moment would leave on disk, with no final snapshot.
func crashCopy(t *testing.T, root string) string {
	t.Helper()
	from, to := filepath.Join(root, stateConnector), filepath.Join(t.TempDir(), stateConnector)
	require.NoError(t, os.MkdirAll(to, 0o750))
	entries, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, e.Name()), b, 0o640))
	}
	return filepath.Dir(to)
}

// savedState reads alarms.json under root.
type savedState struct {
	Seq    uint64             `json:"seq"`
	Engine json.RawMessage    `json:"engine"`
	Unsent []alarm.Transition `json:"unsent"`
}

func readState(t *testing.T, root string) savedState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, stateConnector, "alarms.json"))
	require.NoError(t, err)
	var st savedState
	require.NoError(t, json.Unmarshal(b, &st), "alarms.json: %s", b)
	return st
}

func journalLines(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, stateConnector, "alarms.journal"))
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// raiseAndCrash runs a connector on a fresh state root, makes device E1 raise overheat and
// returns a copy of the state as a crash right after the raise was acked would leave it:
// the raise is in the journal only (snapshot_every is an hour).
func raiseAndCrash(t *testing.T, b *testBroker, dev paho.Client, client string) string {
	t.Helper()
	root := t.TempDir()
	r := startStateRun(t, runConfig{broker: b.Addr, client: client}, root, false)
	r.waitSubscribed(t)
	send(t, b, dev, "E1", `{"temp": 91}`)
	require.Equal(t, []string{"raise E1"}, kinds(r.alarms(t)))
	copied := crashCopy(t, root)
	r.close(t)

	// What the crash left: a snapshot from before the raise, and the raise in the journal.
	assert.NotContains(t, string(readState(t, copied).Engine), `"E1"`, "the snapshot was written before E1 was heard from")
	lines := journalLines(t, copied)
	require.Len(t, lines, 1, "one journal entry: E1's state after the raise")
	assert.Contains(t, lines[0], `"device":"E1"`)
	assert.Contains(t, lines[0], `"state":"active"`)
	return copied
}

// clearsAfterRestart starts a connector on root and sends E1 a normal reading: the clear it
// publishes shows that the raise before the restart was remembered.
func clearsAfterRestart(t *testing.T, b *testBroker, dev paho.Client, client, root, payload string) *connRun {
	t.Helper()
	r := startStateRun(t, runConfig{broker: b.Addr, client: client}, root, false)
	r.waitSubscribed(t)
	send(t, b, dev, "E1", payload)
	got := r.alarms(t)
	require.Equal(t, []string{"clear E1"}, kinds(got), "E1 back to normal after the restart")
	assert.Equal(t, "overheat", got[0].Rule)
	return r
}

// A raise that only the journal holds (no snapshot since) survives a crash: the connector
// started on what the crash left clears it; started on the snapshot alone, it does not.
func TestJournaledRaiseSurvivesACrash(t *testing.T) {
	const client = "gongdan-state-crash"
	b := startTestBroker(t, client)
	dev := deviceClient(t, b, "state-crash-devices")
	crashed := raiseAndCrash(t, b, dev, client)
	withoutJournal := crashCopy(t, crashed)
	require.NoError(t, os.Remove(filepath.Join(withoutJournal, stateConnector, "alarms.journal")))

	clearsAfterRestart(t, b, dev, client, crashed, `{"temp": 70}`).close(t)

	// The control: the same restart without the journal has forgotten the raise.
	r := startStateRun(t, runConfig{broker: b.Addr, client: client}, withoutJournal, false)
	r.waitSubscribed(t)
	send(t, b, dev, "E1", `{"temp": 71}`)
	assert.Empty(t, kinds(r.alarms(t)), "without the journal there is no raise to clear")
}

// A journal whose last line was cut short by the crash: that line is skipped, the rest is
// replayed, and the snapshot is not taken for unreadable.
func TestJournalTornLastLineIsSkipped(t *testing.T) {
	const client = "gongdan-state-torn"
	b := startTestBroker(t, client)
	dev := deviceClient(t, b, "state-torn-devices")
	crashed := raiseAndCrash(t, b, dev, client)
	appendTornLine(t, crashed)

	clearsAfterRestart(t, b, dev, client, crashed, `{"temp": 70}`).close(t)
	aside, err := filepath.Glob(filepath.Join(crashed, stateConnector, "alarms.json.unreadable-*"))
	require.NoError(t, err)
	assert.Empty(t, aside, "a torn journal line is no reason to set the snapshot aside")
}

// appendTornLine appends the first half of a journal entry after the last one, with no
// newline: a write the crash cut short. Had it been read, it would have set E1 normal again.
func appendTornLine(t *testing.T, root string) {
	t.Helper()
	lines := journalLines(t, root)
	last := lines[len(lines)-1]
	var e struct {
		Seq uint64 `json:"seq"`
	}
	require.NoError(t, json.Unmarshal([]byte(last), &e))
	whole := fmt.Sprintf(`{"seq":%d,"device":"E1","state":{"last_seen":"2026-11-23T09:42:00Z","rules":{"overheat":{"state":"normal"}}}}`, e.Seq+1)
	f, err := os.OpenFile(filepath.Join(root, stateConnector, "alarms.journal"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(whole[:len(whole)/2])
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// An unreadable alarms.json is moved aside, the connector still starts and subscribes, and
// the journal alone is replayed.
func TestUnreadableSnapshotIsMovedAside(t *testing.T) {
	const client = "gongdan-state-unreadable"
	b := startTestBroker(t, client)
	dev := deviceClient(t, b, "state-unreadable-devices")
	crashed := raiseAndCrash(t, b, dev, client)
	garbage := []byte(`{"version":1,"seq":0,"engine":{"E1":`)
	snapshot := filepath.Join(crashed, stateConnector, "alarms.json")
	require.NoError(t, os.WriteFile(snapshot, garbage, 0o640))

	clearsAfterRestart(t, b, dev, client, crashed, `{"temp": 70}`).close(t)
	aside, err := filepath.Glob(snapshot + ".unreadable-*")
	require.NoError(t, err)
	require.Len(t, aside, 1, "the unreadable snapshot, moved aside")
	kept, err := os.ReadFile(aside[0])
	require.NoError(t, err)
	assert.Equal(t, garbage, kept, "moved aside byte for byte, for a person to look at")
	readState(t, crashed) // and a readable one written in its place
}

// A graceful stop saves the state, a pending duration with it: started again, the connector
// raises on the first breaching reading past for, counting from before the stop.
func TestGracefulStopKeepsPendingState(t *testing.T) {
	const client = "gongdan-state-pending"
	b := startTestBroker(t, client)
	dev := deviceClient(t, b, "state-pending-devices")
	root := t.TempDir()
	t0 := time.Date(2026, 11, 23, 9, 42, 0, 0, time.UTC)
	rc := runConfig{broker: b.Addr, client: client, ruleFor: "30s"}

	r := startStateRun(t, rc, root, false)
	r.waitSubscribed(t)
	send(t, b, dev, "E1", fmt.Sprintf(`{"ts": %d, "temp": 91}`, t0.Unix()))
	assert.Empty(t, kinds(r.alarms(t)), "pending: for is 30s")
	r.close(t)
	assert.Contains(t, string(readState(t, root).Engine), `"state":"pending"`, "the pending state, saved at the stop")

	r = startStateRun(t, rc, root, false)
	r.waitSubscribed(t)
	send(t, b, dev, "E1", fmt.Sprintf(`{"ts": %d, "temp": 92}`, t0.Add(31*time.Second).Unix()))
	got := r.alarms(t)
	require.Equal(t, []string{"raise E1"}, kinds(got), "raised by the reading 31s after the first")
	assert.True(t, got[0].Since.Equal(t0), "pending since %s, the reading before the stop; got %s", t0, got[0].Since)
	assert.True(t, got[0].At.Equal(t0.Add(31*time.Second)), "raised at the second reading's time; got %s", got[0].At)
}

// A transition the bus refused until the connector stopped: its message stays unacked, the
// saved state keeps it as unsent, and the next start publishes it before anything else,
// exactly once, although the broker delivers its message again.
func TestUnsentTransitionIsPublishedFirstAfterRestart(t *testing.T) {
	const client = "gongdan-state-unsent"
	b := startTestBroker(t, client)
	dev := deviceClient(t, b, "state-unsent-devices")
	root := t.TempDir()
	rc := runConfig{broker: b.Addr, client: client}
	const topic, breach = "factory/E1/telemetry", `{"temp": 91}`

	r := startStateRun(t, rc, root, true)
	r.waitSubscribed(t)
	// A reading first, so that the breach is not the session's packet 1: the restarted
	// connector's SUBSCRIBE is its packet 1, and mochi v2.7.9 refuses a SUBSCRIBE whose id
	// equals one of its own unacked PUBLISHes (0x91), though MQTT keeps the two directions'
	// ids apart. Refused, the connector's Run fails and is retried after a back-off.
	send(t, b, dev, "E1", `{"temp": 20}`)
	require.NoError(t, publish(dev, topic, []byte(breach)))
	require.Eventually(t, func() bool { return r.c.PublishFailures() >= 2 }, wait, time.Millisecond, "the raise was not retried")
	assert.Equal(t, 1, b.Unacked(), "the message stays unacked while its raise is refused")
	r.close(t)
	assert.Equal(t, 1, b.Unacked(), "closed without acking it")
	assert.Zero(t, b.Acked(topic, []byte(breach)))

	r.mu.Lock()
	attempts := append([]draft.Envelope(nil), r.attempts...)
	r.mu.Unlock()
	refused := transitionsOf(t, attempts)
	require.NotEmpty(t, refused)
	refusedKey := attempts[0].DedupKey
	st := readState(t, root)
	require.Len(t, st.Unsent, 1, "the refused raise, kept as unsent")
	assert.Equal(t, alarm.Raise, st.Unsent[0].Kind)
	assert.Equal(t, "E1", st.Unsent[0].Device)
	assert.True(t, st.Unsent[0].Since.Equal(refused[0].Since), "the very transition that was refused")

	// Started again with a bus that works, and before any new message: the unsent raise
	// first, then the redelivered message, which finds E1 active and raises nothing.
	r = startStateRun(t, rc, root, false)
	require.Eventually(t, func() bool { return b.Acked(topic, []byte(breach)) == 1 }, wait, time.Millisecond,
		"the redelivered message was not acked")
	r.mu.Lock()
	envs := append([]draft.Envelope(nil), r.envs...)
	r.mu.Unlock()
	require.NotEmpty(t, envs)
	assert.Equal(t, refusedKey, envs[0].DedupKey, "the first envelope is the refused raise (one dedup key, so one ticket)")
	assert.Zero(t, b.Unacked())

	r.waitSubscribed(t)
	send(t, b, dev, "E1", `{"temp": 92}`)
	assert.Equal(t, []string{"raise E1"}, kinds(r.alarms(t)), "published exactly once")
	r.close(t)
	assert.Empty(t, readState(t, root).Unsent, "nothing left unsent")
}

// After a restart on a journal whose last line a crash tore, the next entry starts on a line
// of its own: appended to the torn fragment, it did not parse either, and a second crash
// forgot the state it journaled (here E2's raise, so E2's clear was never published).
func TestJournalEntryAfterATornLineSurvivesACrash(t *testing.T) {
	const client = "gongdan-state-torn-append"
	b := startTestBroker(t, client)
	dev := deviceClient(t, b, "state-torn-append-devices")
	crashed := raiseAndCrash(t, b, dev, client)
	appendTornLine(t, crashed)

	r := startStateRun(t, runConfig{broker: b.Addr, client: client}, crashed, false)
	r.waitSubscribed(t)
	send(t, b, dev, "E2", `{"temp": 91}`)
	require.Equal(t, []string{"raise E2"}, kinds(r.alarms(t)))
	again := crashCopy(t, crashed) // crashed again, before any snapshot
	r.close(t)

	r = startStateRun(t, runConfig{broker: b.Addr, client: client}, again, false)
	r.waitSubscribed(t)
	send(t, b, dev, "E2", `{"temp": 70}`)
	assert.Equal(t, []string{"clear E2"}, kinds(r.alarms(t)), "E2's raise, journaled after the torn line, was remembered")
}

// A journal line that is JSON but not a device state (corruption, or another gongdan version)
// is skipped, and the snapshot stays: it used to set the readable snapshot aside as unreadable
// and fail every Run, so the connector never subscribed.
func TestJournalLineOfTheWrongShapeDoesNotStopTheConnector(t *testing.T) {
	const client = "gongdan-state-wrong-shape"
	b := startTestBroker(t, client)
	dev := deviceClient(t, b, "state-wrong-shape-devices")
	crashed := raiseAndCrash(t, b, dev, client)
	f, err := os.OpenFile(filepath.Join(crashed, stateConnector, "alarms.journal"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"seq":2,"device":"E9","state":{"rules":5}}` + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	clearsAfterRestart(t, b, dev, client, crashed, `{"temp": 70}`).close(t)
	aside, err := filepath.Glob(filepath.Join(crashed, stateConnector, "alarms.json.unreadable-*"))
	require.NoError(t, err)
	assert.Empty(t, aside, "the snapshot was readable")
}
