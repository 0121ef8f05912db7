package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"regexp"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gongdan bench wechat sends signed, encrypted callbacks through the whole embedded stack and
// reports every one answered and made into a ticket.
func TestBenchWeChatRuns(t *testing.T) {
	code, stdout, stderr := runCLI(t, "bench", "wechat", "--requests", "40", "--rate", "400")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, `WeChat safe-mode callbacks → ticket, embedded stack, open loop at 400 requests/s, 40 requests`)
	assert.Regexp(t, regexp.MustCompile(`all "success"es after +[0-9.]+m?s`), stdout)
	assert.Regexp(t, regexp.MustCompile(`request start → ticket committed: p50 [0-9.]+[mµ]?s`), stdout)

	code, stdout, stderr = runCLI(t, "bench", "intake", "--requests", "40", "--clients", "4")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, `4 closed-loop clients, 40 requests`)
}

func TestBenchMQTTUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--devices", "0"},
		{"--rate", "-1"},
		{"--breach-ratio", "1.5"},
		{"--qos", "3"},
		{"--topic", "factory/telemetry"},
		{"--topic", "factory/dev-{device}/telemetry"},
		{"--topic", "factory/+/{device}"},
		{"--inflight", "0"},
		{"--publisher", "fast"},
		{"--publisher", "raw", "--qos", "0"},
		{"--publisher", "raw", "--broker", "ws://127.0.0.1:1883"},
		{"--baseline", "--gongdan", "http://127.0.0.1:8080"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(append([]string{"bench", "mqtt"}, args...), &stdout, &stderr), "%v", args)
	}
	// Secrets from the environment are not flag defaults, which -h would print.
	t.Setenv("GONGDAN_BENCH_MQTT_PASSWORD", "env-pass-123456")
	t.Setenv("GONGDAN_BENCH_TOKEN", "env-token-123456")
	var help bytes.Buffer
	assert.Equal(t, 2, run([]string{"bench", "mqtt", "-h"}, &help, &help))
	assert.Contains(t, help.String(), "--breach-ratio")
	assert.NotContains(t, help.String(), "env-pass-123456")
	assert.NotContains(t, help.String(), "env-token-123456")
	t.Setenv("GONGDAN_BENCH_TOKEN", "")

	// A broker that is not there is a user error that says what to check.
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 1, run([]string{"bench", "mqtt", "--baseline", "--broker", "tcp://" + freeAddr(t), "--devices", "5", "--messages", "5"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "is the broker running")
}

// gongdan bench mqtt against an embedded broker: the text report, exit code 1 with what to
// check when the broker refuses, and the password printed in neither case.
func TestBenchMQTTRuns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	broker := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, broker.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Auth: auth.AuthRules{
		{Username: "bench", Password: "right-pass-123", Allow: true},
	}}}))
	require.NoError(t, broker.AddListener(listeners.NewNet("t", ln)))
	require.NoError(t, broker.Serve())
	t.Cleanup(func() { broker.Close() })
	url := "tcp://" + ln.Addr().String()

	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "mqtt", "--broker", url, "--baseline", "--devices", "20", "--messages", "100", "--rate", "0",
		"--username", "bench", "--password", "right-pass-123"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	out := stdout.String()
	assert.Contains(t, out, "(publisher: raw)")
	assert.Contains(t, out, "published 100 messages, 100 acknowledged")
	assert.Contains(t, out, "received 100 of 100 published (0 lost, 0 duplicates)")
	assert.NotContains(t, out+stderr.String(), "right-pass-123")

	stdout.Reset()
	stderr.Reset()
	code = run([]string{"bench", "mqtt", "--json", "--broker", url, "--devices", "5", "--messages", "5",
		"--username", "bench", "--password", "wrong-pass-456"}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "broker "+url+" refused CONNECT: not authorized (CONNACK return code 5)")
	assert.NotContains(t, stdout.String()+stderr.String(), "wrong-pass-456")
}
