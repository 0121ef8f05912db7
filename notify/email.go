package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"regexp"
	"strings"
	"time"

	"gongdan/config"
	"gongdan/core/ticket"
)

// Email is submitted to the configured SMTP server with net/smtp: TLS from the first byte
// (port 465) or STARTTLS that is required, not opportunistic (a server that does not offer it
// is refused rather than sent the password in the clear), AUTH PLAIN over TLS only. The
// message is plain text in UTF-8, base64 in transfer, its subject and the sender's name as
// RFC 2047 encoded words, so Chinese arrives intact in every client.

// defaultSubjects name the ticket and what happened; notify.channels.email.subjects may
// override them.
var defaultSubjects = map[string]string{
	"accepted":       "您的报修 {id} 已受理",
	"resolved":       "您的报修 {id} 已处理完成，请确认",
	"escalated":      "您的报修 {id} 已升级加急处理",
	"remind_confirm": "提醒：请确认您的报修 {id} 是否已解决",
	"followup_asked": "回访：您的报修 {id} 的问题是否再次出现？",
}

// emailChannel tells customers by email.
type emailChannel struct {
	cfg  *config.NotifyEmail
	from *mail.Address
	tls  *tls.Config
	now  func() time.Time
}

func newEmailChannel(cfg *config.NotifyEmail, base *tls.Config, now func() time.Time) *emailChannel {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil { // config checked it; keep the text as it is
		from = &mail.Address{Address: cfg.From}
	}
	host, _, _ := net.SplitHostPort(cfg.SMTP)
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		tc = base.Clone()
	}
	tc.ServerName = host
	return &emailChannel{cfg: cfg, from: from, tls: tc, now: now}
}

func (emailChannel) name() string { return config.ChannelEmail }

func (e *emailChannel) send(ctx context.Context, t ticket.Ticket, m message, key string) (string, error) {
	raw := strings.TrimSpace(t.Customer.Email)
	if raw == "" {
		return "", unreachable{"no email address"}
	}
	to, err := mail.ParseAddress(raw)
	if err != nil || strings.ContainsAny(to.Address, "\r\n<>") {
		return maskEmail(raw), refused("%s is not an email address", maskEmail(raw))
	}
	masked := maskEmail(to.Address)
	subject := e.cfg.Subjects[m.kind]
	if subject == "" {
		subject = defaultSubjects[m.kind]
	}
	subject = strings.Join(strings.Fields(m.fill(subject)), " ") // one line, whatever the title holds
	msg := composeEmail(e.from, to, subject, m.text, messageID(key, e.from.Address), e.now())
	return masked, e.submit(ctx, to.Address, msg)
}

// submit hands msg for rcpt to the server, within the configured timeout.
func (e *emailChannel) submit(ctx context.Context, rcpt string, msg []byte) (err error) {
	timeout := e.cfg.Timeout.Std()
	if timeout <= 0 {
		timeout = config.DefaultEmailTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	dialer := &net.Dialer{Timeout: timeout}
	var conn net.Conn
	if e.cfg.TLS == config.EmailTLS {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: e.tls}).DialContext(ctx, "tcp", e.cfg.SMTP)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", e.cfg.SMTP)
	}
	if err != nil {
		return smtpError("connecting to "+e.cfg.SMTP, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	host, _, _ := net.SplitHostPort(e.cfg.SMTP)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return smtpError("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(helloName(e.from.Address)); err != nil {
		return smtpError("EHLO", err)
	}
	if e.cfg.TLS == config.EmailSTARTTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return refusedOps("%s does not offer STARTTLS; the login and the mail would go in the clear (notify.channels.email.tls)", e.cfg.SMTP)
		}
		if err := c.StartTLS(e.tls); err != nil {
			return smtpError("STARTTLS", err)
		}
	}
	if e.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.cfg.Username, e.cfg.Password.Reveal(), host)); err != nil {
			return smtpError("logging in as "+e.cfg.Username, err)
		}
	}
	if err := c.Mail(e.from.Address); err != nil {
		return smtpError("MAIL FROM", err)
	}
	if err := c.Rcpt(rcpt); err != nil {
		return smtpError("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpError("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpError("sending the message", err)
	}
	if err := w.Close(); err != nil {
		return smtpError("sending the message", err)
	}
	_ = c.Quit() // the server took the message; a lost goodbye changes nothing
	return nil
}

// smtpError judges what went wrong at step: the server's 5xx answers, a certificate that does
// not verify and a login refused are refusals; its 4xx answers and the network's failures are
// retried.
func smtpError(step string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		what := fmt.Sprintf("SMTP %s: %d %s", step, tp.Code, tp.Msg)
		switch {
		case tp.Code == 535 || tp.Code == 534 || tp.Code == 530:
			return refusedOps("%s; check notify.channels.email.username and password", what)
		case tp.Code >= 500:
			return refused("%s", what)
		default:
			return errors.New(what)
		}
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify) {
		return refusedOps("SMTP %s: the server's certificate does not verify: %v", step, err)
	}
	if strings.Contains(err.Error(), "unencrypted connection") || strings.Contains(err.Error(), "wrong host name") {
		return refusedOps("SMTP %s: %v", step, err)
	}
	return fmt.Errorf("SMTP %s: %w", step, err)
}

// helloName is the name gongdan gives itself in EHLO: the sender's domain, which servers
// that check it expect more than "localhost".
func helloName(from string) string {
	if _, domain, ok := strings.Cut(from, "@"); ok && domain != "" {
		return domain
	}
	return "localhost"
}

var messageIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.\-]+`)

// messageID is the Message-ID of delivery key from sender's domain: the same on every retry,
// so a receipt or a reply can be tied to the ticket.
func messageID(key, from string) string {
	return "<gongdan." + strings.Trim(messageIDUnsafe.ReplaceAllString(key, "."), ".") + "@" + helloName(from) + ">"
}

// composeEmail is an RFC 5322 message: UTF-8 plain text, base64 in transfer, the subject as
// encoded words folded onto lines of their own.
func composeEmail(from, to *mail.Address, subject, body, msgID string, at time.Time) []byte {
	var b strings.Builder
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", (&mail.Address{Address: to.Address}).String())
	header("Subject", strings.ReplaceAll(mime.BEncoding.Encode("UTF-8", subject), "?= =?", "?=\r\n =?"))
	header("Date", at.Format(time.RFC1123Z))
	header("Message-ID", msgID)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=UTF-8")
	header("Content-Transfer-Encoding", "base64")
	// A notice, not a conversation: out-of-office replies should not answer it (RFC 3834).
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return []byte(b.String())
}

var _ channel = (*emailChannel)(nil)
