package config

import (
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gongdan/internal/yamlkit"
)

// Channel names, as notify.channels.order and a customer's own channels list them.
const (
	ChannelWeChat = "wechat"
	ChannelSMS    = "sms"
	ChannelEmail  = "email"
)

// Channels are the customer channels in their default order.
var Channels = []string{ChannelWeChat, ChannelSMS, ChannelEmail}

// MessageKinds are the messages a customer is sent, by the name config keys them by (WeChat
// templates, SMS templates, email subjects).
var MessageKinds = []string{"accepted", "resolved", "escalated", "remind_confirm", "followup_asked"}

// NotifyChannels are the ways a customer is reached and the order they are tried in. A
// channel that fails for good for one message (WeChat: not following, outside the 48 hours
// with no template; SMS: an invalid or unsubscribed number, a template the vendor refuses;
// email: an address the server refuses) hands the message to the next; a failure that may
// pass (a timeout, a vendor's fault) is retried on the same channel.
type NotifyChannels struct {
	// Order is the default order, tried first to last: names from wechat, sms, email. Default:
	// wechat, then sms and email when configured. A customer's own order (the draft's
	// customer.channels) comes first when it names configured channels.
	Order []string `yaml:"order"`
	// SMS sends text messages through Aliyun 短信服务 or Tencent Cloud SMS.
	SMS *NotifySMS `yaml:"sms"`
	// Email sends mail through an SMTP server.
	Email *NotifyEmail `yaml:"email"`
}

// NotifySMS is the SMS channel: one vendor, its keys, the approved signature and a template
// per kind of message. SMS in mainland China is sent only from templates the vendor approved.
type NotifySMS struct {
	// Vendor is aliyun or tencent. Required.
	Vendor string `yaml:"vendor"`
	// Aliyun holds the Aliyun keys (vendor aliyun).
	Aliyun *NotifySMSAliyun `yaml:"aliyun"`
	// Tencent holds the Tencent Cloud keys and SMS application (vendor tencent).
	Tencent *NotifySMSTencent `yaml:"tencent"`
	// SignName is the approved signature (短信签名), like 苏州服务中心. Required.
	SignName string `yaml:"sign_name"`
	// Timeout bounds one request to the vendor. Default 10s; 1s to 1m.
	Timeout Duration `yaml:"timeout"`
	// Templates are the approved templates by kind of message (accepted, resolved, escalated,
	// remind_confirm, followup_asked); a kind without one is not sent by SMS.
	Templates map[string]NotifySMSTemplate `yaml:"templates"`
}

// NotifySMSAliyun are the keys of an Aliyun RAM user allowed dysms:SendSms.
type NotifySMSAliyun struct {
	AccessKeyID     string `yaml:"access_key_id"`
	AccessKeySecret Secret `yaml:"access_key_secret"`
	// Endpoint is the API's address. Default https://dysmsapi.aliyuncs.com.
	Endpoint string `yaml:"endpoint"`
}

// NotifySMSTencent are the keys of a Tencent Cloud sub-account allowed sms:SendSms, and the
// SMS application that sends.
type NotifySMSTencent struct {
	SecretID  string `yaml:"secret_id"`
	SecretKey Secret `yaml:"secret_key"`
	// SdkAppID is the SMS application's SdkAppId (1400…). Required.
	SdkAppID string `yaml:"sdk_app_id"`
	// Region is the API region. Default ap-guangzhou.
	Region string `yaml:"region"`
	// Endpoint is the API's address. Default https://sms.tencentcloudapi.com.
	Endpoint string `yaml:"endpoint"`
}

// NotifySMSTemplate is one approved SMS template and what fills its variables. Values may use
// the placeholders of NotifyTemplate.
type NotifySMSTemplate struct {
	// Template is the template's code (Aliyun: SMS_153055065) or id (Tencent: 1110).
	Template string `yaml:"template"`
	// Params are the variables of an Aliyun template by name (${name} in the template):
	// TemplateParam.
	Params map[string]string `yaml:"params"`
	// ParamSet are the variables of a Tencent template in order ({1}, {2}, …):
	// TemplateParamSet.
	ParamSet []string `yaml:"param_set"`
}

