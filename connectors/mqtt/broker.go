package mqtt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/time/rate"

	"gongdan/connectors/mqtt/alarm"
	"gongdan/connectors/mqtt/telemetry"
	"gongdan/internal/yamlkit"
)

// The embedded broker (mochi-mqtt) is gongdan's own, for the quickstart and small sites. It
// trusts nobody on its network port:
//
//   - Devices log in with their own credentials (credentials_file), or with one shared
//     username and password, or — on loopback only — anonymously.
//   - A device publishes only telemetry, only under the connector's topic filters and, when
//     the device id is in the topic (device_id: topic[N]) or the payload, only as itself. It
//     may not subscribe; it keeps no session; it may not retain.
//   - The connector reaches the broker on a port of its own (loopback, an ephemeral port) with
//     a password made at start that never leaves the process. Its client id is refused on the
//     devices' port, so nobody can take its session and with it the telemetry.
//   - Packets are bounded (max_packet_size) before they are read into memory; connections per
//     remote address are rate limited before anything is read; connected devices are bounded
//     (max_clients), with the connector's place always kept.

// Listener ids; a client's listener is set by mochi from the listener that accepted it, so it
// cannot be claimed by a client.
const (
	devicesListener   = "devices"
	connectorListener = "connector"
)

// handshakeTimeout is how long a new connection may take to send its CONNECT: mochi sets no
// deadline before it, so a connection that sends nothing would hold its goroutine forever.
const handshakeTimeout = 10 * time.Second

// Authentication modes of the devices' port.
type brokerAuth string

const (
	authDevices   brokerAuth = "devices"   // credentials_file: each device its own
	authShared    brokerAuth = "shared"    // username and password, shared by every device: loopback only
	authAnonymous brokerAuth = "anonymous" // loopback only
)

// brokerOptions configure the embedded broker.
type brokerOptions struct {
	listen      string
	tls         *tls.Config // the devices' port; nil: plain TCP
	connectorID string      // the connector's client id
	topics      []string    // the connector's filters: the only topics devices may publish to
	decoder     telemetry.Decoder
	auth        brokerAuth
	credentials *credentialFile // authDevices
	sharedUser  string          // authShared
	sharedPass  yamlkit.Secret  // authShared

	maxPacketSize  int
	retain         string // retainRefuse or retainIgnore
	receiveMaximum int
	maxQueued      int
	maxClients     int
	connRate       float64 // per second and remote address
	connBurst      int

	log      *slog.Logger
	counters *brokerCounters
}

const (
	retainRefuse = "refuse"
	retainIgnore = "ignore"
)

// brokerCounters count what the embedded broker refused; they outlive a Run.
type brokerCounters struct {
	devicesConnected atomic.Int64
	credentials      atomic.Int64
	takeovers        atomic.Int64
	clientIDs        atomic.Int64
	rate             atomic.Int64
	full             atomic.Int64
	publishes        atomic.Int64
	retained         atomic.Int64
	oversize         atomic.Int64
	wills            atomic.Int64
}

// embeddedBroker is a running embedded broker.
type embeddedBroker struct {
	server    *mochi.Server
	devices   *gatedListener
	connector *gatedListener
	// secret is the connector's password at its own port: 32 random bytes, made at start.
	secret   yamlkit.Secret
	stopOnce sync.Once
}

