// Package mqtt is the MQTT telemetry connector: it subscribes to device telemetry with a
// persistent session and QoS 1, evaluates alarm rules on every message at the edge, publishes
// only the alarm transitions (raise, clear, storm) and acks each message once it has been
// evaluated and what it made is durable. It can run an embedded broker for the quickstart.
package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"gongdan/connectors"
	"gongdan/connectors/mqtt/alarm"
	"gongdan/connectors/mqtt/telemetry"
	"gongdan/devices"
	"gongdan/draft"
	"gongdan/internal/netaddr"
	"gongdan/internal/yamlkit"
)

// Envelope types the connector publishes.
const (
	// EnvelopeAlarm carries an alarm transition (payload: alarmPayload as JSON).
	EnvelopeAlarm = "mqtt.alarm"
	// EnvelopeBadPayload carries a sampled bad payload, byte for byte; it always becomes a
	// dead letter, with the decode error.
	EnvelopeBadPayload = "mqtt.bad_payload"
)

// Connector is one mqtt instance.
type Connector struct {
	name string
	env  connectors.Env
	conf *connectors.Conf

	brokers        []string
	clientID       string
	username       string
	password       yamlkit.Secret
	tlsConf        *connectors.Conf
	topics         []string
	qos            byte
	decoder        telemetry.Decoder
	ruleConfs      []*connectors.Conf
	engine         *alarm.Evaluator
	alarmConfig    alarm.Config
	engineErrs     []alarm.ConfigError
	keepAlive      time.Duration
	connectTimeout time.Duration
	maxReconnect   time.Duration
	queueSize      int
	tick           time.Duration
	snapshotEvery  time.Duration
	offlineGrace   time.Duration
	badPerMinute   int
	listen         string        // the embedded broker's address; empty: none
	brokerOpts     brokerOptions // the embedded broker's
	brokerCounters brokerCounters

	// journal holds the state of devices changed by transitions since the last snapshot;
	// seq numbers its entries.
	journal     *os.File
	journalTorn bool // the last write to it failed
	seq         uint64
	// restored is set once the saved state was read: a Run after a failure keeps the
	// engine as the last Run left it.
	restored bool
	// unsent are transitions made but not yet durable when a Run ended; the next Run
	// publishes them first, and the state file keeps them across a restart.
	unsent []alarm.Transition

	subscribed      atomic.Bool
	conn            atomic.Uint64 // counts lost connections: a message's connection (queued)
	staleSkipped    atomic.Int64
	dupSkipped      atomic.Int64 // redeliveries of messages evaluated already
	recent          *recent      // the evaluator's: the last evaluated messages
	publishFailures atomic.Int64
	bad             badCounter
	counts          struct{ raised, cleared, storms, unknown atomic.Int64 }
	devicesSeen     atomic.Int64
	lastSnapshot    atomic.Pointer[time.Time]

	mu     sync.Mutex
	client paho.Client
	broker *embeddedBroker
}

