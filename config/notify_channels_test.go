package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
)

const channelsConfig = `connectors: [{name: gzh, type: wechat.officialaccount}]
notify:
  customers:
    remind_confirm: true
  channels:
    order: [wechat, sms, email]
    sms:
      vendor: tencent
      tencent: {secret_id: AKIDexample, secret_key: "${SMS_KEY}", sdk_app_id: "1400006666"}
      sign_name: 苏州服务中心
      templates:
        resolved: {template: "1110", param_set: ["{id}", "{tracking_url}"]}
        remind_confirm: {template: "1111", param_set: ["{id}", "{nth}", "{confirm_url}"]}
    email:
      smtp: smtp.exmail.qq.com:465
      username: service@example.com
      password: "${SMTP_PASSWORD}"
      from: "苏州服务中心 <service@example.com>"
      subjects: {followup_asked: "回访：{id} 的问题是否再次出现？"}
`

func TestNotifyChannelsParse(t *testing.T) {
	t.Setenv("SMS_KEY", "tencent-secret-key-123")
	t.Setenv("SMTP_PASSWORD", "smtp-password-456")
	cfg, err := config.Parse("inline.yaml", []byte(channelsConfig))
	require.NoError(t, err)
	ch := cfg.Notify.Channels
	require.NotNil(t, ch)
	assert.Equal(t, []string{"wechat", "sms", "email"}, ch.Order)
	assert.Equal(t, "ap-guangzhou", ch.SMS.Tencent.Region, "default region")
	assert.Equal(t, config.DefaultTencentSMS, ch.SMS.Tencent.Endpoint)
	assert.Equal(t, 10*time.Second, ch.SMS.Timeout.Std())
	assert.Equal(t, "tencent-secret-key-123", ch.SMS.Tencent.SecretKey.Reveal())
	assert.Equal(t, config.EmailTLS, ch.Email.TLS, "port 465 is TLS from the first byte")
	assert.Equal(t, 15*time.Second, ch.Email.Timeout.Std())

	// The secrets never print.
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", cfg.Notify, *ch.SMS, *ch.Email), fmt.Sprint(*ch.SMS.Tencent)} {
		assert.NotContains(t, out, "tencent-secret-key-123")
		assert.NotContains(t, out, "smtp-password-456")
	}
}

func TestNotifyChannelsDefaults(t *testing.T) {
	cfg, err := config.Parse("inline.yaml", []byte(`notify:
  customers: {}
  channels:
    email: {smtp: "mail.example.com:587", from: service@example.com}
`))
	require.NoError(t, err)
	assert.Equal(t, []string{"wechat", "email"}, cfg.Notify.Channels.Order, "wechat first, then what is configured")
	assert.Equal(t, config.EmailSTARTTLS, cfg.Notify.Channels.Email.TLS, "STARTTLS on any port but 465")
}

