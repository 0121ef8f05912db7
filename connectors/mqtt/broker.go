package mqtt

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"log/slog"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// embeddedBroker is the broker gongdan runs itself (mochi-mqtt), for the quickstart.
type embeddedBroker struct {
	server *mochi.Server
}

// startBroker listens on addr. With a username, every client (devices and the connector)
// must present it and password; without, any client on addr may connect.
func startBroker(addr, username, password string, log *slog.Logger) (*embeddedBroker, error) {
	s := mochi.New(&mochi.Options{Logger: log.With("component", "mqtt-broker"), InlineClient: false})
	var err error
	if username == "" {
		err = s.AddHook(new(auth.AllowHook), nil)
	} else {
		err = s.AddHook(&credentialsHook{user: []byte(username), pass: []byte(password)}, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	if err := s.AddListener(listeners.NewTCP(listeners.Config{ID: "gongdan", Address: addr})); err != nil {
		return nil, fmt.Errorf("embedded broker: listen on %s: %w", addr, err)
	}
	if err := s.Serve(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("embedded broker: listen on %s: %w", addr, err)
	}
	log.Info("mqtt: embedded broker listening", "addr", addr, "auth", username != "")
	return &embeddedBroker{server: s}, nil
}

func (b *embeddedBroker) close() { _ = b.server.Close() }

// credentialsHook lets in the clients that present the one configured username and
// password, and lets them publish and subscribe anywhere.
type credentialsHook struct {
	mochi.HookBase
	user, pass []byte
}

func (h *credentialsHook) ID() string { return "gongdan-credentials" }

func (h *credentialsHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnConnectAuthenticate, mochi.OnACLCheck}, []byte{b})
}

func (h *credentialsHook) OnConnectAuthenticate(_ *mochi.Client, pk packets.Packet) bool {
	u := subtle.ConstantTimeCompare(pk.Connect.Username, h.user)
	p := subtle.ConstantTimeCompare(pk.Connect.Password, h.pass)
	return u&p == 1
}

func (h *credentialsHook) OnACLCheck(*mochi.Client, string, bool) bool { return true }