func newConnector(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
	c := &Connector{
		recent:         newRecent(),
		name:           conf.Name(),
		env:            env,
		conf:           conf,
		brokers:        conf.StringList(fieldBrokers),
		clientID:       conf.String(fieldClientID),
		username:       conf.String(fieldUsername),
		password:       conf.Secret(fieldPassword),
		tlsConf:        conf.Object(fieldTLS),
		topics:         conf.StringList(fieldTopics),
		qos:            byte(conf.Int(fieldQoS)),
		keepAlive:      conf.Duration(fieldKeepAlive),
		connectTimeout: conf.Duration(fieldConnectTimeout),
		maxReconnect:   conf.Duration(fieldMaxReconnect),
		queueSize:      conf.Int(fieldQueue),
		tick:           conf.Duration(fieldTick),
		snapshotEvery:  conf.Duration(fieldSnapshotEvery),
		offlineGrace:   conf.Duration(fieldOfflineGrace),
		badPerMinute:   conf.Int(fieldBadSamples),
		decoder:        telemetry.Decoder{Format: telemetry.Auto, DeviceID: conf.String(fieldDeviceID), Field: "value", MaxBytes: 64 << 10},
	}
	if p := conf.Object(fieldPayload); p != nil {
		c.decoder.Format = telemetry.Format(p.String(fieldFormat))
		c.decoder.Time = p.String(fieldTime)
		c.decoder.Field = p.String(fieldValueField)
		c.decoder.MaxBytes = p.Int(fieldMaxBytes)
	}
	if b := conf.Object(fieldEmbedded); b != nil {
		c.listen = b.String(fieldListen)
		c.brokerOpts = brokerOptions{
			listen: c.listen, connectorID: c.clientID, topics: c.topics, decoder: c.decoder,
			auth: authAnonymous, sharedUser: c.username, sharedPass: c.password,
			maxPacketSize: b.Int(fieldMaxPacketSize), retain: b.String(fieldRetain),
			receiveMaximum: b.Int(fieldReceiveMaximum), maxQueued: b.Int(fieldMaxQueued), maxClients: b.Int(fieldMaxClients),
			connRate: b.Float(fieldConnRate), connBurst: b.Int(fieldConnBurst),
		}
		switch {
		case b.Path(fieldCredentialsFile) != "":
			c.brokerOpts.auth = authDevices
		case c.username != "":
			c.brokerOpts.auth = authShared
		}
	}
	c.ruleConfs = conf.ObjectList(fieldRules)
	cfg := alarm.Config{MaxRaisesPerHour: conf.Int(fieldMaxRaises)}
	for _, r := range c.ruleConfs {
		cfg.Rules = append(cfg.Rules, alarm.Rule{
			ID: r.String(ruleID), When: r.String(ruleWhen), For: r.Duration(ruleFor),
			ClearWhen: r.String(ruleClearWhen), ClearFor: r.Duration(ruleClearFor),
			Repeat: r.Int(ruleRepeat), Within: r.Duration(ruleWithin),
			OfflineAfter: r.Duration(ruleOfflineAfter), MinInterval: r.Duration(ruleMinInterval),
			Models: r.StringList(ruleModels), Topics: r.StringList(ruleTopics),
			Urgency: r.String(ruleUrgency), Category: r.String(ruleCategory), Title: r.String(ruleTitle),
			AutoResolve: r.Bool(ruleAutoResolve),
		})
	}
	c.alarmConfig = cfg
	c.engine, c.engineErrs = alarm.New(cfg)
	return c, nil
}

var rulePath = regexp.MustCompile(`^rules\[(\d+)\](?:\.(\w+))?$`)

// Validate reports what the field checks cannot: rules that do not compile or contradict
// each other, a device id that cannot work, no broker, an embedded broker open to the
// network without each device's own credentials or with a credentials file that cannot be
// read, TLS files that cannot be read.
func (c *Connector) Validate() error {
	var errs []error
	for _, e := range c.engineErrs {
		if m := rulePath.FindStringSubmatch(e.Path); m != nil {
			if i, _ := strconv.Atoi(m[1]); i < len(c.ruleConfs) {
				errs = append(errs, c.ruleConfs[i].Errorf(m[2], "%s", e.Msg))
				continue
			}
		}
		errs = append(errs, c.conf.Errorf(fieldRules, "%s", e.Error()))
	}
	if err := c.decoder.Check(); err != nil {
		errs = append(errs, c.conf.Errorf(fieldDeviceID, "%v", err))
	}
	switch {
	case len(c.brokers) == 0 && c.listen == "":
		errs = append(errs, c.conf.Errorf(fieldBrokers, "required: the broker to subscribe at, like tcp://127.0.0.1:1883 (or set embedded_broker)"))
	case len(c.brokers) > 0 && c.listen != "":
		errs = append(errs, c.conf.Errorf(fieldBrokers, "with embedded_broker the connector subscribes at its own broker: drop brokers (or embedded_broker, to use that broker)"))
	}
	if c.listen != "" {
		errs = append(errs, c.validateBroker()...)
	}
	if c.tlsConf != nil {
		if _, err := c.tlsConfig(); err != nil {
			errs = append(errs, c.conf.Errorf(fieldTLS, "%v", err))
		}
		for _, b := range c.brokers {
			if u, err := url.Parse(b); err == nil && (u.Scheme == "tcp" || u.Scheme == "mqtt" || u.Scheme == "ws") {
				errs = append(errs, c.conf.Errorf(fieldTLS, "tls is set but broker %s is not encrypted: write ssl://%s (or wss://), or drop tls", u.Redacted(), u.Host))
			}
		}
	}
	if c.password != "" && c.username == "" {
		errs = append(errs, c.conf.Errorf(fieldPassword, "a password without a username is never sent: set username too"))
	}
	return errors.Join(errs...)
}

