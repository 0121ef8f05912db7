package mqtt

import (
	_ "embed"
	"fmt"
	"time"

	"gongdan/connectors"
	"gongdan/connectors/mqtt/alarm"
	"gongdan/draft"
)

// Field names, used by the spec and by the getters alike.
const (
	fieldBrokers        = "brokers"
	fieldClientID       = "client_id"
	fieldUsername       = "username"
	fieldPassword       = "password"
	fieldTLS            = "tls"
	fieldCAFile         = "ca_file"
	fieldCertFile       = "cert_file"
	fieldKeyFile        = "key_file"
	fieldServerName     = "server_name"
	fieldInsecure       = "insecure_skip_verify"
	fieldTopics         = "topics"
	fieldQoS            = "qos"
	fieldDeviceID       = "device_id"
	fieldPayload        = "payload"
	fieldFormat         = "format"
	fieldTime           = "time"
	fieldValueField     = "value_field"
	fieldMaxBytes       = "max_bytes"
	fieldRules          = "rules"
	fieldMaxRaises      = "max_raises_per_hour"
	fieldKeepAlive      = "keepalive"
	fieldConnectTimeout = "connect_timeout"
	fieldMaxReconnect   = "max_reconnect_interval"
	fieldQueue          = "queue"
	fieldTick           = "tick"
	fieldSnapshotEvery  = "snapshot_every"
	fieldOfflineGrace   = "offline_grace"
	fieldBadSamples     = "bad_payload_samples_per_minute"
	fieldEmbedded       = "embedded_broker"
	fieldListen         = "listen"

	// Embedded broker fields.
	fieldCredentialsFile = "credentials_file"
	fieldMaxPacketSize   = "max_packet_size"
	fieldRetain          = "retain"
	fieldReceiveMaximum  = "receive_maximum"
	fieldMaxQueued       = "max_queued_messages"
	fieldMaxClients      = "max_clients"
	fieldConnRate        = "connection_rate"
	fieldConnBurst       = "connection_burst"

	// Rule fields.
	ruleID           = "id"
	ruleWhen         = "when"
	ruleFor          = "for"
	ruleClearWhen    = "clear_when"
	ruleClearFor     = "clear_for"
	ruleRepeat       = "repeat"
	ruleWithin       = "within"
	ruleOfflineAfter = "offline_after"
	ruleMinInterval  = "min_interval"
	ruleModels       = "models"
	ruleTopics       = "topics"
	ruleUrgency      = "urgency"
	ruleCategory     = "category"
	ruleTitle        = "title"
	ruleAutoResolve  = "auto_resolve"
)

//go:embed sample.yaml
var sample string

func init() { connectors.Register(spec()) }

