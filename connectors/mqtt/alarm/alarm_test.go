package alarm_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors/mqtt/alarm"
)

var t0 = time.Date(2026, 11, 23, 9, 42, 0, 0, time.FixedZone("CST", 8*3600))

func newEngine(t testing.TB, max int, rules ...alarm.Rule) *alarm.Evaluator {
	t.Helper()
	e, errs := alarm.New(alarm.Config{Rules: rules, MaxRaisesPerHour: max})
	require.Empty(t, errs)
	return e
}

var overheat = alarm.Rule{ID: "overheat", When: "temp > 85", For: 30 * time.Second, ClearWhen: "temp < 75",
	Urgency: "orange", Category: "设备过热", Title: "设备 {{device}} 温度 {{temp}}°C 超限"}

func msg(device string, at time.Duration, fields map[string]any) alarm.Message {
	return alarm.Message{Device: device, Topic: "factory/" + device + "/telemetry", At: t0.Add(at), Fields: fields}
}

func temp(v float64) map[string]any { return map[string]any{"temp": v} }

func kinds(ts []alarm.Transition) []string {
	var out []string
	for _, t := range ts {
		out = append(out, string(t.Kind)+":"+t.Rule)
	}
	return out
}

// A device over its threshold for longer than for raises one alarm; thousands more breaching
// messages raise no second; the hysteresis band (75..85) neither raises nor clears; below 75
// clears.
func TestForHysteresisAndOneRaisePerIncident(t *testing.T) {
	e := newEngine(t, 0, overheat)
	assert.Empty(t, e.Evaluate(msg("E1", 0, temp(90))))
	assert.Equal(t, alarm.Pending, e.StateOf("E1", "overheat"))
	assert.Empty(t, e.Evaluate(msg("E1", 29*time.Second, temp(91))), "not yet 30 s")
	out := e.Evaluate(msg("E1", 30*time.Second, temp(92)))
	require.Len(t, out, 1)
	r := out[0]
	assert.Equal(t, alarm.Raise, r.Kind)
	assert.Equal(t, "设备 E1 温度 92°C 超限", r.Title)
	assert.Equal(t, "device:E1:overheat", r.ThreadKey())
	assert.Equal(t, t0, r.Since, "pending since the first breaching message")
	assert.Equal(t, "orange", r.Urgency)
	assert.Equal(t, "factory/E1/telemetry", r.Topic)
	raises := 0
	for i := range 10000 {
		for _, tr := range e.Evaluate(msg("E1", 31*time.Second+time.Duration(i)*time.Millisecond, temp(86+float64(i%10)))) {
			if tr.Kind == alarm.Raise {
				raises++
			}
		}
	}
	assert.Zero(t, raises, "10,000 more breaching messages raise nothing")
	assert.Empty(t, e.Evaluate(msg("E1", time.Minute, temp(80))), "inside the band: still active")
	assert.Equal(t, alarm.Active, e.StateOf("E1", "overheat"))
	out = e.Evaluate(msg("E1", 2*time.Minute, temp(70)))
	assert.Equal(t, []string{"clear:overheat"}, kinds(out))
	assert.Equal(t, alarm.Normal, e.StateOf("E1", "overheat"))
}

func TestAShortSpikeRaisesNothing(t *testing.T) {
	e := newEngine(t, 0, overheat)
	assert.Empty(t, e.Evaluate(msg("E1", 0, temp(90))))
	assert.Empty(t, e.Evaluate(msg("E1", 10*time.Second, temp(60))))
	assert.Empty(t, e.Evaluate(msg("E1", 35*time.Second, temp(90))), "the for starts again")
	assert.Equal(t, []string{"raise:overheat"}, kinds(e.Evaluate(msg("E1", 65*time.Second, temp(90)))))
}

func TestTickRaisesAPendingAlarmWhoseForHasPassed(t *testing.T) {
	e := newEngine(t, 0, overheat)
	e.Evaluate(msg("E1", 0, temp(90)))
	assert.Empty(t, e.Tick(t0.Add(20*time.Second)))
	assert.Equal(t, []string{"raise:overheat"}, kinds(e.Tick(t0.Add(30*time.Second))), "the last value holds until a message says otherwise")
	assert.Empty(t, e.Tick(t0.Add(40*time.Second)))
}

