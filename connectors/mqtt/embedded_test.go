package mqtt_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/mqtt"
)

// Attacks on the embedded broker, each by a paho client (or, for the oversized publish, a raw
// TCP client) against the broker the connector runs, on a free loopback port. Each attack
// succeeded against the broker as it was before it was hardened: anonymous unless one shared
// login was set, an ACL that allowed everything, no packet, retain or connection limits.

// embedded runs the plant connector with its own broker on a free port; broker holds more keys
// of embedded_broker ("credentials_file: …"), extra more keys of the connector.
type embedded struct {
	*connRun
	addr string
	logs *logLines
}

const embeddedClient = "gongdan-plant"

func startEmbedded(t *testing.T, broker []string, extra ...string) *embedded {
	t.Helper()
	addr := freePort(t)
	keys := append([]string{fmt.Sprintf("listen: %q", addr)}, broker...)
	logs := &logLines{}
	r := startRun(t, connectorConfig(embeddedClient, append([]string{"embedded_broker: {" + strings.Join(keys, ", ") + "}"}, extra...)...),
		runOptions{backoff: 100 * time.Millisecond, log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	r.waitSubscribed(t)
	return &embedded{connRun: r, addr: addr, logs: logs}
}

func (e *embedded) details(t *testing.T) mqtt.BrokerDetails {
	t.Helper()
	d := e.c.Details().(mqtt.Details).EmbeddedBroker
	require.NotNil(t, d)
	return *d
}

// attacker options: MQTT 3.1.1 only (paho would try 3.1 after a refusal: two attempts), a
// clean session (paho then fails the publish tokens of a lost connection rather than keeping
// them to send again), no reconnecting.
func attacker(addr, id string) *paho.ClientOptions {
	return paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetProtocolVersion(4).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
}

// login sets a device's username and password.
func login(o *paho.ClientOptions, user, password string) *paho.ClientOptions {
	return o.SetUsername(user).SetPassword(password)
}

// writeCredentials writes a credentials file of devices and their passwords (bcrypt).
func writeCredentials(t *testing.T, devicePasswords ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# device_id:bcrypt\n")
	for i := 0; i < len(devicePasswords); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(devicePasswords[i+1]), bcrypt.MinCost)
		require.NoError(t, err)
		fmt.Fprintf(&b, "%s:%s\n", devicePasswords[i], h)
	}
	path := filepath.Join(t.TempDir(), "devices.passwd")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// raise publishes a breach of overheat for device on its own topic.
func raise(t *testing.T, c paho.Client, device string) {
	t.Helper()
	require.NoError(t, publish(c, "factory/"+device+"/telemetry", []byte(`{"temp": 91}`)))
}

func (e *embedded) waitAlarms(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return e.envelopes() >= n }, wait, time.Millisecond,
		"%d alarms expected; last error: %s", n, e.status().LastError)
}

// The probe: a loop of clients taking the connector's client id received every alarm, and no
// ticket was made. Now every such client is refused, whatever it presents, the attempt is
// logged with its remote address, and the connector keeps its session and its telemetry: each
// alarm raised meanwhile becomes an envelope.
func TestEmbeddedBrokerRefusesTakingTheConnectorsClientID(t *testing.T) {
	e := startEmbedded(t, nil) // anonymous, on loopback: the quickstart's
	var stolen atomic.Int64
	for i := range 5 {
		o := attacker(e.addr, embeddedClient).SetCleanSession(i%2 == 0). // a persistent session would inherit the connector's
											SetDefaultPublishHandler(func(paho.Client, paho.Message) { stolen.Add(1) })
		if i == 4 {
			o = login(o, embeddedClient, "a guess")
		}
		thief, err := dial(t, o)
		if err == nil {
			thief.Subscribe("factory/+/telemetry", 1, nil).Wait()
		}
		require.ErrorIs(t, err, packets.ErrorRefusedNotAuthorised, "attempt %d took the connector's client id", i)

		dev, err := dial(t, attacker(e.addr, fmt.Sprintf("E%d", i)))
		require.NoError(t, err)
		raise(t, dev, fmt.Sprintf("E%d", i))
		e.waitAlarms(t, i+1)
		assert.True(t, e.c.Subscribed(), "the connector lost its connection")
	}
	assert.Equal(t, []string{"raise E0", "raise E1", "raise E2", "raise E3", "raise E4"}, kinds(e.alarms(t)))
	assert.Zero(t, stolen.Load())
	assert.EqualValues(t, 5, e.details(t).RefusedTakeovers)

	warnings := e.logs.find("connector's client id")
	require.Len(t, warnings, 5)
	for _, w := range warnings {
		assert.Equal(t, "WARN", w["level"])
		assert.Contains(t, w["remote"], "127.0.0.1:", "the warning names the remote address")
	}
	assert.NotContains(t, e.logs.String(), "a guess", "the password presented is not logged")
}

