package mqtt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/mqtt"
	"gongdan/connectors/mqtt/alarm"
	"gongdan/draft"
)

// A device publishing a breach over TLS to a broker whose certificate ca_file vouches for
// raises an alarm.
func TestTLSWithCAFile(t *testing.T) {
	const client = "gongdan-tls"
	pki := newTestPKI(t)
	b := serveBroker(t, freePort(t), pki.serverTLS(), client)
	r := startConnector(t, connectorConfig(client,
		fmt.Sprintf(`brokers: ["ssl://%s"]`, b.Addr),
		fmt.Sprintf(`tls: {ca_file: %q}`, pki.caFile(t))))
	r.waitSubscribed(t)

	dev, err := dial(t, deviceOptions("ssl://"+b.Addr, "tls-device").SetTLSConfig(pki.clientTLS()))
	require.NoError(t, err)
	const topic, breach = "factory/E1/telemetry", `{"temp": 91}`
	require.NoError(t, publish(dev, topic, []byte(breach)))
	require.Eventually(t, func() bool { return b.Acked(topic, []byte(breach)) == 1 }, wait, time.Millisecond, "the breach was not acked")
	assert.Equal(t, []string{"raise E1"}, kinds(r.alarms(t)))
}

// Without ca_file the broker's certificate is checked against the system roots, which do not
// hold the test CA: the connector never connects, says why in its stats, the manager backs
// off, and a breach published meanwhile reaches nothing.
func TestTLSWithoutCAFileFailsOnTheCertificate(t *testing.T) {
	const client = "gongdan-tls-system-roots"
	pki := newTestPKI(t)
	b := serveBroker(t, freePort(t), pki.serverTLS(), client)
	broker := "ssl://" + b.Addr
	r := startConnector(t, connectorConfig(client, fmt.Sprintf(`brokers: [%q]`, broker), `tls: {}`))

	require.Eventually(t, func() bool {
		st := r.status()
		return st.State == connectors.StateBackoff && st.LastError != ""
	}, wait, time.Millisecond, "Run did not fail")
	st := r.status()
	assert.Contains(t, st.LastError, "certificate signed by unknown authority")
	assert.Contains(t, st.LastError, broker, "the error names the broker")
	assert.Contains(t, st.LastError, "set tls.ca_file", "the error says what to do")
	failedAt := *st.LastErrorAt

	dev, err := dial(t, deviceOptions(broker, "tls-device").SetTLSConfig(pki.clientTLS()))
	require.NoError(t, err, "the device, which trusts the CA, connects")
	require.NoError(t, publish(dev, "factory/E1/telemetry", []byte(`{"temp": 91}`)))
	// A later attempt fails as well: the connector was still not connected after the breach.
	require.Eventually(t, func() bool {
		st := r.status()
		return st.LastErrorAt != nil && st.LastErrorAt.After(failedAt)
	}, wait, time.Millisecond, "the manager did not run the connector again")
	assert.Contains(t, r.status().LastError, "certificate signed by unknown authority")
	assert.False(t, r.c.Subscribed())
	_, known := b.server.Clients.Get(client)
	assert.False(t, known, "the handshake failed before any CONNECT reached the broker")
	assert.Zero(t, r.inst.Stats.Received.Load(), "no message was processed")
	assert.Zero(t, r.envelopes(), "nothing was published")
}

// TLS files that cannot be read are config errors at the tls key, before anything runs.
func TestValidateTLSFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600))
	tests := []struct {
		name, caFile string
		msg          []string
	}{
		{"a ca_file that does not exist", filepath.Join(dir, "missing.pem"), []string{"ca_file", "missing.pem", "no such file"}},
		{"a ca_file without a PEM certificate", notPEM, []string{"ca_file", "no PEM certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The tls key is on line 10: connectorConfig writes 8 lines, then brokers.
			_, err := config.ParseWith("plant.yaml", connectorConfig("gd",
				`brokers: ["ssl://127.0.0.1:8883"]`,
				fmt.Sprintf(`tls: {ca_file: %q}`, tt.caFile)), connectors.Global.Validate)
			var errs config.Errors
			require.ErrorAs(t, err, &errs)
			require.Len(t, errs, 1, "%v", err)
			assert.Equal(t, "connectors[0].tls", errs[0].Path)
			assert.Equal(t, 10, errs[0].Line)
			for _, m := range tt.msg {
				assert.Contains(t, errs[0].Msg, m)
			}
		})
	}
}