// startBroker starts the broker: the devices' port on o.listen, the connector's on an
// ephemeral loopback port.
func startBroker(o brokerOptions) (*embeddedBroker, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = uint32(o.maxPacketSize)
	// Devices have no reason to retain telemetry: a retained message would be kept for
	// subscribers that do not exist. Refused or ignored per o.retain (OnPacketRead).
	caps.RetainAvailable = 0
	caps.ReceiveMaximum = uint16(o.receiveMaximum)
	// The QoS 1 messages kept for one client: for the connector, what waits while it is slow
	// or reconnecting (devices subscribe to nothing).
	caps.MaximumInflight = uint16(o.maxQueued)
	// A hard ceiling above the devices' bound (checked in OnConnect) that keeps a place for
	// the connector, and one for its own reconnection while the old connection is going.
	caps.MaximumClients = int64(o.maxClients) + 2
	caps.TopicAliasMaximum = 0  // a topic alias would hide the topic from the ACL until it is resolved
	caps.SharedSubAvailable = 0 // only the connector subscribes
	s := mochi.New(&mochi.Options{
		Logger:       slog.New(withoutPackets{o.log.With("component", "mqtt-broker").Handler()}),
		Capabilities: caps,
	})
	b := &embeddedBroker{server: s, secret: yamlkit.Secret(hex.EncodeToString(secret))}
	h := &brokerHook{
		o: o, server: s, secret: []byte(b.secret.Reveal()), filters: slices.Clone(o.topics), idLevel: -1,
		log: o.log, c: o.counters, refusedConnections: rate.Sometimes{Interval: time.Minute},
	}
	if n, ok := topicLevelOf(o.decoder.DeviceID); ok {
		h.idLevel = n
	}
	if err := s.AddHook(h, nil); err != nil {
		b.close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	b.devices = &gatedListener{
		id: devicesListener, address: o.listen, tls: o.tls, limiter: newIPLimiter(o.connRate, o.connBurst),
		maxConns: o.maxClients + maxHandshakes,
		onRefused: func(reason, remote string) {
			switch reason {
			case refusedRate:
				o.counters.rate.Add(1)
			case refusedConnections:
				o.counters.full.Add(1)
			}
			h.refusedConnections.Do(func() {
				o.log.Warn("mqtt: embedded broker refused connections: too many from one address or in all (see refused_connection_rate and refused_max_clients in GET /api/v1/connectors); logged once a minute",
					"reason", reason, "remote", remote)
			})
		},
		onEnded: h.ended,
	}
	if err := s.AddListener(b.devices); err != nil {
		b.close()
		return nil, fmt.Errorf("embedded broker: listen on %s: %w", o.listen, err)
	}
	// The connector's port: IPv4 loopback, or IPv6 on a host without it.
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		l := &gatedListener{id: connectorListener, address: addr, onEnded: h.ended}
		err := s.AddListener(l)
		if err == nil {
			b.connector = l
			break
		}
		if addr == "[::1]:0" {
			b.close()
			return nil, fmt.Errorf("embedded broker: the connector's own port on loopback: %w", err)
		}
	}
	if err := s.Serve(); err != nil {
		b.close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	attrs := []any{"addr", b.devices.Address(), "tls", o.tls != nil, "auth", string(o.auth), "max_packet_size", o.maxPacketSize, "max_clients", o.maxClients}
	if o.credentials != nil {
		attrs = append(attrs, "devices", o.credentials.devices())
	}
	o.log.Info("mqtt: embedded broker listening", attrs...)
	return b, nil
}

// startEmbeddedBroker starts the connector's own broker, its credentials and certificate
// read as they are now.
func (c *Connector) startEmbeddedBroker() (*embeddedBroker, error) {
	o := c.brokerOpts
	o.log, o.counters = c.env.Logger, &c.brokerCounters
	var err error
	if o.tls, err = c.brokerTLS(); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	if file := c.conf.Object(fieldEmbedded).Path(fieldCredentialsFile); file != "" {
		if o.credentials, err = loadCredentialFile(file, c.clientID); err != nil {
			return nil, fmt.Errorf("embedded broker: credentials_file: %w", err)
		}
		o.credentials.onReload = func(devices int, err error) {
			if err != nil {
				o.log.Error("mqtt: embedded broker: the credentials file changed but cannot be read; the devices read before stay in force", "err", err)
				return
			}
			o.log.Info("mqtt: embedded broker: credentials file read again", "file", file, "devices", devices)
		}
	}
	return startBroker(o)
}

// maxHandshakes bounds the connections beyond max_clients that may be open at once on the
// devices' port (being refused, or reconnecting while their old connection is going).
const maxHandshakes = 256

// connectorURL is where the connector connects.
func (b *embeddedBroker) connectorURL() string { return "tcp://" + b.connector.Address() }

// close stops the broker. The listeners are shut and every connection closed first, and
// mochi's Close runs only once no client is left: mochi v2.7.9 can deadlock when its Close
// meets a client being deleted (Clients.GetByListener read-locks twice, and Delete's write
// lock waits between the two), and devices, keeping no session, are deleted as they go.
func (b *embeddedBroker) close() {
	b.stopOnce.Do(func() {
		for _, l := range []*gatedListener{b.devices, b.connector} {
			if l != nil {
				l.shut()
			}
		}
		for _, l := range []*gatedListener{b.devices, b.connector} {
			if l != nil {
				l.wait()
			}
		}
		_ = b.server.Close()
	})
}

// brokerHook is the broker's authentication, ACL and limits.
type brokerHook struct {
	mochi.HookBase
	o       brokerOptions
	server  *mochi.Server
	secret  []byte
	filters []string // the connector's
	idLevel int      // the topic level of the device id; -1: it is in the payload
	log     *slog.Logger
	c       *brokerCounters
	devices sync.Map // net.Conn → struct{}: the connections counted in c.devicesConnected

	refusedConnections rate.Sometimes
}

func (h *brokerHook) ID() string { return "gongdan-embedded-broker" }

func (h *brokerHook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mochi.OnConnect, mochi.OnConnectAuthenticate, mochi.OnACLCheck, mochi.OnPacketRead,
		mochi.OnSessionEstablish, mochi.OnDisconnect,
	}, []byte{b})
}

