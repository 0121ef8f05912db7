package notify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/core/ticket"
	"gongdan/notify"
)

func decodeBase64Lines(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	return string(b), err
}

// emailOnly is a Notifier that tells customers by email alone, through srv.
func emailOnly(t *testing.T, srv *fakeSMTP, mode string, tk ticket.Ticket) (*notify.Notifier, *recorder, *bytes.Buffer) {
	rec, log := &recorder{}, &bytes.Buffer{}
	n := notify.New(notify.Options{
		Config: config.Notify{Customers: &config.NotifyCustomers{}, Channels: &config.NotifyChannels{Order: []string{"email"},
			Email: &config.NotifyEmail{SMTP: srv.addr(), TLS: mode, Username: smtpUser, Password: smtpPassword,
				From: "苏州服务中心 <service@example.com>", Timeout: config.Duration(5 * time.Second),
				Subjects: map[string]string{"accepted": "【{id}】{title} 已受理"}}}},
		Ticket:    func(context.Context, string) (ticket.Ticket, error) { return tk, nil },
		Name:      func(id string) string { return map[string]string{"eng-li": "李工"}[id] },
		Logger:    mustLogger(t, log),
		Record:    rec.record,
		TLSConfig: &tls.Config{RootCAs: srv.roots},
		Now:       func() time.Time { return clock },
	})
	return n, rec, log
}

// TestEmailArrivesInUTF8: over TLS from the first byte (465) and over STARTTLS (587), logged
// in, the subject and the sender's name as encoded words that decode to the Chinese, the body
// in base64.
func TestEmailArrivesInUTF8(t *testing.T) {
	for _, c := range []struct {
		mode     string
		implicit bool
	}{{config.EmailTLS, true}, {config.EmailSTARTTLS, false}} {
		t.Run(c.mode, func(t *testing.T) {
			srv := newFakeSMTP(t, c.implicit, !c.implicit)
			n, rec, log := emailOnly(t, srv, c.mode, everywhere)
			require.NoError(t, n.Handle(context.Background(), event(t, ticket.ActionAccept, ticket.StateAccepted, nil), map[string]string{"event_id": "21"}))
			got := srv.received()
			require.Len(t, got, 1)
			assert.True(t, got[0].tls, "TLS before anything is said")
			assert.True(t, got[0].authed, "logged in")
			assert.Equal(t, "service@example.com", got[0].from)
			assert.Equal(t, "wang@example.com", got[0].to)

			msg, err := mail.ReadMessage(bytes.NewReader(got[0].data))
			require.NoError(t, err)
			raw := msg.Header.Get("Subject")
			assert.True(t, strings.HasPrefix(raw, "=?UTF-8?b?"), "an encoded word, not raw UTF-8: %s", raw)
			subject, body := readMail(t, got[0].data)
			assert.Equal(t, "【GD-20261202-000001】空调不制冷 已受理", subject)
			assert.Equal(t, "您的报修 GD-20261202-000001（空调不制冷）已由李工受理，工程师会尽快与您联系。", body)
			from, err := msg.Header.AddressList("From")
			require.NoError(t, err)
			assert.Equal(t, []*mail.Address{{Name: "苏州服务中心", Address: "service@example.com"}}, from)
			assert.Equal(t, "text/plain; charset=UTF-8", msg.Header.Get("Content-Type"))
			assert.Equal(t, "base64", msg.Header.Get("Content-Transfer-Encoding"))
			assert.Equal(t, "<gongdan.21.email@example.com>", msg.Header.Get("Message-ID"))
			assert.Equal(t, "auto-generated", msg.Header.Get("Auto-Submitted"))
			assert.Equal(t, []brief{{"21/email", "accepted", "email", "w***@example.com", true, "", 1}}, rec.briefs())
			assert.NotContains(t, log.String(), smtpPassword)
			assert.NotContains(t, log.String(), "wang@example.com")
		})
	}
}

// TestEmailTitleCannotInjectHeaders: a title with line breaks stays in the subject.
func TestEmailTitleCannotInjectHeaders(t *testing.T) {
	srv := newFakeSMTP(t, true, false)
	tk := everywhere
	tk.Title = "空调\r\nBcc: victim@example.com"
	n, _, _ := emailOnly(t, srv, config.EmailTLS, tk)
	require.NoError(t, n.Handle(context.Background(), event(t, ticket.ActionAccept, ticket.StateAccepted, nil), map[string]string{"event_id": "22"}))
	got := srv.received()
	require.Len(t, got, 1)
	msg, err := mail.ReadMessage(bytes.NewReader(got[0].data))
	require.NoError(t, err)
	assert.Empty(t, msg.Header.Get("Bcc"))
	subject, _ := readMail(t, got[0].data)
	assert.Equal(t, "【GD-20261202-000001】空调 Bcc: victim@example.com 已受理", subject)
}