// One 60 MB publish cost the broker 480 MB. Now it is refused from its fixed header: the
// broker closes the connection without reading the payload, and the process's heap does not
// grow with it (measured in bytes allocated, and in heap in use after a collection). The
// connector goes on.
func TestEmbeddedBrokerRefusesAnOversizedPublishWithoutReadingIt(t *testing.T) {
	e := startEmbedded(t, nil) // default max_packet_size: 256 KiB
	const size = 60 << 20

	conn, err := net.Dial("tcp", e.addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(wait)))
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion, cp.CleanSession, cp.ClientIdentifier, cp.Keepalive = "MQTT", 4, true, "E-big", 30
	require.NoError(t, cp.Write(conn))
	ack, err := packets.ReadPacket(conn)
	require.NoError(t, err)
	require.Equal(t, byte(0), ack.(*packets.ConnackPacket).ReturnCode)

	chunk := make([]byte, 64<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	topic := "factory/E-big/telemetry"
	head := []byte{0x32} // PUBLISH, QoS 1
	head = appendVarint(head, 2+len(topic)+2+size)
	head = append(head, byte(len(topic)>>8), byte(len(topic)))
	head = append(head, topic...)
	head = append(head, 0, 1) // packet id
	written, werr := conn.Write(head)
	for werr == nil && written < size {
		var n int
		n, werr = conn.Write(chunk[:min(len(chunk), size-written)])
		written += n
	}
	if werr == nil {
		_, werr = conn.Read(make([]byte, 1)) // everything was taken: is the connection still open?
	}

	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Error(t, werr, "the broker took all 60 MB")
	assert.Less(t, written, size, "the broker read the whole payload")
	allocated := after.TotalAlloc - before.TotalAlloc
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("written before the broker hung up: %d KiB; allocated meanwhile: %d KiB; heap grown: %d KiB", written>>10, allocated>>10, grown>>10)
	assert.Less(t, allocated, uint64(16<<20), "the process allocated for the oversized packet")
	assert.Less(t, grown, int64(8<<20), "the heap kept something of the oversized packet")

	require.Eventually(t, func() bool { return e.details(t).RefusedOversize == 1 }, wait, time.Millisecond, "%s", e.logs.String())
	require.NotEmpty(t, e.logs.find("larger than embedded_broker.max_packet_size"))
	dev, err := dial(t, attacker(e.addr, "E1"))
	require.NoError(t, err)
	raise(t, dev, "E1")
	e.waitAlarms(t, 1)
	assert.Equal(t, []string{"raise E1"}, kinds(e.alarms(t)), "nothing of the oversized publish reached the connector")
	assert.Zero(t, e.c.Details().(mqtt.Details).BadPayloads)
}