// isConnector: only the connector can be on its own port (OnConnectAuthenticate sees to it).
func isConnector(cl *mochi.Client) bool { return cl.Net.Listener == connectorListener }

// device is the device a client is, or "" when the port's mode gives it no identity (shared,
// anonymous): with credentials_file a client's id is its device id, which its password proved.
func (h *brokerHook) device(cl *mochi.Client) string {
	if h.o.auth == authDevices {
		return cl.ID
	}
	return ""
}

// OnConnect runs before authentication: it refuses what no password makes right (the broker
// full, a device connecting under another's client id), and makes a device's session clean.
func (h *brokerHook) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	if isConnector(cl) {
		return nil
	}
	if h.c.devicesConnected.Load() >= int64(h.o.maxClients) {
		h.c.full.Add(1)
		h.log.Warn("mqtt: embedded broker refused a device: max_clients devices are connected", "remote", cl.Net.Remote, "max_clients", h.o.maxClients)
		return h.refuseConnect(cl, packets.ErrServerUnavailable)
	}
	if user := string(pk.Connect.Username); h.o.auth == authDevices && user != "" && cl.ID != user && cl.ID != h.o.connectorID {
		// A device connects as itself: otherwise, with its own password, it could take
		// another device's connection.
		h.c.clientIDs.Add(1)
		h.log.Warn("mqtt: embedded broker refused a device whose client id is not its device id (the username)",
			"remote", cl.Net.Remote, "client_id", clip(cl.ID), "username", clip(user))
		return h.refuseConnect(cl, packets.ErrClientIdentifierNotValid)
	}
	// A device keeps no session: it subscribes to nothing, and a session kept for every
	// client id ever seen would be memory anyone could claim. (mochi reads these at the
	// disconnect, to decide whether to forget the client.)
	cl.Properties.Clean = true
	cl.Properties.Props.SessionExpiryInterval = 0
	cl.Properties.Props.SessionExpiryIntervalFlag = false
	return nil
}

func (h *brokerHook) refuseConnect(cl *mochi.Client, code packets.Code) error {
	_ = h.server.SendConnack(cl, code, false, nil)
	return code
}