// validateBroker checks the embedded broker's settings.
func (c *Connector) validateBroker() []error {
	var errs []error
	b := c.conf.Object(fieldEmbedded)
	loopback := netaddr.IsLoopback(c.listen)
	if c.brokerOpts.auth == authAnonymous && !loopback {
		errs = append(errs, b.Errorf(fieldListen,
			"%s takes connections from the network, and the broker has no credentials: set embedded_broker.credentials_file (each device its own password), or listen on loopback only", c.listen))
	}
	// One login that every device shares tells no device from another: the ACL cannot hold a
	// device to its own topic and payload, so any device could raise or clear any other's
	// alarms. On loopback only this host's programs reach it, as with no login at all.
	switch {
	case c.brokerOpts.auth == authShared && !loopback:
		errs = append(errs, c.conf.Errorf(fieldUsername,
			"the embedded broker listens on %s, beyond loopback, and username and password are one login every device shares: any device could raise or clear "+
				"any other's alarms (and with auto_resolve resolve its ticket); give each device its own login with embedded_broker.credentials_file "+
				"and drop username and password, or listen on loopback only", c.listen))
	case c.brokerOpts.auth == authShared && c.password == "":
		errs = append(errs, c.conf.Errorf(fieldUsername,
			"the embedded broker's shared login has no password: anyone who knows the username gets in; set password (${ENV_VAR}), or give each device its own with embedded_broker.credentials_file"))
	}
	if _, err := c.brokerTLS(); err != nil {
		errs = append(errs, b.Errorf(fieldCertFile, "%v", err))
	}
	if file := b.Path(fieldCredentialsFile); file != "" {
		if c.username != "" {
			errs = append(errs, c.conf.Errorf(fieldUsername,
				"with embedded_broker.credentials_file each device logs in with its own password: drop username and password"))
		}
		if _, err := loadCredentialFile(file, c.clientID); err != nil {
			errs = append(errs, b.Errorf(fieldCredentialsFile, "%v", err))
		}
	}
	if need := c.decoder.MaxBytes + packetOverhead; c.brokerOpts.maxPacketSize < need {
		errs = append(errs, b.Errorf(fieldMaxPacketSize,
			"%d bytes leave no room for a payload of payload.max_bytes (%d) and its topic: set it to at least %d, or lower payload.max_bytes",
			c.brokerOpts.maxPacketSize, c.decoder.MaxBytes, need))
	}
	return errs
}