func appendVarint(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// A second CONNECT is a protocol error that ends the connection; mochi would have logged that
// packet whole, password included.
func TestEmbeddedBrokerSecondConnectIsNotLogged(t *testing.T) {
	e := startEmbedded(t, nil)
	conn, err := net.Dial("tcp", e.addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(wait)))
	connect := func(password string) *packets.ConnectPacket {
		cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
		cp.ProtocolName, cp.ProtocolVersion, cp.CleanSession, cp.ClientIdentifier, cp.Keepalive = "MQTT", 4, true, "E1", 30
		if password != "" {
			cp.UsernameFlag, cp.PasswordFlag, cp.Username, cp.Password = true, true, "E1", []byte(password)
		}
		return cp
	}
	require.NoError(t, connect("").Write(conn))
	_, err = packets.ReadPacket(conn)
	require.NoError(t, err)
	require.NoError(t, connect("second-connect-secret").Write(conn))
	_, err = packets.ReadPacket(conn)
	require.Error(t, err, "the connection stayed open after a second CONNECT")
	logs := e.logs.String()
	assert.NotContains(t, logs, "second-connect-secret")
	assert.NotContains(t, logs, base64.StdEncoding.EncodeToString([]byte("second-connect-secret")), "the password is in the log, in base64")
}

// With cert_file and key_file devices connect over TLS; a device speaking plain MQTT to that
// port gets nowhere.
func TestEmbeddedBrokerOverTLS(t *testing.T) {
	pki := newTestPKI(t)
	certFile, keyFile := pki.serverFiles(t)
	e := startEmbedded(t, []string{fmt.Sprintf("cert_file: %q, key_file: %q", certFile, keyFile)})

	_, err := dial(t, attacker(e.addr, "E0"))
	require.Error(t, err, "a plain connection to the TLS port")
	dev, err := dial(t, attacker(e.addr, "E1").SetTLSConfig(pki.clientTLS()).AddBroker("ssl://"+e.addr))
	require.NoError(t, err)
	raise(t, dev, "E1")
	e.waitAlarms(t, 1)
	assert.Equal(t, []string{"raise E1"}, kinds(e.alarms(t)))
}

// With credentials_file, a device gets in only with its own password, as itself (client id =
// device id), and never as the connector.
func TestEmbeddedBrokerRefusesBadCredentials(t *testing.T) {
	creds := writeCredentials(t, "E1", "E1-secret", "E2", "E2-secret")
	e := startEmbedded(t, []string{fmt.Sprintf("credentials_file: %q", creds)})
	refused := []struct {
		name, clientID, user, password string
		want                           error
	}{
		{"no credentials", "E1", "", "", packets.ErrorRefusedNotAuthorised},
		{"a wrong password", "E1", "E1", "E1-guess", packets.ErrorRefusedNotAuthorised},
		{"another device's password", "E1", "E1", "E2-secret", packets.ErrorRefusedNotAuthorised},
		{"a device not in the file", "E3", "E3", "E1-secret", packets.ErrorRefusedNotAuthorised},
		{"its password, another device's client id", "E2", "E1", "E1-secret", packets.ErrorRefusedIDRejected},
		{"its password, the connector's client id", embeddedClient, "E1", "E1-secret", packets.ErrorRefusedNotAuthorised},
		{"the connector's username and client id", embeddedClient, embeddedClient, "", packets.ErrorRefusedNotAuthorised},
	}
	for _, tt := range refused {
		_, err := dial(t, login(attacker(e.addr, tt.clientID), tt.user, tt.password))
		assert.ErrorIs(t, err, tt.want, tt.name)
	}
	d := e.details(t)
	assert.EqualValues(t, 4, d.RefusedCredentials)
	assert.EqualValues(t, 1, d.RefusedClientIDs)
	assert.EqualValues(t, 2, d.RefusedTakeovers)
	assert.Equal(t, "devices", d.Auth)
	assert.NotContains(t, e.logs.String(), "E1-guess")
	assert.NotContains(t, e.logs.String(), "E1-secret")

	dev, err := dial(t, login(attacker(e.addr, "E1"), "E1", "E1-secret"))
	require.NoError(t, err)
	raise(t, dev, "E1")
	e.waitAlarms(t, 1)
	assert.Equal(t, []string{"raise E1"}, kinds(e.alarms(t)))
}