func TestRepeatWithinAWindow(t *testing.T) {
	e := newEngine(t, 0, alarm.Rule{ID: "door", When: `door == "open"`, Repeat: 3, Within: time.Minute})
	open := map[string]any{"door": "open"}
	assert.Empty(t, e.Evaluate(msg("E1", 0, open)))
	assert.Empty(t, e.Evaluate(msg("E1", 70*time.Second, open)), "the first fell out of the window")
	assert.Empty(t, e.Evaluate(msg("E1", 80*time.Second, open)))
	assert.Equal(t, []string{"raise:door"}, kinds(e.Evaluate(msg("E1", 90*time.Second, open))))
}

func TestOfflineAfterSilence(t *testing.T) {
	e := newEngine(t, 0, overheat, alarm.Rule{ID: "offline", OfflineAfter: 5 * time.Minute, Urgency: "yellow", Category: "设备离线"})
	e.Evaluate(msg("E1", 0, temp(20)))
	assert.Empty(t, e.Tick(t0.Add(4*time.Minute)))
	out := e.Tick(t0.Add(5 * time.Minute))
	require.Equal(t, []string{"raise:offline"}, kinds(out))
	assert.Equal(t, t0, out[0].Since, "last heard of")
	assert.Empty(t, e.Tick(t0.Add(6*time.Minute)), "once")
	assert.Equal(t, []string{"clear:offline"}, kinds(e.Evaluate(msg("E1", 7*time.Minute, temp(20)))))
}

func TestFlappingGuard(t *testing.T) {
	r := overheat
	r.For, r.MinInterval = 0, 10*time.Minute
	e := newEngine(t, 0, r)
	assert.Equal(t, []string{"raise:overheat"}, kinds(e.Evaluate(msg("E1", 0, temp(90)))))
	assert.Equal(t, []string{"clear:overheat"}, kinds(e.Evaluate(msg("E1", time.Minute, temp(70)))))
	assert.Empty(t, e.Evaluate(msg("E1", 2*time.Minute, temp(90))), "too soon after the clear")
	assert.Equal(t, []string{"raise:overheat"}, kinds(e.Evaluate(msg("E1", 11*time.Minute, temp(90)))))
}

func TestStormGuard(t *testing.T) {
	var rules []alarm.Rule
	for i := range 5 {
		rules = append(rules, alarm.Rule{ID: fmt.Sprintf("r%d", i), When: fmt.Sprintf("v%d > 1", i)})
	}
	e := newEngine(t, 2, rules...)
	var got []string
	for i := range 5 {
		got = append(got, kinds(e.Evaluate(msg("E1", time.Duration(i)*time.Second, map[string]any{fmt.Sprintf("v%d", i): 2.0})))...)
	}
	assert.Equal(t, []string{"raise:r0", "raise:r1", "storm:r1"}, got, "two raises an hour; the third is told as a storm on the last raised alarm, the rest counted")
	// An hour later one more is let through, and says how many were held back.
	out := e.Evaluate(msg("E1", time.Hour+time.Second, map[string]any{"v0": 0.0}))
	assert.Equal(t, []string{"clear:r0"}, kinds(out))
	out = e.Evaluate(msg("E1", time.Hour+2*time.Second, map[string]any{"v0": 2.0}))
	require.Equal(t, []string{"raise:r0"}, kinds(out))
	assert.Equal(t, 3, out[0].Suppressed)
	// A suppressed alarm clears silently: it never left the engine.
	assert.Empty(t, e.Evaluate(msg("E1", time.Hour+3*time.Second, map[string]any{"v3": 0.0})))
	assert.Equal(t, alarm.Normal, e.StateOf("E1", "r3"))
}

// A message without any field a rule reads (another topic of the same device) leaves the
// rule as it was: it neither clears nor resets it.
func TestMessagesWithoutTheRulesFieldsLeaveItAlone(t *testing.T) {
	e := newEngine(t, 0, overheat)
	e.Evaluate(msg("E1", 0, temp(90)))
	assert.Empty(t, e.Evaluate(msg("E1", 10*time.Second, map[string]any{"door": "open"})))
	assert.Equal(t, alarm.Pending, e.StateOf("E1", "overheat"), "still pending since the first breach")
	assert.Equal(t, []string{"raise:overheat"}, kinds(e.Evaluate(msg("E1", 30*time.Second, temp(90)))))
	assert.Empty(t, e.Evaluate(msg("E1", 40*time.Second, map[string]any{"door": "closed"})), "no temperature: no clear")
	assert.Equal(t, alarm.Active, e.StateOf("E1", "overheat"))
}