// NotifyEmail is the email channel: an SMTP server to submit mail to.
type NotifyEmail struct {
	// SMTP is the server, host:port (465 for TLS from the start, 587 for STARTTLS). Required.
	SMTP string `yaml:"smtp"`
	// TLS is tls (TLS from the first byte), starttls (required, not opportunistic) or none
	// (only to a server on loopback). Default tls on port 465, starttls otherwise.
	TLS string `yaml:"tls"`
	// Username and Password log in (AUTH PLAIN, over TLS only); without a username no login.
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// From is the sender, like "苏州服务中心 <service@example.com>". Required.
	From string `yaml:"from"`
	// Timeout bounds one submission, from dialling to the server's answer. Default 15s.
	Timeout Duration `yaml:"timeout"`
	// Subjects are subject lines by kind of message, with the placeholders of NotifyTemplate;
	// the default names the ticket and what happened ("您的报修 GD-… 已处理完成，请确认").
	Subjects map[string]string `yaml:"subjects"`
}

// Defaults of the channels.
const (
	DefaultSMSTimeout   = 10 * time.Second
	DefaultEmailTimeout = 15 * time.Second
	DefaultAliyunSMS    = "https://dysmsapi.aliyuncs.com"
	DefaultTencentSMS   = "https://sms.tencentcloudapi.com"
	DefaultTencentSMSRe = "ap-guangzhou"
)

// Email TLS modes.
const (
	EmailTLS      = "tls"
	EmailSTARTTLS = "starttls"
	EmailNoTLS    = "none"
)

func (c *NotifyChannels) setDefaults() {
	if s := c.SMS; s != nil {
		if s.Timeout == 0 {
			s.Timeout = Duration(DefaultSMSTimeout)
		}
		if a := s.Aliyun; a != nil && a.Endpoint == "" {
			a.Endpoint = DefaultAliyunSMS
		}
		if t := s.Tencent; t != nil {
			if t.Endpoint == "" {
				t.Endpoint = DefaultTencentSMS
			}
			if t.Region == "" {
				t.Region = DefaultTencentSMSRe
			}
		}
	}
	if e := c.Email; e != nil {
		if e.Timeout == 0 {
			e.Timeout = Duration(DefaultEmailTimeout)
		}
		if e.TLS == "" {
			e.TLS = EmailSTARTTLS
			if _, port, err := net.SplitHostPort(e.SMTP); err == nil && port == "465" {
				e.TLS = EmailTLS
			}
		}
	}
	if len(c.Order) == 0 {
		c.Order = []string{ChannelWeChat}
		if c.SMS != nil {
			c.Order = append(c.Order, ChannelSMS)
		}
		if c.Email != nil {
			c.Order = append(c.Order, ChannelEmail)
		}
	}
}

// Configured reports whether the channel named can send: wechat always can try (through the
// connector a ticket came in by), sms and email when they have a section.
func (c *NotifyChannels) Configured(name string) bool {
	switch name {
	case ChannelWeChat:
		return true
	case ChannelSMS:
		return c != nil && c.SMS != nil
	case ChannelEmail:
		return c != nil && c.Email != nil
	}
	return false
}

func (c *NotifyChannels) validate() []problem {
	var ps []problem
	for i, name := range c.Order {
		key := indexPath("order", i)
		switch {
		case !slices.Contains(Channels, name):
			ps = append(ps, problemf(key, "unknown channel %q%s (one of: %s)", name, didYouMean(name, Channels), strings.Join(Channels, ", ")))
		case slices.Index(c.Order, name) < i:
			ps = append(ps, problemf(key, "%s is listed twice; each channel is tried once", name))
		case !c.Configured(name):
			ps = append(ps, problemf(key, "%s has no section: add notify.channels.%s, or leave it out of the order", name, name))
		}
	}
	if c.SMS != nil {
		ps = append(ps, under("sms", c.SMS.validate())...)
	}
	if c.Email != nil {
		ps = append(ps, under("email", c.Email.validate())...)
	}
	return ps
}

