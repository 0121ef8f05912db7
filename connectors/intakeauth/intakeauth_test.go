package intakeauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors"
	"gongdan/connectors/intakeauth"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/yamlkit"
	"gongdan/problem"
)

const (
	secret  = "s3cret-0123456789abcdef"
	tokenA  = "token-aaaaaaaaaaaaaaaa"
	tokenB  = "token-bbbbbbbbbbbbbbbb"
	keyHdr  = "Idempotency-Key"
	tsHdr   = intakeauth.DefaultTimestampHeader
	sigHdr  = intakeauth.DefaultSignatureHeader
	theBody = `{"title": "漏水"}`
)

// now is the server's clock in these tests.
var now = time.Date(2026, 11, 23, 9, 42, 3, 0, time.UTC)

// probe is a connector type with the fragment's keys, to read configs as connectors do.
type probe struct{ conf *connectors.Conf }

func (p *probe) Validate() error               { return nil }
func (p *probe) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (p *probe) Close(context.Context) error   { return nil }
func (p *probe) Normalizer() draft.Normalizer  { return draft.NormalizerFunc(draft.FromJSON) }

var budgetDefaults = intakeauth.BudgetDefaults{RequestsPerMinute: 3, BytesPerMinute: 4 << 20, Concurrent: 2, What: "uploads"}

var registry = func() *connectors.Registry {
	r := connectors.NewRegistry()
	fields := append(intakeauth.Fields(intakeauth.Options{KeyHeader: "Idempotency-Key", What: "requests"}), intakeauth.BudgetField(budgetDefaults))
	r.Register(connectors.Spec{
		Type: "probe", Summary: "probe", Example: "name: p\ntype: probe\n", Fields: fields,
		New: func(conf *connectors.Conf, _ connectors.Env) (connectors.Connector, error) {
			return &probe{conf: conf}, nil
		},
	})
	return r
}()

// conf reads one connector item (unindented YAML) of type probe.
func conf(t *testing.T, item string) (*connectors.Conf, []*yamlkit.Error) {
	t.Helper()
	_, cf, errs := registry.Parse("gongdan.yaml", testkit.Items(t, "name: p\ntype: probe\n"+item)[0])
	return cf, errs
}

func verifier(t *testing.T, item string, clock func() time.Time) *intakeauth.Verifier {
	t.Helper()
	c, errs := conf(t, item)
	require.Empty(t, errs)
	v := intakeauth.New(c, clock)
	require.NoError(t, v.Validate(c))
	return v
}

func fixed() time.Time { return now }

func mac(s string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return m.Sum(nil)
}

// signed is a request signed in mode timestamp at ts with key.
func signed(ts time.Time, key, body string) *http.Request {
	t := strconv.FormatInt(ts.Unix(), 10)
	r := httptest.NewRequest(http.MethodPost, "/ingest/p", strings.NewReader(body))
	r.Header.Set(tsHdr, t)
	if key != "" {
		r.Header.Set(keyHdr, key)
	}
	r.Header.Set(sigHdr, hex.EncodeToString(mac(t+"."+key+"."+body)))
	return r
}

// verify runs a request through v as a connector does; nil problem: taken.
func verify(v *intakeauth.Verifier, r *http.Request) (*intakeauth.Check, *problem.Problem, http.Header) {
	body, _ := io.ReadAll(r.Body)
	w := httptest.NewRecorder()
	c, p := v.Verify(w, r, r.Header.Get(keyHdr), body)
	if p != nil {
		assertNoSecret(p)
	}
	return c, p, w.Header()
}

// assertNoSecret panics on a problem that quotes a secret (verify runs in goroutines too).
func assertNoSecret(p *problem.Problem) {
	for _, s := range []string{secret, tokenA, tokenB} {
		if strings.Contains(p.Detail, s) {
			panic("a secret in a problem: " + p.Detail)
		}
	}
}

const timestampMode = "signature:\n  secret: " + secret + "\n"