// A device with its own login publishes only its own telemetry: under the connector's
// filters, with its own id where the device id is read. A publish under another device's
// topic, outside the filters, or (device id in the payload) naming another device is refused
// and the device disconnected; the connector never sees it.
func TestEmbeddedBrokerDevicePublishesOnlyAsItself(t *testing.T) {
	t.Run("device id in the topic", func(t *testing.T) {
		creds := writeCredentials(t, "E1", "E1-secret", "E2", "E2-secret")
		e := startEmbedded(t, []string{fmt.Sprintf("credentials_file: %q", creds)})
		for _, topic := range []string{"factory/E2/telemetry", "factory/E1/telemetry/x", "plant/E1/telemetry", "$SYS/broker/E1"} {
			lost := make(chan error, 1)
			dev, err := dial(t, login(attacker(e.addr, "E1"), "E1", "E1-secret").
				SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err }))
			require.NoError(t, err)
			assert.Error(t, publish(dev, topic, []byte(`{"temp": 91}`)), "E1 published to %s", topic)
			select {
			case <-lost:
			case <-time.After(wait):
				t.Fatalf("E1 was not disconnected after publishing to %s", topic)
			}
		}
		assert.EqualValues(t, 4, e.details(t).RefusedPublishes)
		require.NotEmpty(t, e.logs.find("refused a publish"))

		dev, err := dial(t, login(attacker(e.addr, "E1"), "E1", "E1-secret"))
		require.NoError(t, err)
		raise(t, dev, "E1")
		e.waitAlarms(t, 1)
		assert.Equal(t, []string{"raise E1"}, kinds(e.alarms(t)), "a refused publish reached the connector")
	})
	t.Run("device id in the payload", func(t *testing.T) {
		creds := writeCredentials(t, "E1", "E1-secret")
		addr := freePort(t)
		r := startRun(t, []byte(fmt.Sprintf(`connectors:
  - name: plant
    type: mqtt
    client_id: %s
    embedded_broker: {listen: %q, credentials_file: %q}
    topics: ["factory/telemetry"]
    device_id: meta.sn
    rules:
      - {id: overheat, when: "temp > 85", urgency: orange}
`, embeddedClient, addr, creds)), runOptions{backoff: 100 * time.Millisecond})
		r.waitSubscribed(t)
		dev, err := dial(t, login(attacker(addr, "E1"), "E1", "E1-secret"))
		require.NoError(t, err)
		assert.Error(t, publish(dev, "factory/telemetry", []byte(`{"meta": {"sn": "E2"}, "temp": 91}`)), "E1 spoke for E2")

		dev, err = dial(t, login(attacker(addr, "E1"), "E1", "E1-secret"))
		require.NoError(t, err)
		require.NoError(t, publish(dev, "factory/telemetry", []byte(`{"meta": {"sn": "E1"}, "temp": 91}`)))
		require.Eventually(t, func() bool { return r.envelopes() == 1 }, wait, time.Millisecond)
		assert.Equal(t, []string{"raise E1"}, kinds(r.alarms(t)))
	})
	t.Run("a will on another device's topic", func(t *testing.T) {
		creds := writeCredentials(t, "E1", "E1-secret")
		e := startEmbedded(t, []string{fmt.Sprintf("credentials_file: %q", creds)})
		_, err := dial(t, login(attacker(e.addr, "E1"), "E1", "E1-secret").SetWill("factory/E2/telemetry", `{"temp": 91}`, 1, false))
		assert.ErrorIs(t, err, packets.ErrorRefusedNotAuthorised)
		assert.EqualValues(t, 1, e.details(t).RefusedWills)
	})
}

// Only the connector subscribes: a device's subscription to the telemetry (or to everything)
// is refused, and it receives nothing of what other devices publish.
func TestEmbeddedBrokerDevicesCannotSubscribe(t *testing.T) {
	e := startEmbedded(t, nil)
	var got atomic.Int64
	spy, err := dial(t, attacker(e.addr, "spy").SetDefaultPublishHandler(func(paho.Client, paho.Message) { got.Add(1) }))
	require.NoError(t, err)
	tok := spy.SubscribeMultiple(map[string]byte{"factory/+/telemetry": 1, "#": 0, "$SYS/#": 0}, func(paho.Client, paho.Message) { got.Add(1) })
	require.True(t, tok.WaitTimeout(wait))
	require.NoError(t, tok.Error())
	for filter, code := range tok.(*paho.SubscribeToken).Result() {
		assert.Equal(t, byte(0x80), code, "the subscription to %s was granted", filter)
	}

	dev, err := dial(t, attacker(e.addr, "E1"))
	require.NoError(t, err)
	raise(t, dev, "E1")
	e.waitAlarms(t, 1)
	// The spy is still connected and would have been sent the message with the connector.
	require.NoError(t, publish(dev, "factory/E1/telemetry", []byte(`{"temp": 20}`)))
	assert.True(t, spy.IsConnectionOpen())
	assert.Zero(t, got.Load(), "a device received telemetry")
}