// TestEmailFailures: a server that offers no STARTTLS is refused (the password never goes in
// the clear); 4xx is retried; a wrong password is the operator's to fix.
func TestEmailFailures(t *testing.T) {
	t.Run("no STARTTLS offered", func(t *testing.T) {
		srv := newFakeSMTP(t, false, false)
		n, rec, log := emailOnly(t, srv, config.EmailSTARTTLS, everywhere)
		err := n.Handle(context.Background(), event(t, ticket.ActionAccept, ticket.StateAccepted, nil), map[string]string{"event_id": "23"})
		require.Error(t, err)
		assert.True(t, isPermanent(err))
		assert.Contains(t, err.Error(), "does not offer STARTTLS")
		assert.Empty(t, srv.received())
		require.Len(t, rec.briefs(), 1)
		assert.Contains(t, log.String(), `"level":"ERROR"`, "the operator's to fix")
	})
	t.Run("4xx is retried", func(t *testing.T) {
		srv := newFakeSMTP(t, true, false)
		srv.rcptReply = "451 4.3.0 try again later"
		n, rec, _ := emailOnly(t, srv, config.EmailTLS, everywhere)
		err := n.Handle(context.Background(), event(t, ticket.ActionAccept, ticket.StateAccepted, nil), map[string]string{"event_id": "24"})
		require.Error(t, err)
		assert.False(t, isPermanent(err))
		assert.Contains(t, err.Error(), "451 4.3.0 try again later")
		assert.Empty(t, rec.briefs())
	})
	t.Run("a certificate that does not verify", func(t *testing.T) {
		srv := newFakeSMTP(t, true, false)
		srv.roots = nil // the system's roots do not know the test's certificate
		n, _, _ := emailOnly(t, srv, config.EmailTLS, everywhere)
		err := n.Handle(context.Background(), event(t, ticket.ActionAccept, ticket.StateAccepted, nil), map[string]string{"event_id": "25"})
		require.Error(t, err)
		assert.True(t, isPermanent(err))
		assert.Contains(t, err.Error(), "certificate")
	})
	t.Run("a wrong password", func(t *testing.T) {
		srv := newFakeSMTP(t, true, false)
		rec, log := &recorder{}, &bytes.Buffer{}
		n := notify.New(notify.Options{
			Config: config.Notify{Customers: &config.NotifyCustomers{}, Channels: &config.NotifyChannels{Order: []string{"email"},
				Email: &config.NotifyEmail{SMTP: srv.addr(), TLS: config.EmailTLS, Username: smtpUser, Password: "wrong-password-kept-quiet",
					From: "service@example.com", Timeout: config.Duration(5 * time.Second)}}},
			Ticket: func(context.Context, string) (ticket.Ticket, error) { return everywhere, nil },
			Logger: mustLogger(t, log), Record: rec.record, TLSConfig: &tls.Config{RootCAs: srv.roots},
		})
		err := n.Handle(context.Background(), event(t, ticket.ActionAccept, ticket.StateAccepted, nil), map[string]string{"event_id": "27"})
		require.Error(t, err)
		assert.True(t, isPermanent(err))
		assert.Contains(t, err.Error(), "535 5.7.8 authentication failed; check notify.channels.email.username and password")
		for _, where := range []string{err.Error(), log.String(), rec.briefs()[0].Error} {
			assert.NotContains(t, where, "wrong-password-kept-quiet")
		}
		assert.Empty(t, srv.received())
	})
	t.Run("an address that is none", func(t *testing.T) {
		srv := newFakeSMTP(t, true, false)
		tk := everywhere
		tk.Customer.Email = "wang at example"
		n, rec, _ := emailOnly(t, srv, config.EmailTLS, tk)
		err := n.Handle(context.Background(), event(t, ticket.ActionAccept, ticket.StateAccepted, nil), map[string]string{"event_id": "26"})
		require.Error(t, err)
		assert.True(t, isPermanent(err))
		assert.Equal(t, []brief{{"26/email", "accepted", "email", "***", false, "*** is not an email address", 1}}, rec.briefs())
	})
}