func TestRateOfChange(t *testing.T) {
	e := newEngine(t, 0, alarm.Rule{ID: "heating-fast", When: "rate.temp > 0.5"}) // °C per second
	assert.Empty(t, e.Evaluate(msg("E1", 0, temp(20))))
	assert.Empty(t, e.Evaluate(msg("E1", 10*time.Second, temp(24))), "0.4 °C/s")
	assert.Equal(t, []string{"raise:heating-fast"}, kinds(e.Evaluate(msg("E1", 20*time.Second, temp(30)))), "0.6 °C/s")
}

func TestModelsAndTopics(t *testing.T) {
	e := newEngine(t, 0,
		alarm.Rule{ID: "chiller", Models: []string{"CH-200"}, When: "temp > 10"},
		alarm.Rule{ID: "line3", Topics: []string{"factory/+/line3/#"}, When: "temp > 10"})
	m := msg("E1", 0, temp(20))
	m.Model, m.Topic = "CH-200", "factory/E1/telemetry"
	assert.Equal(t, []string{"raise:chiller"}, kinds(e.Evaluate(m)))
	m = msg("E2", 0, temp(20))
	m.Model, m.Topic = "AC-1", "factory/E2/line3/zone/a"
	assert.Equal(t, []string{"raise:line3"}, kinds(e.Evaluate(m)))
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/+/c", "a/b/c", true}, {"a/+/c", "a/b/d", false}, {"a/#", "a", true}, {"a/#", "a/b/c", true},
		{"a/+", "a/b/c", false}, {"+/+", "a/b", true}, {"a/b", "a/b", true}, {"a/b", "a/b/c", false}, {"#", "x/y", true},
	} {
		assert.Equal(t, tc.want, alarm.MatchTopic(tc.filter, tc.topic), "%s ~ %s", tc.filter, tc.topic)
	}
}

// A restart in the middle keeps the pending duration: restored from a snapshot, the alarm is
// raised 30 s after the first breaching message, not 30 s after the restart.
func TestSnapshotKeepsPendingDurationsAndActiveAlarms(t *testing.T) {
	e := newEngine(t, 0, overheat)
	e.Evaluate(msg("E1", 0, temp(90)))
	e.Evaluate(msg("E2", 0, temp(90)))
	e.Evaluate(msg("E2", 30*time.Second, temp(90))) // active
	snap, err := e.Snapshot()
	require.NoError(t, err)

	restarted := newEngine(t, 0, overheat)
	require.NoError(t, restarted.Restore(snap))
	assert.Equal(t, alarm.Pending, restarted.StateOf("E1", "overheat"))
	assert.Equal(t, alarm.Active, restarted.StateOf("E2", "overheat"))
	assert.Equal(t, []string{"raise:overheat"}, kinds(restarted.Evaluate(msg("E1", 31*time.Second, temp(90)))))
	assert.Empty(t, restarted.Evaluate(msg("E2", 40*time.Second, temp(95))), "still the same incident")
	assert.Equal(t, []string{"clear:overheat"}, kinds(restarted.Evaluate(msg("E2", 50*time.Second, temp(60)))))
	assert.Error(t, restarted.Restore([]byte("{not json")))
}

func TestBadValuesAreFalseNotErrors(t *testing.T) {
	e := newEngine(t, 0, overheat)
	for _, f := range []map[string]any{{"temp": "hot"}, {}, {"temp": nil}, {"temp": true}} {
		assert.Empty(t, e.Evaluate(msg("E1", 0, f)), "%v", f)
	}
}

func TestConfigErrors(t *testing.T) {
	_, errs := alarm.New(alarm.Config{Rules: []alarm.Rule{
		{ID: "a", When: "temp >"},
		{ID: "a", When: "x > 1", Repeat: 3},
		{ID: "", When: "x > 1", Topics: []string{"a/#/b"}},
		{ID: "off", OfflineAfter: time.Minute, When: "x > 1"},
		{ID: "nothing"},
	}})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	assert.Equal(t, []string{
		"rules[0].when: unexpected token EOF (1:6)",
		`rules[1].id: "a" is used twice`,
		"rules[1].repeat: repeat N needs within: the window the N messages must fall in",
		"rules[2].id: required: it names the alarm (thread key device:<id>:<rule>)",
		`rules[2].topics[0]: "a/#/b": # must be the last level`,
		"rules[3].when: an offline rule (offline_after) raises on silence: drop when and clear_when",
		"rules[4].when: required: the condition that raises the alarm, like temp > 85 (or offline_after for silence)",
	}, got)
}