// When the broker goes away and a new one (without the old sessions) comes up at the same
// address, paho reconnects and the connector subscribes again within the same Run: a breach
// published at the new broker raises.
func TestReconnectsAndSubscribesAgain(t *testing.T) {
	const client = "gongdan-reconnect"
	addr := freePort(t)
	first := serveBroker(t, addr, nil, client)
	r := startConnector(t, connectorConfig(client,
		fmt.Sprintf(`brokers: ["tcp://%s"]`, addr),
		"max_reconnect_interval: 1s",
		"connect_timeout: 2s"))
	r.waitSubscribed(t)

	dev, err := dial(t, deviceOptions("tcp://"+addr, "reconnect-device"))
	require.NoError(t, err)
	require.NoError(t, publish(dev, "factory/E1/telemetry", []byte(`{"temp": 91}`)))
	require.Eventually(t, func() bool { return r.envelopes() == 1 }, wait, time.Millisecond, "no raise at the first broker")
	dev.Disconnect(250)

	first.stop()
	require.Eventually(t, func() bool { return !r.c.Subscribed() }, wait, time.Millisecond, "the lost connection went unnoticed")

	second := serveBroker(t, addr, nil, client)
	r.waitSubscribed(t)
	_, known := second.server.Clients.Get(client)
	require.True(t, known, "subscribed at the second broker")
	dev, err = dial(t, deviceOptions("tcp://"+addr, "reconnect-device"))
	require.NoError(t, err)
	const topic, breach = "factory/E2/telemetry", `{"temp": 92}`
	require.NoError(t, publish(dev, topic, []byte(breach)))
	require.Eventually(t, func() bool { return second.Acked(topic, []byte(breach)) == 1 }, wait, time.Millisecond, "the breach at the second broker was not acked")
	assert.Equal(t, []string{"raise E1", "raise E2"}, kinds(r.alarms(t)))
	st := r.status()
	assert.Equal(t, connectors.StateRunning, st.State)
	assert.True(t, strings.HasPrefix(st.LastError, "connection lost"),
		"paho reconnected within the Run (a failed Run would have left its own error): %q", st.LastError)
	r.close(t) // before the second broker stops, so that the connector does not chase it
}

// The embedded broker with a username takes devices that present it and the password (from
// the environment), one login all devices share; a wrong password is refused at CONNECT, and
// so is the shared login with the connector's client id (the connector has a login of its
// own). Closed, the manager frees the port.
func TestEmbeddedBrokerWithCredentials(t *testing.T) {
	const client, password = "gongdan-embedded", "s3cret-embedded"
	t.Setenv("TEST_MQTT_PW", password)
	addr := freePort(t)
	r := startConnector(t, connectorConfig(client,
		fmt.Sprintf(`embedded_broker: {listen: %q}`, addr),
		"username: gongdan",
		"password: ${TEST_MQTT_PW}"))
	r.waitSubscribed(t)

	refused := []struct{ name, client, user, pass string }{
		{"a wrong password", "intruder", "gongdan", "wrong"},
		{"no credentials", "intruder", "", ""},
		{"the shared login as the connector", client, "gongdan", password},
	}
	for _, tt := range refused {
		_, err := dial(t, deviceOptions("tcp://"+addr, tt.client).SetUsername(tt.user).SetPassword(tt.pass))
		assert.ErrorIs(t, err, packets.ErrorRefusedNotAuthorised, tt.name)
	}
	assert.True(t, r.c.Subscribed())

	dev, err := dial(t, deviceOptions("tcp://"+addr, "embedded-device").SetUsername("gongdan").SetPassword(password))
	require.NoError(t, err)
	require.NoError(t, publish(dev, "factory/E1/telemetry", []byte(`{"temp": 91}`)))
	require.Eventually(t, func() bool { return r.envelopes() == 1 }, wait, time.Millisecond, "no raise")
	assert.Equal(t, []string{"raise E1"}, kinds(r.alarms(t)))
	dev.Disconnect(250)

	r.close(t)
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err, "the embedded broker still holds %s", addr)
	require.NoError(t, l.Close())
}

// connectorConfig is a config with one mqtt connector, plant, raising overheat at temp > 85
// on factory/<device>/telemetry; extra are more of its keys, one a line.
func connectorConfig(client string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `connectors:
  - name: plant
    type: mqtt
    client_id: %s
    topics: ["factory/+/telemetry"]
    device_id: "topic[1]"
    rules:
      - {id: overheat, when: "temp > 85", urgency: orange}
`, client)
	for _, e := range extra {
		b.WriteString("    " + e + "\n")
	}
	return []byte(b.String())
}

// connRun is a manager running the connector, its publishes captured. While failing is set,
// every publish is refused (and recorded in attempts).
type connRun struct {
	m    *connectors.Manager
	inst *connectors.Instance
	c    *mqtt.Connector

	failing  atomic.Bool
	mu       sync.Mutex
	envs     []draft.Envelope // published
	attempts []draft.Envelope // refused
}

// runOptions: the state directory (none: no state kept), whether publishes start refused,
// the back-off before a failed Run runs again (default the manager's), and the log (default
// none).
type runOptions struct {
	stateDir string
	failing  bool
	backoff  time.Duration
	log      *slog.Logger
}