// OnConnectAuthenticate checks the login. The connector's client id is the connector's alone:
// elsewhere than on its own port, with whatever password, it is a takeover and refused.
func (h *brokerHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	user, pass := pk.Connect.Username, pk.Connect.Password
	if isConnector(cl) {
		ok := cl.ID == h.o.connectorID &&
			subtle.ConstantTimeCompare(user, []byte(h.o.connectorID))&subtle.ConstantTimeCompare(pass, h.secret) == 1
		if !ok {
			h.c.takeovers.Add(1)
			h.log.Warn("mqtt: embedded broker refused a client on the connector's own port that is not the connector",
				"remote", cl.Net.Remote, "client_id", clip(cl.ID))
		}
		return ok
	}
	if cl.ID == h.o.connectorID {
		h.c.takeovers.Add(1)
		h.log.Warn("mqtt: embedded broker refused a client using the connector's client id (a session takeover)",
			"remote", cl.Net.Remote, "client_id", clip(cl.ID), "username", clip(string(user)))
		return false
	}
	var ok bool
	switch h.o.auth {
	case authDevices:
		ok = h.o.credentials.verify(string(user), pass, time.Now())
	case authShared:
		ok = subtle.ConstantTimeCompare(user, []byte(h.o.sharedUser))&subtle.ConstantTimeCompare(pass, []byte(h.o.sharedPass.Reveal())) == 1
	case authAnonymous:
		ok = true
	}
	if !ok {
		h.c.credentials.Add(1)
		h.log.Warn("mqtt: embedded broker refused a device: wrong username or password",
			"remote", cl.Net.Remote, "client_id", clip(cl.ID), "username", clip(string(user)))
		return false
	}
	if pk.Connect.WillFlag && !h.mayPublish(h.device(cl), pk.Connect.WillTopic, pk.Connect.WillPayload) {
		// A will is a publish made later on the device's behalf: it is held to the same rule.
		h.c.wills.Add(1)
		h.log.Warn("mqtt: embedded broker refused a device whose will is not on its own topic",
			"remote", cl.Net.Remote, "client_id", clip(cl.ID), "topic", clip(pk.Connect.WillTopic))
		return false
	}
	return true
}

// OnACLCheck: the connector reads (and never publishes); devices publish where mayPublish
// lets them (the payload is checked in OnPacketRead) and read nothing.
func (h *brokerHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if isConnector(cl) {
		return !write
	}
	return write && h.mayPublishTopic(h.device(cl), topic)
}

// OnPacketRead refuses a publish that is not the device's to make, before mochi handles it:
// the device is disconnected (at QoS 0 mochi would drop it silently, and the device never
// learn). It also ends a second CONNECT here, as the protocol error it is, because mochi
// would log that packet, password and all. (mochi ignores any error of this hook but
// ErrRejectPacket, which ends the connection.)
func (h *brokerHook) OnPacketRead(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	switch pk.FixedHeader.Type {
	case packets.Connect:
		if cl.ID != "" { // set from the first CONNECT
			return pk, fmt.Errorf("%w: %s", packets.ErrRejectPacket, packets.ErrProtocolViolationSecondConnect.Reason)
		}
	case packets.Publish:
		if isConnector(cl) {
			return pk, h.refusePublish(cl, pk, packets.ErrNotAuthorized, "the connector publishes nothing")
		}
		if pk.FixedHeader.Retain {
			if h.o.retain != retainIgnore {
				h.c.retained.Add(1)
				return pk, h.refusePublish(cl, pk, packets.ErrRetainNotSupported, "retained messages are refused (embedded_broker.retain)")
			}
			pk.FixedHeader.Retain = false
		}
		if !h.mayPublish(h.device(cl), pk.TopicName, pk.Payload) {
			h.c.publishes.Add(1)
			return pk, h.refusePublish(cl, pk, packets.ErrNotAuthorized, "not the device's own telemetry topic (or its payload names another device)")
		}
	}
	return pk, nil
}

func (h *brokerHook) refusePublish(cl *mochi.Client, pk packets.Packet, code packets.Code, why string) error {
	h.log.Warn("mqtt: embedded broker refused a publish and disconnected the client",
		"reason", why, "remote", cl.Net.Remote, "client_id", clip(cl.ID), "topic", clip(pk.TopicName), "bytes", len(pk.Payload))
	if cl.Properties.ProtocolVersion == 5 {
		_ = h.server.DisconnectClient(cl, code) // MQTT 5 clients learn why
	}
	return fmt.Errorf("%w: %s", packets.ErrRejectPacket, code.Reason)
}