// Rule evaluation in process (issue 6: ≥ 200,000 messages/s on one core for 10 rules per
// device): 10,000 devices, each message evaluated by 10 rules, mostly below their thresholds.
func BenchmarkEvaluate(b *testing.B) {
	var rules []alarm.Rule
	for i := range 10 {
		rules = append(rules, alarm.Rule{ID: fmt.Sprintf("r%d", i), When: fmt.Sprintf("temp > %d && humidity < 90", 80+i),
			For: 30 * time.Second, ClearWhen: fmt.Sprintf("temp < %d", 70+i), Title: "设备 {{device}} 温度 {{temp}}°C 超限"})
	}
	e := newEngine(b, 0, rules...)
	devices := make([]string, 10000)
	for i := range devices {
		devices[i] = fmt.Sprintf("E%06d", i)
	}
	fields := map[string]any{"temp": 0.0, "humidity": 40.0}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		fields["temp"] = float64(60 + i%30) // a few in a hundred breach
		e.Evaluate(alarm.Message{Device: devices[i%len(devices)], Topic: "factory/x/telemetry", At: t0.Add(time.Duration(i) * time.Millisecond), Fields: fields})
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// After a restart the offline check waits out its grace, while pending alarms still raise on
// time: HoldOffline holds back offline raises only.
func TestHoldOfflineHoldsOnlyOfflineRaises(t *testing.T) {
	e := newEngine(t, 0, overheat, alarm.Rule{ID: "offline", OfflineAfter: time.Minute, Urgency: "yellow"})
	require.Empty(t, e.Evaluate(msg("E1", 0, temp(90)))) // overheat pending, last heard at t0
	e.HoldOffline(t0.Add(5 * time.Minute))
	// Two minutes of silence: offline would be due, and so is overheat's for.
	assert.Equal(t, []string{"raise:overheat"}, kinds(e.Tick(t0.Add(2*time.Minute))))
	assert.Empty(t, e.Tick(t0.Add(4*time.Minute)), "offline raised within the hold")
	assert.Equal(t, []string{"raise:offline"}, kinds(e.Tick(t0.Add(5*time.Minute))))
}

// A device's snapshot restores that device alone, over a snapshot of the whole engine.
func TestDeviceSnapshotRestoresOneDevice(t *testing.T) {
	e := newEngine(t, 0, overheat)
	e.Evaluate(msg("E1", 0, temp(90)))
	e.Evaluate(msg("E2", 0, temp(90)))
	whole, err := e.Snapshot()
	require.NoError(t, err)
	require.Equal(t, []string{"raise:overheat"}, kinds(e.Evaluate(msg("E1", 31*time.Second, temp(90)))))
	one, err := e.DeviceSnapshot("E1")
	require.NoError(t, err)

	f := newEngine(t, 0, overheat)
	require.NoError(t, f.Restore(whole))
	require.Equal(t, alarm.Pending, f.StateOf("E1", "overheat"))
	require.NoError(t, f.RestoreDevice("E1", one))
	assert.Equal(t, alarm.Active, f.StateOf("E1", "overheat"))
	assert.Equal(t, alarm.Pending, f.StateOf("E2", "overheat"), "another device changed")
	assert.Equal(t, []string{"clear:overheat"}, kinds(f.Evaluate(msg("E1", 40*time.Second, temp(70)))), "the restored alarm clears")
}

// An offline rule limited to some topics calls silent only the devices heard on them.
func TestOfflineRuleKeepsToItsTopics(t *testing.T) {
	e := newEngine(t, 0, alarm.Rule{ID: "offline", OfflineAfter: time.Minute, Topics: []string{"site1/+/telemetry"}})
	e.Evaluate(alarm.Message{Device: "X", Topic: "site2/X/telemetry", At: t0, Fields: temp(20)})
	e.Evaluate(alarm.Message{Device: "Y", Topic: "site1/Y/telemetry", At: t0, Fields: temp(20)})
	out := e.Tick(t0.Add(2 * time.Minute))
	require.Len(t, out, 1)
	assert.Equal(t, "Y", out[0].Device)
}

// A device's clock that is off by minutes: silence is measured by when its messages arrive,
// and for by the device's own time, so it neither flaps offline nor raises early.
func TestDeviceClockOffsets(t *testing.T) {
	wall := t0
	for _, offset := range []time.Duration{-10 * time.Minute, 10 * time.Minute} {
		t.Run(offset.String(), func(t *testing.T) {
			e := newEngine(t, 0, alarm.Rule{ID: "offline", OfflineAfter: 5 * time.Minute})
			var got []string
			for i := range 10 { // a message every 10 s, stamped offset from the wall clock
				now := wall.Add(time.Duration(i) * 10 * time.Second)
				got = append(got, kinds(e.Evaluate(alarm.Message{Device: "Y", At: now.Add(offset), Received: now, Fields: temp(20)}))...)
				got = append(got, kinds(e.Tick(now.Add(time.Second)))...)
			}
			assert.Empty(t, got, "a device that publishes every 10 s is not silent")
			last := wall.Add(90 * time.Second)
			assert.Empty(t, e.Tick(last.Add(4*time.Minute)))
			assert.Equal(t, []string{"raise:offline"}, kinds(e.Tick(last.Add(5*time.Minute))), "silent for 5 minutes by this host's clock")
		})
	}
	t.Run("for in the device's time", func(t *testing.T) {
		e := newEngine(t, 0, overheat) // for: 30s
		require.Empty(t, e.Evaluate(alarm.Message{Device: "Z", At: wall.Add(-time.Minute), Received: wall, Fields: temp(90)}))
		assert.Empty(t, e.Tick(wall.Add(100*time.Millisecond)), "raised although only 100 ms passed")
		out := e.Tick(wall.Add(30 * time.Second))
		require.Equal(t, []string{"raise:overheat"}, kinds(out))
		assert.Equal(t, wall.Add(-30*time.Second), out[0].At, "the raise is stamped in the device's time")
	})
}

// A rule that fails on a field of the wrong type says so; a field that is missing is not the
// payload's fault.
func TestWrongTypeIsReported(t *testing.T) {
	e := newEngine(t, 0, overheat)
	assert.Empty(t, e.Evaluate(msg("E1", 0, map[string]any{"temp": "ERR"})))
	require.Error(t, e.WrongType())
	assert.Contains(t, e.WrongType().Error(), `rule overheat cannot read temp = ERR (string)`)
	e.Evaluate(msg("E1", time.Second, temp(20)))
	assert.NoError(t, e.WrongType(), "a good message clears it")
	e.Evaluate(msg("E1", 2*time.Second, map[string]any{"humidity": 40.0}))
	assert.NoError(t, e.WrongType(), "a message without the rule's field")
}

// BenchmarkSnapshot: the state of 10,000 devices with three rules each, as the connector saves
// it every snapshot_every.
func BenchmarkSnapshot(b *testing.B) {
	e := newEngine(b, 0, overheat, alarm.Rule{ID: "humid", When: "humidity > 95"}, alarm.Rule{ID: "offline", OfflineAfter: 5 * time.Minute})
	for i := range 10000 {
		e.Evaluate(alarm.Message{Device: fmt.Sprintf("E2026%05d", i), Topic: "factory/x/telemetry", At: t0,
			Fields: map[string]any{"temp": 60.5, "humidity": 40.0, "voltage": 221.0}})
	}
	var size int
	for b.Loop() {
		s, err := e.Snapshot()
		require.NoError(b, err)
		size = len(s)
	}
	b.ReportMetric(float64(size), "bytes")
}

// TakeChanged names the devices whose alarm state moved — pending, active, clearing, normal —
// and not those that only sent values.
func TestTakeChangedNamesStateChangesOnly(t *testing.T) {
	e := newEngine(t, 0, overheat)
	e.Evaluate(msg("E1", 0, temp(60)))
	assert.Empty(t, e.TakeChanged(), "a normal reading changes no state")
	e.Evaluate(msg("E1", time.Second, temp(90)))
	e.Evaluate(msg("E2", time.Second, temp(60)))
	assert.Equal(t, []string{"E1"}, e.TakeChanged(), "E1 went pending")
	e.Evaluate(msg("E1", 2*time.Second, temp(91)))
	assert.Empty(t, e.TakeChanged(), "still pending since the first breach")
	e.Evaluate(msg("E1", 40*time.Second, temp(92)))
	assert.Equal(t, []string{"E1"}, e.TakeChanged(), "raised")
	assert.Empty(t, e.TakeChanged(), "taken")
}
