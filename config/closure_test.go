package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
)

func TestClosureDefaults(t *testing.T) {
	cfg, err := config.ParseWith("inline.yaml", []byte("server: {public_url: https://gd.example.com}\n"), webhookOnly)
	require.NoError(t, err)
	assert.Equal(t, 180*24*time.Hour, cfg.Tracking.TTL.Std())
	assert.Equal(t, []time.Duration{24 * time.Hour, 48 * time.Hour}, cfg.Confirm.RemindAfter())
	assert.Equal(t, 72*time.Hour, cfg.Confirm.Timeout.Std())
	assert.False(t, cfg.Confirm.Timeout.Never)
	assert.Equal(t, 48*time.Hour, cfg.Followup.After.Std())
}

func TestClosureSettings(t *testing.T) {
	cfg, err := config.ParseWith("inline.yaml", []byte("tracking: {ttl: 30d}\nconfirm: {remind: [], timeout: never}\nfollowup: {after: 7d}\n"), webhookOnly)
	require.NoError(t, err)
	assert.Equal(t, 30*24*time.Hour, cfg.Tracking.TTL.Std())
	assert.Empty(t, cfg.Confirm.RemindAfter(), "[] sends no reminders")
	assert.True(t, cfg.Confirm.Timeout.Never)
	assert.Equal(t, 7*24*time.Hour, cfg.Followup.After.Std())
}

func TestClosureProblems(t *testing.T) {
	for _, tc := range []struct{ name, input, want string }{
		{"reminders out of order", "confirm: {remind: [48h, 24h]}\n", `inline.yaml:1: confirm.remind[1]: 24h0m0s: reminders go in order, each later than the one before (48h0m0s)`},
		{"timeout before the last reminder", "confirm: {remind: [24h, 48h], timeout: 36h}\n", `inline.yaml:1: confirm.timeout: 36h0m0s: the auto-confirm comes after the last reminder (48h0m0s)`},
		{"not a timeout", "confirm: {timeout: later}\n", `inline.yaml:1: confirm.timeout: want a duration like 30s, 5m or 7d, got "later", or never`},
		{"a public url without its scheme", "server: {public_url: gd.example.com}\n", `inline.yaml:1: server.public_url: "gd.example.com": want the address customers open, like https://gd.example.com`},
		{"plain http to the world", "server: {public_url: 'http://gd.example.com'}\n", `inline.yaml:1: server.public_url: "http://gd.example.com": customers' links carry their token; use https (http only for a loopback host)`},
		{"a follow-up after the link is gone", "tracking: {ttl: 2d}\nfollowup: {after: 3d}\n", `inline.yaml:2: followup.after: 72h0m0s: the follow-up links the tracking page, which closes tracking.ttl (48h0m0s) after the close; ask before that`},
		{"a token posing as a tracking link", "server:\n  tokens: [{token: abcdefghijklmnopqrstuvwxyz, actor: 'tracking:GD-20261208-000001', role: customer}]\n", `inline.yaml:2: server.tokens[0].actor: "tracking:GD-20261208-000001": actor ids starting tracking: are the customers' tracking links; pick another id`},
		{"a typo", "followup: {aftr: 2d}\n", `inline.yaml:1: followup.aftr: unknown key "aftr"; did you mean "after"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseWith("inline.yaml", []byte(tc.input), webhookOnly)
			assert.Equal(t, []string{tc.want}, errorLines(t, err))
		})
	}
	_, err := config.ParseWith("inline.yaml", []byte("server: {public_url: 'http://127.0.0.1:8080'}\n"), webhookOnly)
	assert.NoError(t, err, "plain http on loopback is for trying it out")
}