// OnSessionEstablish counts a device in, once it is let in and before it is told so (its
// CONNACK): the next device's OnConnect sees it. It is counted out when its connection's
// goroutine ends (ended), which happens however the session ends, even before its CONNACK.
func (h *brokerHook) OnSessionEstablish(cl *mochi.Client, _ packets.Packet) {
	if !isConnector(cl) {
		if _, counted := h.devices.LoadOrStore(cl.Net.Conn, struct{}{}); !counted {
			h.c.devicesConnected.Add(1)
		}
	}
}

func (h *brokerHook) OnDisconnect(cl *mochi.Client, err error, _ bool) {
	if errors.Is(err, packets.ErrPacketTooLarge) {
		h.oversize(cl.Net.Remote, cl.ID)
	}
}

// ended is told of every connection of a listener when its goroutine ends. A CONNECT too
// large for max_packet_size is reported here only: mochi wraps the CONNECT's read errors
// ("read connection: …"), and returns a session's as they are, after OnDisconnect has seen
// them.
func (h *brokerHook) ended(conn net.Conn, remote string, err error) {
	if _, counted := h.devices.LoadAndDelete(conn); counted {
		h.c.devicesConnected.Add(-1)
	}
	if errors.Is(err, packets.ErrPacketTooLarge) && err != packets.ErrPacketTooLarge { //nolint:errorlint // see above
		h.oversize(remote, "")
	}
}

func (h *brokerHook) oversize(remote, clientID string) {
	h.c.oversize.Add(1)
	attrs := []any{"remote", remote, "max_packet_size", h.o.maxPacketSize}
	if clientID != "" {
		attrs = append(attrs, "client_id", clip(clientID))
	}
	h.log.Warn("mqtt: embedded broker refused a packet larger than embedded_broker.max_packet_size and disconnected the client", attrs...)
}

// mayPublishTopic reports whether device ("": any, in the shared and anonymous modes) may
// publish to topic: one of the connector's filters matches it (never a $ topic), and, when the
// device id is a topic level, that level is the device.
func (h *brokerHook) mayPublishTopic(device, topic string) bool {
	if topic == "" || strings.HasPrefix(topic, "$") {
		return false
	}
	if !slices.ContainsFunc(h.filters, func(f string) bool { return alarm.MatchTopic(f, topic) }) {
		return false
	}
	if device == "" || h.idLevel < 0 {
		return true
	}
	levels := strings.Split(topic, "/")
	return h.idLevel < len(levels) && levels[h.idLevel] == device
}

// mayPublish is mayPublishTopic, and when the device id is in the payload, the payload names
// device. A payload that cannot be read passes: the connector counts it as a bad payload.
func (h *brokerHook) mayPublish(device, topic string, payload []byte) bool {
	if !h.mayPublishTopic(device, topic) {
		return false
	}
	if device == "" || h.idLevel >= 0 {
		return true
	}
	m, err := h.o.decoder.Decode(topic, payload, time.Time{})
	return err != nil || m.Device == device
}

// clip shortens what a client chose (a client id, a topic) for a log line.
func clip(s string) string {
	const n = 128
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// topicLevelOf reads device_id: topic[N].
func topicLevelOf(spec string) (int, bool) {
	inner, ok := strings.CutPrefix(spec, "topic[")
	if !ok {
		return 0, false
	}
	inner, ok = strings.CutSuffix(inner, "]")
	n, err := strconv.Atoi(inner)
	if !ok || err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// withoutPackets drops the packet mochi attaches to some of its log lines ("pk", "packet"):
// a packet may hold a password (a second CONNECT) or a payload of max_packet_size bytes.
type withoutPackets struct{ slog.Handler }

func (w withoutPackets) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "pk" && a.Key != "packet" {
			out.AddAttrs(a)
		}
		return true
	})
	return w.Handler.Handle(ctx, out)
}

func (w withoutPackets) WithAttrs(as []slog.Attr) slog.Handler {
	as = slices.DeleteFunc(slices.Clone(as), func(a slog.Attr) bool { return a.Key == "pk" || a.Key == "packet" })
	return withoutPackets{w.Handler.WithAttrs(as)}
}

func (w withoutPackets) WithGroup(name string) slog.Handler {
	return withoutPackets{w.Handler.WithGroup(name)}
}