// Telemetry is not retained: a retained publish is refused (the device disconnected) and
// never reaches the connector; with retain: ignore it is delivered as an ordinary message.
func TestEmbeddedBrokerRefusesRetained(t *testing.T) {
	e := startEmbedded(t, nil)
	dev, err := dial(t, attacker(e.addr, "E1"))
	require.NoError(t, err)
	tok := dev.Publish("factory/E1/telemetry", 1, true, []byte(`{"temp": 91}`))
	require.True(t, tok.WaitTimeout(wait), "no answer to the retained publish")
	require.Error(t, tok.Error(), "the retained publish was taken")
	assert.EqualValues(t, 1, e.details(t).RefusedRetained)

	other, err := dial(t, attacker(e.addr, "E2"))
	require.NoError(t, err)
	raise(t, other, "E2")
	e.waitAlarms(t, 1)
	assert.Equal(t, []string{"raise E2"}, kinds(e.alarms(t)), "the retained publish reached the connector")

	ignoring := startEmbedded(t, []string{"retain: ignore"})
	dev, err = dial(t, attacker(ignoring.addr, "E3"))
	require.NoError(t, err)
	tok = dev.Publish("factory/E3/telemetry", 1, true, []byte(`{"temp": 91}`))
	require.True(t, tok.WaitTimeout(wait))
	require.NoError(t, tok.Error())
	ignoring.waitAlarms(t, 1)
	assert.Equal(t, []string{"raise E3"}, kinds(ignoring.alarms(t)))
}

// Connections from one address beyond connection_burst (refilled at connection_rate a second)
// are closed before anything is read; the connector, on its own port, is not held to it.
func TestEmbeddedBrokerRateLimitsConnections(t *testing.T) {
	// One connection every 1000 s: nothing refills during the test.
	e := startEmbedded(t, []string{"connection_rate: 0.001", "connection_burst: 3"})
	var connected []paho.Client
	for i := range 3 {
		c, err := dial(t, attacker(e.addr, fmt.Sprintf("E%d", i)))
		require.NoError(t, err, "connection %d of the burst", i)
		connected = append(connected, c)
	}
	_, err := dial(t, attacker(e.addr, "E3"))
	require.Error(t, err, "a fourth connection within the burst")
	assert.EqualValues(t, 1, e.details(t).RefusedConnectionRate)
	require.Len(t, e.logs.find("refused connections"), 1)

	raise(t, connected[0], "E0")
	e.waitAlarms(t, 1)
	assert.True(t, e.c.Subscribed())
}

// At most max_clients devices are connected at once; the connector's place is its own.
func TestEmbeddedBrokerMaxClients(t *testing.T) {
	e := startEmbedded(t, []string{"max_clients: 2"})
	first, err := dial(t, attacker(e.addr, "E1"))
	require.NoError(t, err)
	_, err = dial(t, attacker(e.addr, "E2"))
	require.NoError(t, err)
	_, err = dial(t, attacker(e.addr, "E3"))
	require.ErrorIs(t, err, packets.ErrorRefusedServerUnavailable)
	assert.EqualValues(t, 1, e.details(t).RefusedMaxClients)
	assert.True(t, e.c.Subscribed())

	first.Disconnect(250)
	require.Eventually(t, func() bool { return e.details(t).DevicesConnected == 1 }, wait, time.Millisecond)
	third, err := dial(t, attacker(e.addr, "E3"))
	require.NoError(t, err, "a place freed is taken again")
	raise(t, third, "E3")
	e.waitAlarms(t, 1)
}

