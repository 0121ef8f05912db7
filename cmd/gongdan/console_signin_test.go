package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/core/ticket"
	"gongdan/web/console"
)

func TestConsoleSignInFromTheConfig(t *testing.T) {
	t.Setenv("TEST_CONSOLE_SECRET", "the-app-secret")
	cfg, err := config.Parse("inline.yaml", []byte(`
server: {public_url: https://gd.example.com}
console:
  idle_timeout: 1h
  wecom:
    corp_id: ww0123456789abcdef
    agent_id: 1000002
    secret: "${TEST_CONSOLE_SECRET}"
    users:
      - {userid: LiGong, actor: eng-li, role: engineer, name: 李工}
      - {userid: ChenDiaodu, actor: disp-chen, role: dispatcher}
`))
	require.NoError(t, err)
	var o console.Options
	consoleSignIn(cfg, &o)
	assert.Equal(t, time.Hour, o.IdleTimeout)
	assert.Equal(t, 7*24*time.Hour, o.MaxAge)
	assert.Equal(t, "https://gd.example.com", o.PublicURL)
	require.NotNil(t, o.WeCom)
	assert.Equal(t, "ww0123456789abcdef", o.WeCom.CorpID)
	assert.Equal(t, int64(1000002), o.WeCom.AgentID)
	assert.Equal(t, "the-app-secret", o.WeCom.Secret)
	assert.Equal(t, map[string]ticket.Actor{
		"LiGong":     {ID: "eng-li", Role: ticket.RoleEngineer},
		"ChenDiaodu": {ID: "disp-chen", Role: ticket.RoleDispatcher},
	}, o.WeCom.Users)
	assert.Equal(t, map[string]string{"LiGong": "李工"}, o.WeCom.Names)

	cfg, err = config.Parse("inline.yaml", []byte("server: {timezone: UTC}\n"))
	require.NoError(t, err)
	o = console.Options{}
	consoleSignIn(cfg, &o)
	assert.Nil(t, o.WeCom, "tokens only")
	assert.Equal(t, 8*time.Hour, o.IdleTimeout)
}