// A signed request is taken once: the same request again, at once or within the window, is
// refused as replayed (409) and counted; a retry signed anew is taken.
func TestAReplayedSignedRequestIsRefused(t *testing.T) {
	v := verifier(t, timestampMode, fixed)
	c, p, _ := verify(v, signed(now.Add(-time.Minute), "order-1", theBody))
	require.Nil(t, p)
	assert.Equal(t, intakeauth.Caller{Signed: true}, c.Caller())
	for range 6 {
		_, p, _ := verify(v, signed(now.Add(-time.Minute), "order-1", theBody))
		require.NotNil(t, p, "a replay was taken")
		assert.Equal(t, http.StatusConflict, p.Status)
		assert.Equal(t, "/problems/replayed", p.Type)
	}
	assert.Equal(t, int64(6), v.Refused()["replayed"])
	_, p, _ = verify(v, signed(now, "order-1", theBody))
	assert.Nil(t, p, "a retry signed anew (a fresh timestamp, the same key) is taken; the key makes it one ticket")
}

// Two copies of a request arriving together: one is taken.
func TestReplaysRaceForOneClaim(t *testing.T) {
	v := verifier(t, timestampMode, fixed)
	var mu sync.Mutex
	taken := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, p, _ := verify(v, signed(now, "k", theBody)); p == nil {
				mu.Lock()
				taken++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, taken)
}

// A request that was not taken after all (the bus refused it) releases its claim: the sender's
// retry of the very same request is taken.
func TestReleaseLetsTheSameRequestBeTakenAgain(t *testing.T) {
	v := verifier(t, timestampMode, fixed)
	c, p, _ := verify(v, signed(now, "k", theBody))
	require.Nil(t, p)
	c.Release()
	_, p, _ = verify(v, signed(now, "k", theBody))
	assert.Nil(t, p)
}

func TestTimestampModeRefusals(t *testing.T) {
	v := verifier(t, timestampMode+"  max_skew: 300s\n", fixed)
	ts := strconv.FormatInt(now.Unix(), 10)
	bodyOnly := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(theBody))
	bodyOnly.Header.Set(tsHdr, ts)
	bodyOnly.Header.Set(sigHdr, hex.EncodeToString(mac(theBody)))
	swapped := signed(now, "order-1", theBody)
	swapped.Header.Set(keyHdr, "order-2")
	keyAdded := signed(now, "", theBody)
	keyAdded.Header.Set(keyHdr, "order-3")
	tsMoved := signed(now, "k", theBody)
	tsMoved.Header.Set(tsHdr, strconv.FormatInt(now.Unix()+1, 10))
	noTS := signed(now, "k", theBody)
	noTS.Header.Del(tsHdr)
	badTS := signed(now, "k", theBody)
	badTS.Header.Set(tsHdr, "1.7e9")
	otherBody := signed(now, "k", theBody)
	otherBody.Body = io.NopCloser(strings.NewReader(`{"title": "漏水!"}`))
	noSig := signed(now, "k", theBody)
	noSig.Header.Del(sigHdr)
	for _, tc := range []struct {
		name   string
		r      *http.Request
		status int
		reason string
		detail string
	}{
		{"signature over the body only", bodyOnly, 401, "bad_signature", "does not match"},
		{"idempotency key swapped under a valid signature", swapped, 401, "bad_signature", "<timestamp>.<key>.<body>"},
		{"idempotency key added to a request signed without one", keyAdded, 401, "bad_signature", "does not match"},
		{"timestamp changed under a valid signature", tsMoved, 401, "bad_signature", "does not match"},
		{"body changed", otherBody, 401, "bad_signature", "does not match"},
		{"stale timestamp", signed(now.Add(-301*time.Second), "k", theBody), 401, "stale_timestamp", "more than max_skew"},
		{"timestamp ahead", signed(now.Add(301*time.Second), "k", theBody), 401, "stale_timestamp", "more than max_skew"},
		{"no timestamp", noTS, 401, "bad_timestamp", tsHdr + " header is missing"},
		{"timestamp not seconds", badTS, 401, "bad_timestamp", "digits only"},
		{"no signature", noSig, 401, "missing", "sign <timestamp>.<key>.<body>"},
		{"key with a dot", signed(now, "a.b", theBody), 400, "bad_key", "must not contain a dot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := v.Refused()[tc.reason]
			_, p, _ := verify(v, tc.r)
			require.NotNil(t, p, "taken")
			assert.Equal(t, tc.status, p.Status)
			assert.Contains(t, p.Detail, tc.detail)
			assert.Equal(t, before+1, v.Refused()[tc.reason])
		})
	}
	// At the edge of the window, either way: taken.
	for _, d := range []time.Duration{-300 * time.Second, 300 * time.Second} {
		_, p, _ := verify(v, signed(now.Add(d), "edge", theBody))
		assert.Nil(t, p, "%v from the clock", d)
	}
}