// startConnector runs the connector of yaml; a failed Run is run again after 100ms.
func startConnector(t *testing.T, yaml []byte) *connRun {
	t.Helper()
	return startRun(t, yaml, runOptions{backoff: 100 * time.Millisecond})
}

// startRun builds and starts a manager for the connector of yaml. It is closed at cleanup
// (Close is idempotent, so a test may close it earlier).
func startRun(t *testing.T, yaml []byte, o runOptions) *connRun {
	t.Helper()
	cfg, err := config.ParseWith("plant.yaml", yaml, connectors.Global.Validate)
	require.NoError(t, err)
	r := &connRun{}
	r.failing.Store(o.failing)
	r.m, err = connectors.NewManager(cfg.File, cfg.Connectors, connectors.ManagerOptions{Location: cfg.Server.Location, Enricher: cfg.Normalize.Enricher, StateDir: o.stateDir, Backoff: o.backoff, Logger: o.log, Publish: func(_ context.Context, e draft.Envelope) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.failing.Load() {
			r.attempts = append(r.attempts, e)
			return errors.New("the bus is down (test)")
		}
		r.envs = append(r.envs, e)
		return nil
	}})
	require.NoError(t, err)
	r.inst = r.m.Instances()[0]
	r.c = r.inst.Connector.(*mqtt.Connector)
	r.m.Start(context.Background())
	t.Cleanup(func() { r.close(t) })
	return r
}

// close closes the manager; a second close does nothing.
func (r *connRun) close(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, r.m.Close(ctx))
}

func (r *connRun) waitSubscribed(t *testing.T) {
	t.Helper()
	require.Eventually(t, r.c.Subscribed, wait, time.Millisecond, "the connector did not subscribe; last error: %s", r.status().LastError)
}

func (r *connRun) status() connectors.Status { return r.inst.Stats.Snapshot(r.inst.Name, r.inst.Type) }

// envelopes counts what was published; safe to poll from any goroutine.
func (r *connRun) envelopes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.envs)
}

// alarms returns the alarm transitions published so far, in order.
func (r *connRun) alarms(t *testing.T) []alarm.Transition {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	return transitionsOf(t, r.envs)
}

// stoppableBroker is a testBroker the test may stop before its end.
type stoppableBroker struct {
	*testBroker
	once sync.Once
}

// stop closes the broker (once: mochi's Close panics the second time).
func (b *stoppableBroker) stop() { b.once.Do(func() { _ = b.server.Close() }) }

// serveBroker starts a mochi broker on addr, over TLS when tlsConf is set, that watches what
// client acks. It is stopped at cleanup.
func serveBroker(t *testing.T, addr string, tlsConf *tls.Config, client string) *stoppableBroker {
	t.Helper()
	s := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, s.AddHook(new(auth.AllowHook), nil))
	h := &ackHook{client: client, inflight: map[uint16]string{}, acked: map[string]int{}, delivered: map[string]int{}}
	h.cond = sync.NewCond(&h.mu)
	require.NoError(t, s.AddHook(h, nil))
	require.NoError(t, s.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr, TLSConfig: tlsConf})))
	require.NoError(t, s.Serve())
	b := &stoppableBroker{testBroker: &testBroker{Addr: addr, server: s, hook: h}}
	t.Cleanup(b.stop)
	return b
}

// deviceOptions are a device's: QoS 1 publishes, no reconnecting, and a persistent session.
// The session is persistent so that no disconnect makes mochi delete the client: v2.7.9 can
// deadlock when Close meets such a deletion (see deviceClient in state_test.go).
func deviceOptions(broker, id string) *paho.ClientOptions {
	return paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
}

// dial connects a device and returns the CONNECT's error; connected, the device is
// disconnected at cleanup.
func dial(t *testing.T, o *paho.ClientOptions) (paho.Client, error) {
	t.Helper()
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		return nil, fmt.Errorf("device %s: no CONNACK", o.ClientID)
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

// testPKI is a CA and a certificate it signed for a broker on 127.0.0.1.
type testPKI struct {
	caPEM  []byte
	pool   *x509.CertPool
	server tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gongdan test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	require.NoError(t, err)

	p := &testPKI{
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:   x509.NewCertPool(),
		server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
	p.pool.AddCert(ca)
	return p
}

func (p *testPKI) serverTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{p.server}}
}

func (p *testPKI) clientTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: p.pool}
}

// serverFiles writes the broker's certificate and key to PEM files of their own.
func (p *testPKI) serverFiles(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "broker.crt"), filepath.Join(dir, "broker.key")
	der, err := x509.MarshalPKCS8PrivateKey(p.server.PrivateKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.server.Certificate[0]}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	return certFile, keyFile
}

// caFile writes the CA's PEM to a file of its own.
func (p *testPKI) caFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(f, p.caPEM, 0o600))
	return f
}