// didYouMean suggests the closest of known to s, when it is one or two edits away.
func didYouMean(s string, known []string) string {
	msg := yamlkit.UnknownKey(s, known)
	if i := strings.Index(msg, "; did you mean"); i >= 0 {
		return msg[i:]
	}
	return ""
}

// placeholder is anything in a value that looks like a placeholder.
var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// Placeholders are the placeholders a customer message's values may use.
var Placeholders = []string{"{id}", "{title}", "{engineer}", "{confirm_url}", "{tracking_url}", "{time}", "{nth}"}

// checkPlaceholders reports placeholders in v that no message fills.
func checkPlaceholders(key, v string) []problem {
	var ps []problem
	for _, p := range placeholder.FindAllString(v, -1) {
		if !slices.Contains(Placeholders, p) {
			ps = append(ps, problemf(key, "unknown placeholder %s%s (known: %s)", p, didYouMean(p, Placeholders), strings.Join(Placeholders, ", ")))
		}
	}
	return ps
}

func checkKind(key, kind string) []problem {
	if slices.Contains(MessageKinds, kind) {
		return nil
	}
	return []problem{problemf(key, "no such message%s: %s", didYouMean(kind, MessageKinds), strings.Join(MessageKinds, ", "))}
}

func (s *NotifySMS) validate() []problem {
	var ps []problem
	switch s.Vendor {
	case "aliyun":
		if s.Tencent != nil {
			ps = append(ps, problemf("tencent", "only for vendor tencent; vendor aliyun takes aliyun"))
		}
		switch a := s.Aliyun; {
		case a == nil:
			ps = append(ps, problemf("aliyun", "required with vendor aliyun: access_key_id and access_key_secret of a RAM user allowed dysms:SendSms"))
		default:
			if a.AccessKeyID == "" {
				ps = append(ps, problemf("aliyun.access_key_id", "required: the RAM user's AccessKey ID"))
			}
			if a.AccessKeySecret == "" {
				ps = append(ps, problemf("aliyun.access_key_secret", `required: the AccessKey secret, like access_key_secret: "${ALIYUN_SMS_SECRET}"`))
			}
			ps = append(ps, checkEndpoint("aliyun.endpoint", a.Endpoint)...)
		}
	case "tencent":
		if s.Aliyun != nil {
			ps = append(ps, problemf("aliyun", "only for vendor aliyun; vendor tencent takes tencent"))
		}
		switch t := s.Tencent; {
		case t == nil:
			ps = append(ps, problemf("tencent", "required with vendor tencent: secret_id, secret_key and sdk_app_id"))
		default:
			if t.SecretID == "" {
				ps = append(ps, problemf("tencent.secret_id", "required: the API key's SecretId"))
			}
			if t.SecretKey == "" {
				ps = append(ps, problemf("tencent.secret_key", `required: the SecretKey, like secret_key: "${TENCENT_SMS_KEY}"`))
			}
			if t.SdkAppID == "" {
				ps = append(ps, problemf("tencent.sdk_app_id", "required: the SMS application's SdkAppId (1400…), from the SMS console"))
			}
			ps = append(ps, checkEndpoint("tencent.endpoint", t.Endpoint)...)
		}
	case "":
		ps = append(ps, problemf("vendor", "required: aliyun or tencent"))
	default:
		ps = append(ps, problemf("vendor", "unknown SMS vendor %q%s (one of: aliyun, tencent)", s.Vendor, didYouMean(s.Vendor, []string{"aliyun", "tencent"})))
	}
	if s.SignName == "" {
		ps = append(ps, problemf("sign_name", "required: the approved signature (短信签名) messages are sent under"))
	}
	if t := s.Timeout.Std(); t < time.Second || t > time.Minute {
		ps = append(ps, problemf("timeout", "%v: want 1s to 1m (default %v)", t, DefaultSMSTimeout))
	}
	if len(s.Templates) == 0 {
		ps = append(ps, problemf("templates", "required: an approved template for each message to send by SMS (%s)", strings.Join(MessageKinds, ", ")))
	}
	for kind, tpl := range s.Templates {
		key := "templates." + kind
		ps = append(ps, checkKind(key, kind)...)
		if tpl.Template == "" {
			ps = append(ps, problemf(key+".template", "required: the approved template's code (Aliyun SMS_…) or id (Tencent)"))
		}
		switch s.Vendor {
		case "aliyun":
			if len(tpl.ParamSet) > 0 {
				ps = append(ps, problemf(key+".param_set", "is Tencent's ordered list; an Aliyun template takes its variables by name in params"))
			}
		case "tencent":
			if len(tpl.Params) > 0 {
				ps = append(ps, problemf(key+".params", "are Aliyun's variables by name; a Tencent template takes them in order in param_set"))
			}
		}
		for name, v := range tpl.Params {
			ps = append(ps, checkPlaceholders(key+".params."+name, v)...)
		}
		for i, v := range tpl.ParamSet {
			ps = append(ps, checkPlaceholders(indexPath(key+".param_set", i), v)...)
		}
	}
	return ps
}

