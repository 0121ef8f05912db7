package notify_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"gongdan/internal/cloudsign"
	"gongdan/logging"
)

// Keys of the fakes. The secrets must never appear in an error, a log line or a record.
const (
	aliyunKeyID      = "LTAI5tTestKeyId"
	aliyunKeySecret  = "aliyun-secret-never-printed"
	tencentSecretID  = "AKIDtestSecretId"
	tencentSecretKey = "tencent-key-never-printed"
	tencentAppID     = "1400006666"
	smtpUser         = "service@example.com"
	smtpPassword     = "smtp-password-never-printed"
)

// smsCall is one request a fake vendor took, its signature checked.
type smsCall struct {
	params map[string]string // Aliyun's form; Tencent's body keys as JSON text
	body   map[string]any
}

// fakeSMS is a vendor's SendSms: it checks every request's signature exactly as the vendor
// does, answers a signature failure as the vendor would, and otherwise the fixture set.
type fakeSMS struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []smsCall
	bad    int
	status int
	answer string // fixture name
}

func (f *fakeSMS) set(status int, fixture string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.answer = status, fixture
}

func (f *fakeSMS) taken() []smsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]smsCall(nil), f.calls...)
}

func (f *fakeSMS) badSignatures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bad
}

func smsFixture(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "sms", name))
	require.NoError(t, err)
	return b
}

// newAliyunFake is Aliyun's SendSms: POST / with a form, signed with HMAC-SHA1 over the
// sorted parameters and the method POST.
func newAliyunFake(t *testing.T) *fakeSMS {
	f := &fakeSMS{t: t, status: 200, answer: "aliyun/OK.json"}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params := map[string]string{}
		if r.Method == http.MethodPost && r.ParseForm() == nil {
			for k, v := range r.PostForm {
				params[k] = v[0]
			}
		}
		ok := r.URL.Path == "/" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") &&
			params["Action"] == "SendSms" && params["Version"] == "2017-05-25" && params["AccessKeyId"] == aliyunKeyID &&
			params["SignatureMethod"] == "HMAC-SHA1" && params["SignatureVersion"] == "1.0" && params["SignatureNonce"] != "" &&
			params["Signature"] == cloudsign.AliyunPOPSignature(http.MethodPost, params, aliyunKeySecret)
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		if !ok {
			f.bad++
			w.WriteHeader(http.StatusBadRequest)
			w.Write(smsFixture(t, "aliyun/SignatureDoesNotMatch.json"))
			return
		}
		f.calls = append(f.calls, smsCall{params: params})
		w.WriteHeader(f.status)
		w.Write(smsFixture(t, f.answer))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// newTencentFake is Tencent's SendSms 2021-01-11: POST / with JSON, TC3-HMAC-SHA256 over the
// body and the content-type and host headers.
func newTencentFake(t *testing.T) *fakeSMS {
	f := &fakeSMS{t: t, status: 200, answer: "tencent/Ok.json"}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
		var req map[string]any
		ok := r.Method == http.MethodPost && r.URL.Path == "/" && err == nil && json.Unmarshal(body, &req) == nil &&
			r.Header.Get("X-TC-Action") == "SendSms" && r.Header.Get("X-TC-Version") == "2021-01-11" && r.Header.Get("X-TC-Region") == "ap-guangzhou" &&
			r.Header.Get("Authorization") == cloudsign.TencentTC3Authorization(tencentSecretID, tencentSecretKey, "sms", r.Host, r.Header.Get("Content-Type"), ts, body)
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			f.bad++
			w.Write(smsFixture(t, "tencent/AuthFailure.SignatureFailure.json"))
			return
		}
		f.calls = append(f.calls, smsCall{body: req})
		w.WriteHeader(f.status)
		w.Write(smsFixture(t, f.answer))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// mailIn is one message a fake SMTP server took.
type mailIn struct {
	from, to string
	data     []byte
	tls      bool
	authed   bool
}

// fakeSMTP is a small SMTP server: TLS from the first byte or STARTTLS, AUTH PLAIN over TLS
// only, and RCPT answered as set.
type fakeSMTP struct {
	t         *testing.T
	ln        net.Listener
	tlsConf   *tls.Config
	roots     *x509.CertPool
	implicit  bool
	starttls  bool
	rcptReply string // "" takes the recipient
	mu        sync.Mutex
	mail      []mailIn
}

func newFakeSMTP(t *testing.T, implicit, starttls bool) *fakeSMTP {
	// httptest's certificate is for 127.0.0.1 and example.com.
	hs := httptest.NewUnstartedServer(nil)
	hs.StartTLS()
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	cert := hs.TLS.Certificates[0]
	hs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeSMTP{t: t, ln: ln, tlsConf: &tls.Config{Certificates: []tls.Certificate{cert}}, roots: roots, implicit: implicit, starttls: starttls}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.session(c)
		}
	}()
	return f
}

func (f *fakeSMTP) addr() string { return f.ln.Addr().String() }

func (f *fakeSMTP) received() []mailIn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mailIn(nil), f.mail...)
}

func (f *fakeSMTP) session(conn net.Conn) {
	defer func() { conn.Close() }()
	secure := false
	if f.implicit {
		conn = tls.Server(conn, f.tlsConf)
		secure = true
	}
	tp := textproto.NewConn(conn)
	tp.PrintfLine("220 fake.example.com ESMTP")
	var cur mailIn
	authed := false
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			lines := []string{"fake.example.com"}
			if f.starttls && !secure {
				lines = append(lines, "STARTTLS")
			}
			if secure {
				lines = append(lines, "AUTH PLAIN")
			}
			lines = append(lines, "8BITMIME")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				tp.PrintfLine("250%s%s", sep, l)
			}
		case "STARTTLS":
			tp.PrintfLine("220 go ahead")
			tc := tls.Server(conn, f.tlsConf)
			if tc.Handshake() != nil {
				return
			}
			conn, secure = tc, true
			tp = textproto.NewConn(conn)
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			raw, _ := base64.StdEncoding.DecodeString(resp)
			if !secure || mech != "PLAIN" || !bytes.Equal(raw, []byte("\x00"+smtpUser+"\x00"+smtpPassword)) {
				tp.PrintfLine("535 5.7.8 authentication failed")
				continue
			}
			authed = true
			tp.PrintfLine("235 2.7.0 ok")
		case "MAIL":
			cur = mailIn{from: between(arg, "<", ">"), tls: secure, authed: authed}
			tp.PrintfLine("250 ok")
		case "RCPT":
			if f.rcptReply != "" {
				tp.PrintfLine("%s", f.rcptReply)
				continue
			}
			cur.to = between(arg, "<", ">")
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 end with .")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			cur.data = data
			f.mu.Lock()
			f.mail = append(f.mail, cur)
			f.mu.Unlock()
			tp.PrintfLine("250 queued")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("502 unknown")
		}
	}
}

func mustLogger(t *testing.T, w io.Writer) *slog.Logger {
	log, err := logging.New(w, "json", "debug")
	require.NoError(t, err)
	return log
}

// between is what s holds between open and close.
func between(s, open, close string) string {
	_, s, _ = strings.Cut(s, open)
	s, _, _ = strings.Cut(s, close)
	return s
}