// brokerTLS is the embedded broker's TLS for devices; nil without cert_file.
func (c *Connector) brokerTLS() (*tls.Config, error) {
	b := c.conf.Object(fieldEmbedded)
	certFile, keyFile := b.Path(fieldCertFile), b.Path(fieldKeyFile)
	if certFile == "" && keyFile == "" {
		return nil, nil //nolint:nilnil // no TLS is not an error
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("cert_file and key_file go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("the broker's certificate: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// packetOverhead is the room a publish packet needs beyond its payload: the fixed header,
// the topic, a packet id and MQTT 5 properties.
const packetOverhead = 4096

func (c *Connector) tlsConfig() (*tls.Config, error) {
	t := c.tlsConf
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.String(fieldServerName), InsecureSkipVerify: t.Bool(fieldInsecure)} //nolint:gosec // the user's explicit choice, documented as for tests
	if f := t.Path(fieldCAFile); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", f)
		}
	}
	certFile, keyFile := t.Path(fieldCertFile), t.Path(fieldKeyFile)
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("cert_file and key_file go together")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Normalizer turns the connector's envelopes into drafts.
func (c *Connector) Normalizer() draft.Normalizer { return normalizer{} }

// Subscribed reports whether the connector is connected and subscribed, for tests and
// health checks.
func (c *Connector) Subscribed() bool { return c.subscribed.Load() }

// PublishFailures counts the publishes of transitions that failed (and were retried): each
// is a message left unacked meanwhile.
func (c *Connector) PublishFailures() int64 { return c.publishFailures.Load() }

// Run connects, subscribes and evaluates messages until ctx is done.
func (c *Connector) Run(ctx context.Context) error {
	if !c.restored {
		if err := c.restore(); err != nil {
			return err
		}
		c.restored = true
	}
	if c.listen != "" {
		b, err := c.startEmbeddedBroker()
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.broker = b
		c.mu.Unlock()
		defer c.stopBroker()
	}

	queue := make(chan queued, c.queueSize)
	stop := make(chan struct{})
	failed := make(chan error, 1)
	client, err := c.connect(ctx, queue, stop, failed)
	if err != nil || client == nil {
		return err
	}
	defer func() {
		close(stop) // a handler blocked on a full queue lets go: its message stays unacked
		c.subscribed.Store(false)
		client.Disconnect(250)
		c.mu.Lock()
		c.client = nil
		c.mu.Unlock()
	}()
	return c.evaluate(ctx, queue, failed)
}

// connect dials the broker with a persistent session and manual acks. Subscriptions are made
// (again) on every connection, so a reconnect resubscribes.
func (c *Connector) connect(ctx context.Context, queue chan<- queued, stop <-chan struct{}, failed chan<- error) (paho.Client, error) {
	handler := func(_ paho.Client, m paho.Message) {
		// paho calls this in order, from one goroutine (OrderMatters): a full queue stops the
		// reading, and the broker holds the rest.
		select {
		case queue <- queued{m, c.conn.Load()}:
		case <-stop:
		}
	}
	opts := paho.NewClientOptions().
		SetClientID(c.clientID).
		SetCleanSession(false).
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		SetKeepAlive(c.keepAlive).
		SetConnectTimeout(c.connectTimeout).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(c.maxReconnect).
		SetConnectRetry(false).
		// Messages of the session that arrive before the subscription is made again (after a
		// restart) have no route yet: they go here, not to /dev/null unacked.
		SetDefaultPublishHandler(handler).
		SetOnConnectHandler(func(cl paho.Client) {
			filters := make(map[string]byte, len(c.topics))
			for _, t := range c.topics {
				filters[t] = c.qos
			}
			// No timeout: with a persistent session the broker first delivers what it queued
			// while gongdan was away, and the SUBACK comes after all of it. The token ends
			// with an error if the connection drops meanwhile (paho reconnects).
			tok := cl.SubscribeMultiple(filters, handler)
			tok.Wait()
			err := tok.Error()
			if st, ok := tok.(*paho.SubscribeToken); ok && err == nil {
				for topic, code := range st.Result() {
					if code >= 0x80 {
						err = fmt.Errorf("the broker refused the subscription to %s (SUBACK code %#x; 0x80 in MQTT 3.1.1: not allowed for this client, or a filter it does not take)", topic, code)
					}
				}
			}
			if err != nil {
				err = fmt.Errorf("subscribe %v: %w", c.topics, err)
				c.env.Stats.Fail(c.env.Now(), err)
				if !cl.IsConnectionOpen() {
					return // lost meanwhile: the next connection subscribes again
				}
				// Refused by the broker (not allowed, a bad filter): Run fails and the manager
				// runs it again after a back-off.
				select {
				case failed <- err:
				default:
				}
				return
			}
			c.subscribed.Store(true)
			c.env.Logger.Info("mqtt: connected and subscribed", "topics", c.topics, "qos", c.qos)
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			// What is queued from this connection can no longer be acked (paho drops acks
			// after a loss) and the broker delivers it again: it is not evaluated twice.
			c.conn.Add(1)
			c.subscribed.Store(false)
			c.env.Stats.Fail(c.env.Now(), fmt.Errorf("connection lost: %w", err))
			c.env.Logger.Warn("mqtt: connection lost; reconnecting", "err", err)
		})
	brokers := c.brokers
	c.mu.Lock()
	own := c.broker
	c.mu.Unlock()
	if own != nil {
		// Its own port, with the password made at its start: the devices' credentials and
		// username/password are theirs, not the connector's.
		brokers = []string{own.connectorURL()}
		opts.SetUsername(c.clientID)
		opts.SetPassword(own.secret.Reveal())
	} else if c.username != "" {
		opts.SetUsername(c.username)
		opts.SetPassword(c.password.Reveal())
	}
	for _, b := range brokers {
		opts.AddBroker(b)
	}
	var tlsConf *tls.Config
	if c.tlsConf != nil {
		var err error
		if tlsConf, err = c.tlsConfig(); err != nil {
			return nil, err
		}
		opts.SetTLSConfig(tlsConf)
	}
	opts.SetCustomOpenConnectionFn(openConn(tlsConf))
	client := paho.NewClient(opts)
	tok := client.Connect()
	for !tok.WaitTimeout(100 * time.Millisecond) {
		if ctx.Err() != nil {
			client.Disconnect(0)
			return nil, nil //nolint:nilnil // asked to stop: Run returns nil
		}
	}
	if err := tok.Error(); err != nil {
		// The manager runs the connector again after a back-off.
		err = fmt.Errorf("connect to %v: %w", brokers, err)
		var unknownCA x509.UnknownAuthorityError
		var badName x509.HostnameError
		switch {
		case errors.As(err, &unknownCA):
			err = fmt.Errorf("%w (set tls.ca_file to the PEM of the CA that signed the broker's certificate)", err)
		case errors.As(err, &badName):
			err = fmt.Errorf("%w (set tls.server_name to the name in the broker's certificate)", err)
		}
		return nil, err
	}
	c.mu.Lock()
	c.client = client
	c.mu.Unlock()
	return client, nil
}

// evaluate is the one goroutine that owns the alarm engine: it evaluates messages in the
// order they came, ticks, and saves the state between messages, so a saved state never
// holds a transition that is not durable.
func (c *Connector) evaluate(ctx context.Context, queue <-chan queued, failed <-chan error) error {
	c.engine.HoldOffline(c.now().Add(c.offlineGrace))
	// What the last Run could not publish goes first.
	defer c.closeJournal()
	for len(c.unsent) > 0 {
		if !c.publish(ctx, c.unsent[0]) {
			return c.save()
		}
		c.unsent = c.unsent[1:]
	}
	if err := c.save(); err != nil { // unsent is durable on the bus now
		return err
	}
	var batch []paho.Message
	tick := time.NewTicker(c.tick)
	defer tick.Stop()
	snap := time.NewTicker(c.snapshotEvery)
	defer snap.Stop()
	for {
		select {
		case <-ctx.Done():
			return c.save()
		case err := <-failed:
			return errors.Join(err, c.save())
		case q := <-queue:
			// Take what else is waiting, evaluate it all, journal the state changes with one
			// sync, then ack in order: at fleet rates a sync per state change would not keep up.
			acks, ok := c.take(ctx, q, batch[:0])
		more:
			for ok && len(acks) < maxBatch {
				select {
				case q := <-queue:
					acks, ok = c.take(ctx, q, acks)
				default:
					break more
				}
			}
			if !ok {
				return c.save()
			}
			if len(acks) == 0 {
				continue // all stale: nothing changed
			}
			if !c.persist(ctx) {
				return c.save()
			}
			for _, m := range acks {
				m.Ack()
			}
			batch = acks
		case <-tick.C:
			if !c.deliver(ctx, c.engine.Tick(c.now())) || !c.persist(ctx) {
				return c.save()
			}
		case <-snap.C:
			if err := c.save(); err != nil {
				c.env.Logger.Error("mqtt: saving the alarm state failed", "err", err)
				c.env.Stats.Fail(c.env.Now(), err)
			}
		}
	}
}

// queued is a message as the network handed it over, with the connection it came on.
type queued struct {
	m    paho.Message
	conn uint64
}

// stale reports a message of a connection that was lost since: its ack would be dropped and
// the broker delivers it again on the next connection, so it is skipped, not evaluated twice.
func (c *Connector) stale(q queued) bool {
	if q.conn == c.conn.Load() {
		return false
	}
	c.staleSkipped.Add(1)
	return true
}

// take evaluates q, unless it is stale, and adds it to the batch acks; false: the context
// ended before its transitions were published.
func (c *Connector) take(ctx context.Context, q queued, acks []paho.Message) ([]paho.Message, bool) {
	if c.stale(q) {
		return acks, true
	}
	return append(acks, q.m), c.handle(ctx, q.m)
}

// maxBatch bounds the messages evaluated before their state changes are synced and they are
// acked.
const maxBatch = 256

// handle evaluates one message and publishes the transitions it made; the caller acks it
// once they are durable and persist has journaled the state. It returns false when ctx ended
// with a transition not yet durable: the message stays unacked (the broker delivers it
// again) and the transitions are kept in unsent.
func (c *Connector) handle(ctx context.Context, m paho.Message) bool {
	c.env.Stats.Received.Add(1)
	if c.recent.redelivered(m) {
		// Evaluated already; its ack was lost with a connection. Acked now, not evaluated again.
		c.dupSkipped.Add(1)
		return true
	}
	c.recent.add(m)
	now := c.now()
	msg, err := c.decoder.Decode(m.Topic(), m.Payload(), now)
	if err != nil {
		c.badPayload(ctx, m, msg.Device, err, now)
		return true
	}
	if d, ok := c.lookup(msg.Device); ok {
		msg.Model = d.Model
	}
	ts := c.engine.Evaluate(msg)
	c.devicesSeen.Store(int64(c.engine.Devices()))
	if err := c.engine.WrongType(); err != nil {
		// Read as far as it could be; the field of the wrong type counts against the device.
		c.badPayload(ctx, m, msg.Device, fmt.Errorf("%w: %v", telemetry.ErrBadValue, err), now)
	}
	return c.deliver(ctx, ts)
}

// deliver publishes transitions. It returns false when ctx ended first; what was not
// published is kept in unsent (the saved state holds it), and the caller must not ack.
func (c *Connector) deliver(ctx context.Context, ts []alarm.Transition) bool {
	for i, t := range ts {
		if !c.publish(ctx, t) {
			c.unsent = append(c.unsent, ts[i:]...)
			return false
		}
	}
	return true
}

// persist journals the devices whose alarm state changed, and syncs the journal, before
// their messages are acked. It returns false when ctx ended first.
func (c *Connector) persist(ctx context.Context) bool {
	changed := c.engine.TakeChanged()
	for {
		err := c.record(changed)
		if err == nil {
			return true
		}
		// The transitions are durable, the state that made them is not: without it a crash
		// could forget a raise and so its clear. Hold the message until the disk takes it.
		c.env.Stats.Fail(c.env.Now(), err)
		c.env.Logger.Error("mqtt: journaling the alarm state failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
}

func (c *Connector) lookup(id string) (devices.Device, bool) {
	if c.env.Devices == nil {
		return devices.Device{}, false
	}
	return c.env.Devices.Device(id)
}

// now is the clock in the configured time zone, so that times in titles and descriptions
// read as the service team's.
func (c *Connector) now() time.Time { return c.env.Now().In(c.env.Location) }

// publish makes t durable on the bus, retrying with back-off while the bus refuses, until
// ctx ends (false).
func (c *Connector) publish(ctx context.Context, t alarm.Transition) bool {
	env, err := c.envelope(t)
	if err != nil {
		// Cannot happen with the types a transition holds; losing the transition silently
		// would be worse than stopping.
		panic(fmt.Sprintf("mqtt: encode transition: %v", err))
	}
	wait := 50 * time.Millisecond
	for {
		err := c.env.Publish(ctx, env)
		if err == nil {
			c.count(t)
			return true
		}
		c.publishFailures.Add(1)
		c.env.Stats.Fail(c.env.Now(), fmt.Errorf("publish %s of %s: %w", t.Kind, t.Device, err))
		c.env.Logger.Warn("mqtt: publishing an alarm transition failed; the message stays unacked and is retried",
			"device", t.Device, "rule", t.Rule, "kind", t.Kind, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (c *Connector) count(t alarm.Transition) {
	switch t.Kind {
	case alarm.Raise:
		c.counts.raised.Add(1)
	case alarm.Clear:
		c.counts.cleared.Add(1)
	case alarm.Storm:
		c.counts.storms.Add(1)
	}
}

// Close stops the embedded broker if a Run left it running. The client is closed by Run.
func (c *Connector) Close(context.Context) error {
	c.mu.Lock()
	client := c.client
	c.client = nil
	c.mu.Unlock()
	if client != nil {
		client.Disconnect(0)
	}
	c.stopBroker()
	return nil
}

func (c *Connector) stopBroker() {
	c.mu.Lock()
	b := c.broker
	c.broker = nil
	c.mu.Unlock()
	if b != nil {
		b.close()
	}
}

func splitHostPort(s string) (string, string, error) { return net.SplitHostPort(s) }

// mustJSON encodes v, which holds only plain types.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Details is what GET /api/v1/connectors shows of the instance beyond its counters.
type Details struct {
	Subscribed      bool  `json:"subscribed"`
	Devices         int   `json:"devices"`
	Raised          int64 `json:"alarms_raised"`
	Cleared         int64 `json:"alarms_cleared"`
	Storms          int64 `json:"storms"`
	Unregistered    int64 `json:"transitions_of_unregistered_devices"`
	PublishFailures int64 `json:"publish_failures"`
	// StaleSkipped counts messages left unevaluated because their connection was lost
	// before they could be acked (the broker delivers them again).
	StaleSkipped int64 `json:"stale_skipped"`
	// RedeliveriesSkipped counts messages the broker sent again (DUP) after they had been
	// evaluated on a connection that was lost before their ack got through.
	RedeliveriesSkipped int64       `json:"redeliveries_skipped"`
	BadPayloads         int64       `json:"bad_payloads"`
	BadDevices          []BadDevice `json:"bad_payloads_by_device,omitempty"`
	LastSnapshot        *time.Time  `json:"last_snapshot,omitempty"`
	// EmbeddedBroker is set when the connector runs its own broker.
	EmbeddedBroker *BrokerDetails `json:"embedded_broker,omitempty"`
}

// BrokerDetails are the embedded broker's connected devices and what it refused, since the
// connector was built.
type BrokerDetails struct {
	Listen string `json:"listen"`
	// Auth is how devices log in: devices (credentials_file), shared (username and
	// password) or anonymous.
	Auth             string `json:"auth"`
	DevicesConnected int64  `json:"devices_connected"`
	// RefusedCredentials: a wrong username or password.
	RefusedCredentials int64 `json:"refused_credentials"`
	// RefusedTakeovers: a client using the connector's client id, or not the connector on
	// the connector's own port.
	RefusedTakeovers int64 `json:"refused_takeovers"`
	// RefusedClientIDs: a device whose client id is not its device id.
	RefusedClientIDs int64 `json:"refused_client_ids"`
	// RefusedConnectionRate: connections closed at accept, over connection_rate.
	RefusedConnectionRate int64 `json:"refused_connection_rate"`
	// RefusedMaxClients: connections refused with max_clients devices connected, or with
	// max_clients + 256 connections open (most of them not logged in yet).
	RefusedMaxClients int64 `json:"refused_max_clients"`
	// RefusedPublishes: a publish outside the device's own topic or payload.
	RefusedPublishes int64 `json:"refused_publishes"`
	RefusedRetained  int64 `json:"refused_retained"`
	// RefusedOversize: a packet over max_packet_size.
	RefusedOversize int64 `json:"refused_oversize"`
	// RefusedWills: a will outside the device's own topic.
	RefusedWills int64 `json:"refused_wills"`
}

// Details reports the instance's alarm work, with the ten devices that sent the most bad
// payloads.
func (c *Connector) Details() any {
	bad, total := c.bad.top(10)
	return Details{
		Subscribed: c.subscribed.Load(), Devices: int(c.devicesSeen.Load()),
		Raised: c.counts.raised.Load(), Cleared: c.counts.cleared.Load(), Storms: c.counts.storms.Load(),
		Unregistered: c.counts.unknown.Load(), PublishFailures: c.publishFailures.Load(), StaleSkipped: c.staleSkipped.Load(),
		RedeliveriesSkipped: c.dupSkipped.Load(),
		BadPayloads:         total, BadDevices: bad, LastSnapshot: c.lastSnapshot.Load(),
		EmbeddedBroker: c.brokerDetails(),
	}
}

func (c *Connector) brokerDetails() *BrokerDetails {
	if c.listen == "" {
		return nil
	}
	n := &c.brokerCounters
	return &BrokerDetails{
		Listen: c.listen, Auth: string(c.brokerOpts.auth), DevicesConnected: n.devicesConnected.Load(),
		RefusedCredentials: n.credentials.Load(), RefusedTakeovers: n.takeovers.Load(), RefusedClientIDs: n.clientIDs.Load(),
		RefusedConnectionRate: n.rate.Load(), RefusedMaxClients: n.full.Load(), RefusedPublishes: n.publishes.Load(),
		RefusedRetained: n.retained.Load(), RefusedOversize: n.oversize.Load(), RefusedWills: n.wills.Load(),
	}
}

var (
	alarmsDesc = prometheus.NewDesc("gongdan_mqtt_alarms_total",
		"Alarm transitions published by an mqtt connector, by kind (raise, clear, storm).", []string{"connector", "kind"}, nil)
	badPayloadsDesc = prometheus.NewDesc("gongdan_mqtt_bad_payloads_total",
		"Payloads an mqtt connector could not read (malformed, too large, NaN, a field of the wrong type).", []string{"connector"}, nil)
	devicesDesc = prometheus.NewDesc("gongdan_mqtt_devices",
		"Devices an mqtt connector has heard from.", []string{"connector"}, nil)
)

// Describe and Collect export the connector's alarm counters to Prometheus; the server
// registers every connector that is a prometheus.Collector.
func (c *Connector) Describe(ch chan<- *prometheus.Desc) {
	ch <- alarmsDesc
	ch <- badPayloadsDesc
	ch <- devicesDesc
}

func (c *Connector) Collect(ch chan<- prometheus.Metric) {
	for kind, n := range map[alarm.Kind]int64{alarm.Raise: c.counts.raised.Load(), alarm.Clear: c.counts.cleared.Load(), alarm.Storm: c.counts.storms.Load()} {
		ch <- prometheus.MustNewConstMetric(alarmsDesc, prometheus.CounterValue, float64(n), c.name, string(kind))
	}
	ch <- prometheus.MustNewConstMetric(badPayloadsDesc, prometheus.CounterValue, float64(c.bad.total()), c.name)
	ch <- prometheus.MustNewConstMetric(devicesDesc, prometheus.GaugeValue, float64(c.devicesSeen.Load()), c.name)
}