// checkEndpoint checks an API address; it never quotes a URL that carries a password.
func checkEndpoint(key, v string) []problem {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return []problem{problemf(key, "want an https:// URL like %s", map[bool]string{true: DefaultAliyunSMS, false: DefaultTencentSMS}[strings.HasPrefix(key, "aliyun")])}
	}
	if u.Scheme == "http" && !IsLoopback(hostPort(u)) {
		return []problem{problemf(key, "http:// sends the signed request and the customer's number in the clear; use https:// (http is for a test server on loopback)")}
	}
	return nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

func (e *NotifyEmail) validate() []problem {
	var ps []problem
	host, port, err := net.SplitHostPort(e.SMTP)
	switch {
	case e.SMTP == "":
		ps = append(ps, problemf("smtp", "required: the SMTP server, host:port like smtp.exmail.qq.com:465"))
	case err != nil || host == "" || port == "":
		ps = append(ps, problemf("smtp", "%q is not host:port; write it like smtp.exmail.qq.com:465", e.SMTP))
	default:
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			ps = append(ps, problemf("smtp", "%q: the port must be a number from 1 to 65535", e.SMTP))
		}
	}
	switch e.TLS {
	case EmailTLS, EmailSTARTTLS:
	case EmailNoTLS:
		if e.SMTP != "" && !IsLoopback(e.SMTP) {
			ps = append(ps, problemf("tls", "none sends the login and the customers' mail in the clear; it is only for a relay on loopback (127.0.0.1:25); use tls or starttls"))
		}
	default:
		ps = append(ps, problemf("tls", "unknown TLS mode %q%s (one of: tls, starttls, none)", e.TLS, didYouMean(e.TLS, []string{EmailTLS, EmailSTARTTLS, EmailNoTLS})))
	}
	if e.Password != "" && e.Username == "" {
		ps = append(ps, problemf("password", "needs a username: the account to log in as"))
	}
	if e.From == "" {
		ps = append(ps, problemf("from", `required: the sender, like "苏州服务中心 <service@example.com>"`))
	} else if _, err := mail.ParseAddress(e.From); err != nil {
		ps = append(ps, problemf("from", "%q is not an address; write it like service@example.com or \"苏州服务中心 <service@example.com>\"", e.From))
	}
	if t := e.Timeout.Std(); t < time.Second || t > 5*time.Minute {
		ps = append(ps, problemf("timeout", "%v: want 1s to 5m (default %v)", t, DefaultEmailTimeout))
	}
	for kind, subject := range e.Subjects {
		key := "subjects." + kind
		ps = append(ps, checkKind(key, kind)...)
		if strings.ContainsAny(subject, "\r\n") {
			ps = append(ps, problemf(key, "a subject is one line"))
		}
		ps = append(ps, checkPlaceholders(key, subject)...)
	}
	return ps
}