// Mode body: GitHub's style, the raw body's HMAC with a prefix; the key is not signed, and the
// Verifier says so.
func TestBodyMode(t *testing.T) {
	v := verifier(t, "signature:\n  secret: "+secret+"\n  mode: body\n  header: X-Hub-Signature-256\n  prefix: sha256=\n", fixed)
	assert.False(t, v.SignsKey())
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(theBody))
	r.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac(theBody)))
	_, p, _ := verify(v, r)
	assert.Nil(t, p)
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(theBody))
	r.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac("1."+theBody)))
	_, p, _ = verify(v, r)
	require.NotNil(t, p)
	assert.Equal(t, 401, p.Status)

	b64 := verifier(t, "signature:\n  secret: "+secret+"\n  mode: body\n  encoding: base64\n", fixed)
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(theBody))
	r.Header.Set(sigHdr, base64.StdEncoding.EncodeToString(mac(theBody)))
	_, p, _ = verify(b64, r)
	assert.Nil(t, p)
}

func TestTokens(t *testing.T) {
	v := verifier(t, "tokens:\n  - {name: phones, token: "+tokenA+"}\n  - {name: scanner, token: "+tokenB+"}\n", fixed)
	req := func(auth string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(theBody))
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
	c, p, _ := verify(v, req("Bearer "+tokenB))
	require.Nil(t, p)
	assert.Equal(t, intakeauth.Caller{Token: "scanner"}, c.Caller())
	c, p, _ = verify(v, req("bearer  "+tokenA+" "))
	require.Nil(t, p)
	assert.Equal(t, "phones", c.Caller().Token)

	for _, tc := range []struct{ name, auth, reason string }{
		{"none", "", "missing"},
		{"wrong token", "Bearer " + tokenA + "x", "bad_token"},
		{"a prefix of a token", "Bearer " + tokenA[:10], "bad_token"},
		{"basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+tokenA)), "bad_token"},
		{"no scheme", tokenA, "bad_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, p, h := verify(v, req(tc.auth))
			require.NotNil(t, p)
			assert.Equal(t, 401, p.Status)
			assert.Equal(t, "/problems/unauthorized", p.Type)
			assert.Contains(t, h.Get("WWW-Authenticate"), "Bearer")
			assert.Contains(t, p.Detail, "Authorization: Bearer <token>")
		})
	}
	assert.Equal(t, int64(1), v.Refused()["missing"])
	assert.Equal(t, int64(4), v.Refused()["bad_token"])
}

// With both, either proves the sender; a wrong token is not saved by a signature.
func TestTokensAndSignature(t *testing.T) {
	v := verifier(t, timestampMode+"tokens: [{name: phones, token: "+tokenA+"}]\n", fixed)
	_, p, _ := verify(v, signed(now, "k", theBody))
	assert.Nil(t, p)
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(theBody))
	r.Header.Set("Authorization", "Bearer "+tokenA)
	_, p, _ = verify(v, r)
	assert.Nil(t, p)
	r = signed(now, "k2", theBody)
	r.Header.Set("Authorization", "Bearer wrong-wrong-wrong-wrong")
	_, p, _ = verify(v, r)
	require.NotNil(t, p)
	assert.Equal(t, 401, p.Status)
	_, p, _ = verify(v, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(theBody)))
	require.NotNil(t, p)
	assert.Contains(t, p.Detail, "Bearer <token>, or sign")
}

func TestOpen(t *testing.T) {
	v := verifier(t, "", fixed)
	assert.True(t, v.Open())
	c, p, _ := verify(v, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(theBody)))
	require.Nil(t, p)
	assert.Equal(t, intakeauth.Caller{}, c.Caller())
	assert.False(t, verifier(t, timestampMode, fixed).Open())
	assert.False(t, verifier(t, "tokens: [{name: a, token: "+tokenA+"}]\n", fixed).Open())
}