func TestNotifyChannelsProblemsAtTheirLines(t *testing.T) {
	cases := []struct {
		name, input string
		want        []string
	}{
		{"order: unknown, twice, unconfigured", `notify:
  customers: {}
  channels:
    order: [wechat, smss, wechat, email]
    sms: {vendor: aliyun, aliyun: {access_key_id: LTAIexample, access_key_secret: s}, sign_name: 服务, templates: {resolved: {template: SMS_1}}}
`, []string{
			`inline.yaml:4: notify.channels.order[1]: unknown channel "smss"; did you mean "sms"? (one of: wechat, sms, email)`,
			`inline.yaml:4: notify.channels.order[2]: wechat is listed twice; each channel is tried once`,
			`inline.yaml:4: notify.channels.order[3]: email has no section: add notify.channels.email, or leave it out of the order`}},
		{"sms: vendor, keys, templates", `notify:
  customers: {}
  channels:
    sms:
      vendor: tencnet
      timeout: 2m
      templates:
        resolvd: {param_set: ["{id}", "{trackingurl}"]}
`, []string{
			`inline.yaml:4: notify.channels.sms.sign_name: required: the approved signature (短信签名) messages are sent under`,
			`inline.yaml:5: notify.channels.sms.vendor: unknown SMS vendor "tencnet"; did you mean "tencent"? (one of: aliyun, tencent)`,
			`inline.yaml:6: notify.channels.sms.timeout: 2m0s: want 1s to 1m (default 10s)`,
			`inline.yaml:8: notify.channels.sms.templates.resolvd: no such message; did you mean "resolved"?: accepted, resolved, escalated, remind_confirm, followup_asked`,
			`inline.yaml:8: notify.channels.sms.templates.resolvd.template: required: the approved template's code (Aliyun SMS_…) or id (Tencent)`,
			`inline.yaml:8: notify.channels.sms.templates.resolvd.param_set[1]: unknown placeholder {trackingurl}; did you mean "{tracking_url}"? (known: {id}, {title}, {engineer}, {confirm_url}, {tracking_url}, {time}, {nth})`}},
		{"sms: a vendor's keys missing, the other's given", `notify:
  customers: {}
  channels:
    sms:
      vendor: aliyun
      aliyun: {endpoint: "http://sms.example.com"}
      tencent: {secret_id: x}
      sign_name: 服务
      templates: {resolved: {template: SMS_1, param_set: ["{id}"]}}
`, []string{
			`inline.yaml:6: notify.channels.sms.aliyun.access_key_id: required: the RAM user's AccessKey ID`,
			`inline.yaml:6: notify.channels.sms.aliyun.access_key_secret: required: the AccessKey secret, like access_key_secret: "${ALIYUN_SMS_SECRET}"`,
			`inline.yaml:6: notify.channels.sms.aliyun.endpoint: http:// sends the signed request and the customer's number in the clear; use https:// (http is for a test server on loopback)`,
			`inline.yaml:7: notify.channels.sms.tencent: only for vendor tencent; vendor aliyun takes aliyun`,
			`inline.yaml:9: notify.channels.sms.templates.resolved.param_set: is Tencent's ordered list; an Aliyun template takes its variables by name in params`}},
		{"email: address, TLS, login", `notify:
  customers: {}
  channels:
    email:
      smtp: mail.example.com
      tls: startls
      password: "p"
      from: "not an address"
      subjects: {resolved: "{id}\n done"}
`, []string{
			`inline.yaml:5: notify.channels.email.smtp: "mail.example.com" is not host:port; write it like smtp.exmail.qq.com:465`,
			`inline.yaml:6: notify.channels.email.tls: unknown TLS mode "startls"; did you mean "starttls"? (one of: tls, starttls, none)`,
			`inline.yaml:7: notify.channels.email.password: needs a username: the account to log in as`,
			`inline.yaml:8: notify.channels.email.from: "not an address" is not an address; write it like service@example.com or "苏州服务中心 <service@example.com>"`,
			`inline.yaml:9: notify.channels.email.subjects.resolved: a subject is one line`}},
		{"email in the clear beyond loopback", `notify:
  customers: {}
  channels:
    email: {smtp: "mail.example.com:25", tls: none, from: a@example.com}
`, []string{
			`inline.yaml:4: notify.channels.email.tls: none sends the login and the customers' mail in the clear; it is only for a relay on loopback (127.0.0.1:25); use tls or starttls`}},
		{"channels without customers", `notify:
  channels:
    emial: {}
`, []string{
			`inline.yaml:2: notify.channels: reach customers, and there is no notify.customers section saying what they are told; add customers: {} for every message`,
			`inline.yaml:3: notify.channels.emial: unknown key "emial"; did you mean "email"?`}},
		{"a WeChat template for a new message, misspelt placeholder", `connectors: [{name: gzh, type: wechat.officialaccount}]
notify:
  customers:
    templates:
      followup_asked: {template_id: T1, url: "{tracking_url}", data: {first: "{titel}"}}
`, []string{
			`inline.yaml:5: notify.customers.templates.followup_asked.data.first: unknown placeholder {titel}; did you mean "{title}"? (known: {id}, {title}, {engineer}, {confirm_url}, {tracking_url}, {time}, {nth})`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse("inline.yaml", []byte(c.input))
			require.Error(t, err)
			assert.Equal(t, c.want, strings.Split(err.Error(), "\n"))
		})
	}
}
