package config_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
)

func TestConsoleDefaults(t *testing.T) {
	cfg, err := config.ParseWith("inline.yaml", []byte("server: {timezone: UTC}\n"), webhookOnly)
	require.NoError(t, err)
	assert.Equal(t, 8*time.Hour, cfg.Console.IdleTimeout.Std())
	assert.Equal(t, 7*24*time.Hour, cfg.Console.MaxAge.Std())
	assert.Nil(t, cfg.Console.WeCom, "no WeCom sign-in without the section")
}

func TestConsoleWeCom(t *testing.T) {
	t.Setenv("TEST_WECOM_SECRET", "wecom-secret-value-1234")
	cfg, err := config.ParseWith("inline.yaml", []byte(`
console:
  idle_timeout: 2h
  max_age: 1d
  wecom:
    corp_id: ww1234567890abcdef
    agent_id: 1000002
    secret: "${TEST_WECOM_SECRET}"
    users:
      - {userid: LiGong, actor: eng-li, role: engineer, name: 李工}
      - {userid: ChenDiaodu, actor: disp-chen, role: dispatcher}
`), webhookOnly)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Hour, cfg.Console.IdleTimeout.Std())
	assert.Equal(t, 24*time.Hour, cfg.Console.MaxAge.Std())
	w := cfg.Console.WeCom
	require.NotNil(t, w)
	assert.Equal(t, "ww1234567890abcdef", w.CorpID)
	assert.Equal(t, int64(1000002), w.AgentID)
	assert.Equal(t, "wecom-secret-value-1234", w.Secret.Reveal())
	assert.Equal(t, []config.ConsoleUser{
		{UserID: "LiGong", Actor: "eng-li", Role: "engineer", Name: "李工"},
		{UserID: "ChenDiaodu", Actor: "disp-chen", Role: "dispatcher"},
	}, w.Users)
	assert.NotContains(t, fmt.Sprintf("%+v %#v", cfg.Console, cfg.Console.WeCom), "wecom-secret-value", "the secret prints redacted")
}

func TestConsoleProblems(t *testing.T) {
	const app = "console:\n  wecom:\n    corp_id: ww1234567890abcdef\n    agent_id: 1000002\n    secret: s3cr3t-value-never-shown\n    users:\n"
	for _, tc := range []struct {
		name, input string
		want        []string
	}{
		{"idle longer than the age", "console: {idle_timeout: 10d, max_age: 7d}\n",
			[]string{`inline.yaml:1: console.idle_timeout: 240h0m0s: longer than max_age (168h0m0s), which ends every session first; make it shorter`}},
		{"too short an idle time", "console: {idle_timeout: 10s}\n",
			[]string{`inline.yaml:1: console.idle_timeout: 10s: want at least 1m0s (the default is 8h0m0s)`}},
		{"a session for ever", "console: {max_age: 400d}\n",
			[]string{`inline.yaml:1: console.max_age: 9600h0m0s: want 1m0s to 2160h0m0s (the default is 168h0m0s)`}},
		{"a typo", "console: {idle_timout: 1h}\n",
			[]string{`inline.yaml:1: console.idle_timout: unknown key "idle_timout"; did you mean "idle_timeout"?`}},
		{"an empty wecom", "console:\n  wecom: {}\n", []string{
			`inline.yaml:2: console.wecom.corp_id: required: the company's CorpID (企业ID), ww followed by letters and digits`,
			`inline.yaml:2: console.wecom.agent_id: required: the AgentId of the self-built app people sign in through, like 1000002`,
			`inline.yaml:2: console.wecom.secret: required: the app's Secret, like secret: "${WECOM_CONSOLE_SECRET}"`,
			`inline.yaml:2: console.wecom.users: required: list the WeCom users who may sign in, like [{userid: LiGong, actor: eng-li, role: engineer}]`,
		}},
		{"not a corp id", "console:\n  wecom: {corp_id: 12345, agent_id: 1, secret: x, users: [{userid: a, actor: b, role: qa}]}\n",
			[]string{`inline.yaml:2: console.wecom.corp_id: "12345" is not a CorpID; want ww or wx followed by letters and digits (我的企业 → 企业信息)`}},
		{"a customer", app + "      - {userid: wang, actor: cust-wang, role: customer}\n",
			[]string{`inline.yaml:7: console.wecom.users[0].role: "customer" cannot sign in to the console (customers have their tracking page; system is for connectors and scripts): one of admin, supervisor, dispatcher, engineer, agent, qa`}},
		{"the system", app + "      - {userid: bot, actor: system, role: system}\n",
			[]string{`inline.yaml:7: console.wecom.users[0].role: "system" cannot sign in to the console (customers have their tracking page; system is for connectors and scripts): one of admin, supervisor, dispatcher, engineer, agent, qa`}},
		{"an unknown role", app + "      - {userid: li, actor: eng-li, role: enginer}\n",
			[]string{`inline.yaml:7: console.wecom.users[0].role: unknown role "enginer" (one of admin, supervisor, dispatcher, engineer, agent, qa)`}},
		{"a user twice", app + "      - {userid: li, actor: eng-li, role: engineer}\n      - {userid: li, actor: eng-li2, role: engineer}\n",
			[]string{`inline.yaml:8: console.wecom.users[1].userid: "li" is users[0]'s already; each WeCom user is one actor`}},
		{"no actor, no userid, no role", app + "      - {name: 李工}\n", []string{
			`inline.yaml:7: console.wecom.users[0].userid: required: the member's userid in WeCom (通讯录 → 成员 → 账号)`,
			`inline.yaml:7: console.wecom.users[0].actor: required: the actor id the user acts as, like disp-chen`,
			`inline.yaml:7: console.wecom.users[0].role: required: one of admin, supervisor, dispatcher, engineer, agent, qa`,
		}},
		{"a blank actor", app + "      - {userid: li, actor: ' ', role: engineer}\n",
			[]string{`inline.yaml:7: console.wecom.users[0].actor: required: the actor id the user acts as, like disp-chen`}},
		{"posing as a tracking link", app + "      - {userid: li, actor: 'tracking:GD-20261208-000001', role: agent}\n",
			[]string{`inline.yaml:7: console.wecom.users[0].actor: "tracking:GD-20261208-000001": actor ids starting tracking: are the customers' tracking links; pick another id`}},
		{"an actor with a token's id and another role",
			"server:\n  tokens: [{token: abcdefghijklmnopqrstuvwxyz, actor: eng-li, role: engineer}]\n" + app + "      - {userid: li, actor: eng-li, role: admin}\n",
			[]string{`inline.yaml:9: console.wecom.users[0].role: "admin": actor "eng-li" is server.tokens[0]'s, with role engineer; one actor has one role`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseWith("inline.yaml", []byte(tc.input), webhookOnly)
			assert.Equal(t, tc.want, errorLines(t, err))
			if err != nil {
				assert.NotContains(t, err.Error(), "s3cr3t", "the secret is never in an error")
			}
		})
	}
	_, err := config.ParseWith("inline.yaml", []byte("server:\n  tokens: [{token: abcdefghijklmnopqrstuvwxyz, actor: eng-li, role: engineer}]\n"+app+"      - {userid: li, actor: eng-li, role: engineer}\n"), webhookOnly)
	assert.NoError(t, err, "a WeCom user may be a token's actor, with its role")
}