func spec() connectors.Spec {
	return connectors.Spec{
		Type:    "mqtt",
		Summary: "Subscribes to device telemetry over MQTT, evaluates alarm rules on every message and turns alarm raises and clears into tickets.",
		Description: `
Devices (chargers, elevators, air-conditioning units, production lines) publish telemetry to an
MQTT broker every few seconds. The connector subscribes with a **persistent session** (clean
session off) and **QoS 1**, decodes each message (a JSON object, a bare number or ` + "`key=value`" + `
lines), and evaluates the ` + "`rules`" + ` on it in memory. Only alarm **transitions** leave the
connector: a raise becomes a ticket (thread ` + "`device:<id>:<rule>`" + `, so a raise while the
ticket is open merges into it), a clear becomes an event on that ticket (and resolves it, if
the rule says ` + "`auto_resolve`" + ` and an engineer has started on it). A million telemetry
messages make as many bus messages as there are transitions.

**Acknowledgement.** Automatic acks are off: a message is acked (PUBACK) only after it has
been evaluated and any transition it made is durable on the bus. If the bus is down the
connector holds the message and retries; the broker keeps what follows in the session. Stop
gongdan while devices publish and start it again: the broker delivers what was queued, and no
transition is lost. The state of every device × rule (pending since, active, clearing) is
journaled as it changes (synced before the message that changed it is acked) and snapshotted
every ` + "`snapshot_every`" + ` and at shutdown, so a restart — even kill -9 — keeps pending
durations and active alarms.

**Rules** apply per device model (` + "`models`" + `, from the device registry) or topic filter
(` + "`topics`" + `). ` + "`when`" + ` is an [expr](https://expr-lang.org) condition over the message's fields
(` + "`temp > 85`" + `), the device (` + "`device.id`" + `, ` + "`device.model`" + `) and each numeric field's change
since the device's last message (` + "`delta.temp`" + `) or rate per second (` + "`rate.temp`" + `). ` + "`for`" + `: it must
hold this long; ` + "`repeat`" + ` N ` + "`within`" + ` a window: in N messages instead. ` + "`clear_when`" + ` is the
hysteresis (` + "`temp < 75`" + `), ` + "`clear_for`" + ` how long it must hold. ` + "`offline_after`" + ` raises when a device
has sent nothing for that long (checked every ` + "`tick`" + `, from ` + "`offline_grace`" + ` after the connector
started, so a restart does not call every device silent). ` + "`min_interval`" + ` is the flapping
guard; ` + "`max_raises_per_hour`" + ` the storm guard per device (the held-back raises are counted on
the open ticket).

**Bad payloads** (not JSON, too large, NaN, no device id) are acked, counted per device
(GET /api/v1/connectors shows the devices with the most) and sampled into the dead letters at
most ` + "`bad_payload_samples_per_minute`" + ` a minute, each with the decode error. They never stop
the connector. Devices missing from the device registry are accepted; their tickets carry the
tag ` + "`unregistered_device`" + `.

**Broker settings.** Mosquitto delivers at most ` + "`max_inflight_messages`" + ` (default 20)
unacked QoS 1 messages to a client at a time, and keeps at most ` + "`max_queued_messages`" + ` (default
1000) for it beyond those, **dropping the rest silently** — also while gongdan is stopped. For a
fleet, set in mosquitto.conf: ` + "`max_queued_messages 0`" + ` (or a bound above what a restart can
queue: devices × messages per second × seconds of downtime), ` + "`max_inflight_messages 100`" + `, and
` + "`persistence true`" + ` so queued messages survive a broker restart. Do not lift the in-flight limit
altogether: Mosquitto then keeps thousands of messages in flight to the connector and its own
work per ack grows with them (measured here: 5,000 messages/s unlimited, 14,000 at 100, on
the same load). EMQX and HiveMQ have equivalent limits per session.

**Embedded broker.** With ` + "`embedded_broker: {listen: 127.0.0.1:11883}`" + ` gongdan runs a broker
(mochi-mqtt) itself, for the quickstart and small sites, and the connector subscribes there
(` + "`brokers`" + ` is then not set). It keeps sessions in memory: while gongdan is down, devices must
hold their messages (as they would for any broker that is down). It trusts no client on its
port:

- **Who may connect.** With ` + "`credentials_file`" + ` each device logs in as itself: username = device
  id, its own password, and its **client id must be its device id** (so no device can take
  another's connection). The file has one ` + "`device_id:hash`" + ` a line — bcrypt as
  ` + "`htpasswd -nbB E202308001 'its password'`" + ` prints it, or a ` + "`mosquitto_passwd`" + ` (2.x, ` + "`$7$`" + `)
  file as it is; plain passwords are refused. Every login checks a hash, at most half the cores at a
  time: keep bcrypt's cost modest (htpasswd -B's default, 5, took 2 ms of CPU here; 10 took
  160 ms, and 10 logins a second would then keep a core busy). The file is read again when it changes (a bad edit is logged and the devices read
  before stay in force). Without it, ` + "`username`" + ` and ` + "`password`" + `
  are one login that every device shares — no device is then told apart from another, so any
  device could raise or clear another's alarms — and with neither the broker is **anonymous**:
  gongdan accepts both on loopback only. Beyond loopback, ` + "`credentials_file`" + ` is required.
- **What a device may do.** Publish telemetry under the connector's ` + "`topics`" + ` — and, with
  ` + "`credentials_file`" + `, only as itself: with ` + "`device_id: topic[1]`" + ` and ` + "`factory/+/telemetry`" + `, device
  E1 publishes to ` + "`factory/E1/telemetry`" + ` and nowhere else; with the id in the payload, the
  payload must name E1. Nothing else: a device subscribes to nothing, keeps no session, and a
  retained publish is refused (` + "`retain: ignore`" + ` delivers it as an ordinary one). A refused
  publish disconnects the device, with a warning in the log. A will is held to the same rule.
- **The connector** connects on a loopback port of its own with a password made at start,
  which never leaves the process. Its ` + "`client_id`" + ` is refused on the devices' port whatever the
  password, and the attempt is logged (a warning with the remote address), so nobody can take
  its session and with it the telemetry.
- **Limits.** A packet larger than ` + "`max_packet_size`" + ` is refused from its header, before it is
  read into memory (the client is disconnected); it must leave room for ` + "`payload.max_bytes`" + `
  and the topic, so that what the connector would count as a bad payload still reaches it.
  Connections are rate limited per remote address (` + "`connection_rate`" + ` a second, bursts of
  ` + "`connection_burst`" + `; an IPv6 address by its /64) before anything is read; a new connection
  must send its CONNECT within 10 s; at most ` + "`max_clients`" + ` devices are connected at once (the
  connector's place is kept). Each client has at most ` + "`receive_maximum`" + ` QoS 2 messages in
  flight towards the broker, and the broker keeps at most ` + "`max_queued_messages`" + ` unacked QoS 1
  messages for the connector (beyond, it drops them with a warning): memory stays below
  about max_queued_messages × max_packet_size.
- What was refused is counted under ` + "`embedded_broker`" + ` in GET /api/v1/connectors.
`,
		Example: sample,
		Fields: []connectors.Field{
			{Name: fieldBrokers, Kind: connectors.KindStringList, Description: "Broker URLs, tried in order: tcp://host:1883, ssl://host:8883 (or tls://), ws://…. Required unless embedded_broker is set.",
				Example: `["tcp://127.0.0.1:1883"]`, Pattern: `^(tcp|ssl|tls|mqtt|mqtts|ws|wss)://[^/\s]+(/.*)?$`, PatternHint: "a URL like tcp://127.0.0.1:1883"},
			{Name: fieldClientID, Kind: connectors.KindString, Required: true, Pattern: `^[0-9A-Za-z_.:-]{1,64}$`, PatternHint: "1–64 letters, digits, _ . : -",
				Description: "The MQTT client id. The broker keeps the persistent session under it: keep it stable across restarts and unique across gongdan processes."},
			{Name: fieldUsername, Kind: connectors.KindString, Description: "Username at the broker. With embedded_broker: one login that every device shares, " +
				"allowed on loopback only (beyond it, give each device its own with embedded_broker.credentials_file)."},
			{Name: fieldPassword, Kind: connectors.KindString, Secret: true, Description: "Password at the broker (with embedded_broker: of the devices' shared login, loopback only); write ${ENV_VAR}."},
			{Name: fieldTLS, Kind: connectors.KindObject, Description: "TLS towards the broker (ssl:// URLs). Without ca_file the system roots are used.", Fields: []connectors.Field{
				{Name: fieldCAFile, Kind: connectors.KindPath, Description: "PEM file of the CA that signed the broker's certificate."},
				{Name: fieldCertFile, Kind: connectors.KindPath, Description: "PEM client certificate, for brokers that require one (with key_file)."},
				{Name: fieldKeyFile, Kind: connectors.KindPath, Description: "PEM key of the client certificate."},
				{Name: fieldServerName, Kind: connectors.KindString, Description: "The name to check the broker's certificate against, when it is not the URL's host."},
				{Name: fieldInsecure, Kind: connectors.KindBool, Default: false, Description: "Do not check the broker's certificate. For tests only."},
			}},
			{Name: fieldTopics, Kind: connectors.KindStringList, Required: true, Example: `["factory/+/telemetry"]`, Check: checkFilters,
				Description: "Topic filters to subscribe to (+ for one level, # for the rest)."},
			{Name: fieldQoS, Kind: connectors.KindInt, Default: 1, Min: connectors.Bound(0), Max: connectors.Bound(1),
				Description: "QoS of the subscriptions. 1: at least once, acked after evaluation (use it). 0: the broker may drop messages."},
			{Name: fieldDeviceID, Kind: connectors.KindString, Required: true, Example: `"topic[1]"`,
				Description: "Where the device id is: topic[N] for the Nth level of the topic (from 0: factory/E202308001/telemetry → topic[1]), or a payload field path like meta.sn."},
			{Name: fieldPayload, Kind: connectors.KindObject, Description: "How payloads are read.", Fields: []connectors.Field{
				{Name: fieldFormat, Kind: connectors.KindString, Default: "auto", Enum: []string{"auto", "json", "number", "kv"},
					Description: "auto tells them apart: a JSON object, a bare number, else key=value lines."},
				{Name: fieldTime, Kind: connectors.KindString, Description: "Payload field with the time of the reading (RFC 3339, Unix seconds or milliseconds). Without it, or when a payload lacks it, the time of receipt."},
				{Name: fieldValueField, Kind: connectors.KindString, Default: "value", Description: "The name a bare-number payload's value goes by in rules."},
				{Name: fieldMaxBytes, Kind: connectors.KindInt, Default: 64 << 10, Min: connectors.Bound(16), Max: connectors.Bound(16 << 20), Description: "Larger payloads are bad payloads."},
			}},
			{Name: fieldRules, Kind: connectors.KindObjectList, Required: true, Description: "Alarm rules, evaluated on every message in order.", Fields: []connectors.Field{
				{Name: ruleID, Kind: connectors.KindString, Required: true, Pattern: `^[a-z0-9][a-z0-9_-]{0,63}$`, PatternHint: "lower-case letters, digits, _ and -",
					Description: "Names the alarm: its tickets have thread key device:<device>:<id>."},
				{Name: ruleWhen, Kind: connectors.KindString, Description: "The condition that raises the alarm (expr): temp > 85."},
				{Name: ruleFor, Kind: connectors.KindDuration, Default: time0, Description: "How long when must hold before the alarm is raised."},
				{Name: ruleClearWhen, Kind: connectors.KindString, Description: "The condition that clears it (hysteresis): temp < 75. Default: when no longer holds."},
				{Name: ruleClearFor, Kind: connectors.KindDuration, Default: time0, Description: "How long clear_when must hold."},
				{Name: ruleRepeat, Kind: connectors.KindInt, Default: 0, Min: connectors.Bound(0), Description: "Raise when when held in this many messages within `within` (instead of for)."},
				{Name: ruleWithin, Kind: connectors.KindDuration, Default: time0, Description: "The window of repeat."},
				{Name: ruleOfflineAfter, Kind: connectors.KindDuration, Default: time0, Description: "Makes an offline rule: raised when the device has sent nothing for this long, cleared by its next message."},
				{Name: ruleMinInterval, Kind: connectors.KindDuration, Default: time0, Description: "Flapping guard: no raise within this long after a clear."},
				{Name: ruleModels, Kind: connectors.KindStringList, Description: "Only devices of these models (from the device registry)."},
				{Name: ruleTopics, Kind: connectors.KindStringList, Check: checkFilters, Description: "Only messages on topics matching these filters."},
				{Name: ruleUrgency, Kind: connectors.KindString, Default: "yellow", Enum: []string{"blue", "yellow", "orange", "red"}, Description: "The ticket's urgency."},
				{Name: ruleCategory, Kind: connectors.KindString, Description: "The ticket's category (设备过热)."},
				{Name: ruleTitle, Kind: connectors.KindString, Description: "The ticket's title: {{device}}, {{rule}} and {{field}} are filled in.", Example: `"设备 {{device}} 温度 {{temp}}°C 超限"`},
				{Name: ruleAutoResolve, Kind: connectors.KindBool, Default: false, Description: "A clear resolves the ticket when it is in progress (else the clear is only recorded on it)."},
			}},
			{Name: fieldMaxRaises, Kind: connectors.KindInt, Default: 20, Min: connectors.Bound(0),
				Description: "Storm guard: at most this many raises per device in any hour; the rest are counted on the open ticket. 0: no limit."},
			{Name: fieldBadSamples, Kind: connectors.KindInt, Default: 10, Min: connectors.Bound(0), Max: connectors.Bound(10000),
				Description: "Bad payloads sampled into the dead letters per minute; the rest are only counted."},
			{Name: fieldEmbedded, Kind: connectors.KindObject, Description: "Run an MQTT broker inside gongdan (quickstart, small sites); off unless set. The connector subscribes there: leave brokers unset.", Fields: []connectors.Field{
				{Name: fieldListen, Kind: connectors.KindString, Required: true, Example: `"127.0.0.1:11883"`, Check: checkListen,
					Description: "host:port the broker listens on for devices. Beyond loopback (0.0.0.0, a LAN address) only with credentials_file: each device its own login."},
				{Name: fieldCertFile, Kind: connectors.KindPath, Example: `"/etc/gongdan/mqtt.crt"`,
					Description: "PEM certificate (chain) of the broker: devices then connect over TLS (mqtts), and their passwords do not cross the network in the clear. With key_file; read at start."},
				{Name: fieldKeyFile, Kind: connectors.KindPath, Description: "PEM key of cert_file."},
				{Name: fieldCredentialsFile, Kind: connectors.KindPath, Example: `"/etc/gongdan/devices.passwd"`,
					Description: "The devices and their password hashes, one device_id:hash a line (bcrypt from htpasswd -nbB, or a mosquitto_passwd file). A device logs in with its id as username and as client id, and publishes only as itself. Required when listen is beyond loopback: without it the devices share username/password, or the broker is anonymous without them, and either is allowed on loopback only."},
				{Name: fieldMaxPacketSize, Kind: connectors.KindInt, Default: 256 << 10, Min: connectors.Bound(1024), Max: connectors.Bound(64 << 20),
					Description: "The largest MQTT packet a client may send, in bytes; a larger one is refused from its header and the client disconnected. At least payload.max_bytes + 4096."},
				{Name: fieldRetain, Kind: connectors.KindString, Default: retainRefuse, Enum: []string{retainRefuse, retainIgnore},
					Description: "A retained publish: refuse (the device is disconnected) or ignore (delivered as an ordinary message, not kept). Telemetry has no reason to be retained."},
				{Name: fieldMaxClients, Kind: connectors.KindInt, Default: 1000, Min: connectors.Bound(1), Max: connectors.Bound(1 << 20),
					Description: "Devices connected at once; more are refused (server unavailable). The connector's own connection is not counted."},
				{Name: fieldConnRate, Kind: connectors.KindFloat, Default: 10.0, Min: connectors.Bound(0.0001), Max: connectors.Bound(1e6),
					Description: "New connections a second from one remote address (an IPv6 address by its /64), on average; beyond, they are closed before anything is read. Each login costs a password hash check, so this also bounds the CPU one address can make the broker spend. Devices behind one NAT share it: raise it for a fleet behind one address."},
				{Name: fieldConnBurst, Kind: connectors.KindInt, Default: 50, Min: connectors.Bound(1), Max: connectors.Bound(1 << 20),
					Description: "New connections one remote address may make at once before connection_rate applies."},
				{Name: fieldReceiveMaximum, Kind: connectors.KindInt, Default: 64, Min: connectors.Bound(1), Max: connectors.Bound(65535), Advanced: true,
					Description: "QoS 2 messages a client may have in flight towards the broker; beyond, it is disconnected."},
				{Name: fieldMaxQueued, Kind: connectors.KindInt, Default: 8192, Min: connectors.Bound(1), Max: connectors.Bound(65535), Advanced: true,
					Description: "Unacked QoS 1 messages the broker keeps for the connector while it is slow or reconnecting; beyond, new ones are dropped (with a warning in the log)."},
			}},
			{Name: fieldKeepAlive, Kind: connectors.KindDuration, Default: 30 * second, Min: connectors.Bound(1), Advanced: true, Description: "MQTT keepalive."},
			{Name: fieldConnectTimeout, Kind: connectors.KindDuration, Default: 10 * second, Min: connectors.Bound(1), Advanced: true, Description: "How long one connection attempt may take."},
			{Name: fieldMaxReconnect, Kind: connectors.KindDuration, Default: 60 * second, Min: connectors.Bound(1), Advanced: true, Description: "The longest wait between reconnection attempts (the wait doubles from 1s)."},
			{Name: fieldQueue, Kind: connectors.KindInt, Default: 4096, Min: connectors.Bound(1), Max: connectors.Bound(1 << 20), Advanced: true,
				Description: "Messages buffered between the network and the rule evaluation. When it is full the connector stops reading and the broker holds the rest."},
			{Name: fieldTick, Kind: connectors.KindDuration, Default: second, Min: connectors.Bound(0.01), Advanced: true, Description: "How often silence and time-only transitions (for, clear_for after the last message) are checked."},
			{Name: fieldSnapshotEvery, Kind: connectors.KindDuration, Default: 5 * time.Minute, Min: connectors.Bound(0.1), Advanced: true,
				Description: "How often the whole alarm state (with every device's last values) is saved to the data directory. Changes of alarm state are journaled as they happen; the snapshot bounds the journal."},
			{Name: fieldOfflineGrace, Kind: connectors.KindDuration, Default: 60 * second, Min: connectors.Bound(0), Advanced: true,
				Description: "After the connector starts, offline rules wait this long before calling a device silent, so what the broker queued meanwhile arrives first."},
		},
		New: newConnector,
		// A clear updates, and with auto_resolve resolves, the alarm's own ticket.
		Intents: []string{draft.IntentUpdate, draft.IntentResolve},
	}
}

const (
	second = time.Second
	time0  = time.Duration(0)
)

func checkFilters(v any) error {
	l, _ := v.([]string)
	for _, f := range l {
		if err := alarm.ValidFilter(f); err != nil {
			return err
		}
	}
	return nil
}

func checkListen(v any) error {
	s, _ := v.(string)
	if _, _, err := splitHostPort(s); err != nil {
		return fmt.Errorf("%q is not host:port: %v", s, err)
	}
	return nil
}