// The anonymous embedded broker is allowed on loopback only: anywhere else validate refuses it
// at the listen key, saying what to set. (It is the broker's own listener, so the connector
// checks it itself rather than through connectors.OpenIntake, which is about server.http.)
func TestEmbeddedBrokerAnonymousOnlyOnLoopback(t *testing.T) {
	creds := writeCredentials(t, "E1", "E1-secret")
	t.Setenv("TEST_MQTT_PW", "shared-secret")
	tests := []struct {
		name    string
		extra   []string
		refused bool
	}{
		{"anonymous on 127.0.0.1", []string{`embedded_broker: {listen: "127.0.0.1:11883"}`}, false},
		{"anonymous on localhost", []string{`embedded_broker: {listen: "localhost:11883"}`}, false},
		{"anonymous on ::1", []string{`embedded_broker: {listen: "[::1]:11883"}`}, false},
		{"anonymous on every address", []string{`embedded_broker: {listen: ":11883"}`}, true},
		{"anonymous on 0.0.0.0", []string{`embedded_broker: {listen: "0.0.0.0:11883"}`}, true},
		{"anonymous on a LAN address", []string{`embedded_broker: {listen: "192.168.1.20:11883"}`}, true},
		{"a credentials file on 0.0.0.0", []string{fmt.Sprintf(`embedded_broker: {listen: "0.0.0.0:11883", credentials_file: %q}`, creds)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseWith("plant.yaml", connectorConfig("gd", tt.extra...), connectors.Global.Validate)
			if !tt.refused {
				require.NoError(t, err)
				return
			}
			var errs config.Errors
			require.ErrorAs(t, err, &errs)
			require.Len(t, errs, 1, "%v", err)
			assert.Equal(t, "connectors[0].embedded_broker.listen", errs[0].Path)
			assert.Equal(t, 9, errs[0].Line, "the embedded_broker line")
			assert.Contains(t, errs[0].Msg, "takes connections from the network, and the broker has no credentials: set embedded_broker.credentials_file")
		})
	}
}

// One login that every device shares is allowed on loopback only, like none at all: with it no
// device is told apart from another, so any device on the network could raise or clear another
// device's alarm (and with auto_resolve resolve its ticket). Anywhere else validate refuses it
// at the username, saying to give each device its own with credentials_file.
func TestEmbeddedBrokerSharedLoginOnlyOnLoopback(t *testing.T) {
	t.Setenv("TEST_MQTT_PW", "shared-secret")
	shared := func(listen string) []string {
		return []string{fmt.Sprintf(`embedded_broker: {listen: %q}`, listen), "username: devices", "password: ${TEST_MQTT_PW}"}
	}
	tests := []struct {
		name    string
		extra   []string
		refused bool
	}{
		{"on 127.0.0.1", shared("127.0.0.1:11883"), false},
		{"on localhost", shared("localhost:11883"), false},
		{"on ::1", shared("[::1]:11883"), false},
		{"on every address", shared(":11883"), true},
		{"on 0.0.0.0", shared("0.0.0.0:11883"), true},
		{"on a LAN address", shared("192.168.1.20:11883"), true},
		{"without its password on 0.0.0.0", shared("0.0.0.0:11883")[:2], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseWith("plant.yaml", connectorConfig("gd", tt.extra...), connectors.Global.Validate)
			if !tt.refused {
				require.NoError(t, err)
				return
			}
			var errs config.Errors
			require.ErrorAs(t, err, &errs)
			require.Len(t, errs, 1, "%v", err)
			assert.Equal(t, "connectors[0].username", errs[0].Path)
			assert.Equal(t, 10, errs[0].Line, "the username line")
			assert.Contains(t, errs[0].Msg, "beyond loopback, and username and password are one login every device shares")
			assert.Contains(t, errs[0].Msg, "give each device its own login with embedded_broker.credentials_file")
		})
	}
}

// logLines keeps JSON log lines.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// find returns the lines whose message holds s.
func (l *logLines) find(s string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.Contains(fmt.Sprint(m["msg"]), s) {
			out = append(out, m)
		}
	}
	return out
}

var _ io.Writer = (*logLines)(nil)