func TestCredentialHeaders(t *testing.T) {
	v := verifier(t, "signature: {secret: "+secret+", header: x-hub-signature}\n", fixed)
	for _, h := range []string{"authorization", "Cookie", "X-Hub-Signature"} {
		assert.True(t, v.CredentialHeader(h), h)
	}
	assert.False(t, v.CredentialHeader(tsHdr))
	assert.False(t, v.CredentialHeader("X-Request-Id"))
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, item string
		line       int
		path, msg  string
		validate   bool
	}{
		{"secret too short", "signature: {secret: shortsecret}\n", 3, "connectors[0].signature.secret", "at least 16", false},
		{"unknown mode", "signature: {secret: " + secret + ", mode: url}\n", 3, "connectors[0].signature.mode", `"url" is not one of: timestamp, body`, false},
		{"token too short", "tokens: [{name: a, token: short}]\n", 3, "connectors[0].tokens[0].token", "at least 16", false},
		{"token name", "tokens: [{name: A B, token: " + tokenA + "}]\n", 3, "connectors[0].tokens[0].name", "lowercase", false},
		{"token without a name", "tokens: [{token: " + tokenA + "}]\n", 3, "connectors[0].tokens[0].name", "required", false},
		{"two tokens of one name", "tokens:\n  - {name: a, token: " + tokenA + "}\n  - {name: a, token: " + tokenB + "}\n", 5, "connectors[0].tokens[1].name", "names another token", true},
		{"one token twice", "tokens:\n  - {name: a, token: " + tokenA + "}\n  - {name: b, token: " + tokenA + "}\n", 5, "connectors[0].tokens[1].token", "give each sender its own", true},
		{"max_skew in mode body", "signature:\n  secret: " + secret + "\n  mode: body\n  max_skew: 60s\n", 6, "connectors[0].signature.max_skew", "only used with mode: timestamp", true},
		{"skew too wide", "signature: {secret: " + secret + ", max_skew: 2h}\n", 3, "connectors[0].signature.max_skew", "above the maximum", false},
		{"budget under a MiB a minute", "budget: {bytes_per_minute: 1000}\n", 3, "connectors[0].budget.bytes_per_minute", "below the minimum", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, errs := conf(t, tc.item)
			if tc.validate {
				require.Empty(t, errs)
				err := intakeauth.New(c, fixed).Validate(c)
				require.ErrorAs(t, err, new(*yamlkit.Error))
				errs = nil
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					errs = append(errs, e.(*yamlkit.Error))
				}
			}
			require.NotEmpty(t, errs)
			found := false
			for _, e := range errs {
				for _, s := range []string{secret, tokenA, tokenB, "shortsecret"} {
					assert.NotContains(t, e.Error(), s)
				}
				found = found || (e.Line == tc.line && e.Path == tc.path && strings.Contains(e.Msg, tc.msg))
			}
			assert.True(t, found, "want gongdan.yaml:%d: %s: …%s…; got %v", tc.line, tc.path, tc.msg, errs)
		})
	}
}

func TestReplays(t *testing.T) {
	m := intakeauth.NewReplays(time.Minute, 3)
	v := [32]byte{1}
	assert.Equal(t, intakeauth.Claimed, m.Claim("a", v, now))
	got, ok := m.Seen("a", now.Add(time.Minute))
	assert.True(t, ok)
	assert.Equal(t, v, got)
	_, ok = m.Seen("a", now.Add(time.Minute+1))
	assert.False(t, ok, "out of the window")
	assert.Equal(t, intakeauth.Replayed, m.Claim("a", v, now.Add(30*time.Second)))
	assert.Equal(t, intakeauth.Claimed, m.Claim("b", v, now.Add(10*time.Second)))
	assert.Equal(t, intakeauth.Claimed, m.Claim("c", v, now.Add(20*time.Second)))
	assert.Equal(t, intakeauth.Full, m.Claim("d", v, now.Add(30*time.Second)), "bounded: a new key is refused rather than an old one forgotten")
	// Forgotten from the oldest once out of the window.
	assert.Equal(t, intakeauth.Claimed, m.Claim("d", v, now.Add(61*time.Second)))
	assert.Equal(t, 3, m.Len())
	assert.Equal(t, intakeauth.Claimed, m.Claim("a", v, now.Add(71*time.Second)), "a is out of its window, and b too")
	// Forget, then claim again: the newer claim survives the older record's expiry.
	m.Forget("c")
	assert.Equal(t, intakeauth.Claimed, m.Claim("c", v, now.Add(75*time.Second)))
	assert.Equal(t, intakeauth.Replayed, m.Claim("c", v, now.Add(81*time.Second)), "c's first record is out of the window, its second is not")
}
