// Package intakeauth is how a connector's HTTP intake (the webhook, the OCR upload, later the
// hotline) learns who sent a request and refuses the rest, in one way for all of them: one spec
// fragment (Fields, BudgetField) that every such connector puts among its keys, and one Verifier
// (and Budget) that reads them.
//
// A request proves who sent it by a bearer token (Authorization: Bearer …, compared in
// constant time), or by an HMAC-SHA256 signature. By default a signature covers a timestamp, the
// request's idempotency key and the body, and the timestamp must be within max_skew of the
// server's clock; each signature is remembered for that window, so a captured request cannot be
// sent again (mode timestamp). Senders that can sign only the body (GitHub-style webhooks) use
// mode body, where replays are made harmless by the connector keying the request on its body.
//
// This package must never log, return or keep a secret, nor compare one in variable time; its
// refusals say what was wrong and what to send, never what was expected.
package intakeauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"gongdan/connectors"
	"gongdan/problem"
)

// Field names, as connector configs write them.
const (
	FieldSignature = "signature"
	FieldTokens    = "tokens"

	fieldHeader          = "header"
	fieldSecret          = "secret"
	fieldPrefix          = "prefix"
	fieldEncoding        = "encoding"
	fieldMode            = "mode"
	fieldTimestampHeader = "timestamp_header"
	fieldMaxSkew         = "max_skew"
	fieldTokenName       = "name"
	fieldToken           = "token"
)

// Signature modes.
const (
	// ModeTimestamp signs "<timestamp>.<idempotency key>.<body>": replays are refused.
	ModeTimestamp = "timestamp"
	// ModeBody signs the body alone, for senders that cannot sign more (GitHub's
	// X-Hub-Signature-256): the connector keys the request on its body instead.
	ModeBody = "body"
)

// Defaults of the signature fields.
const (
	DefaultSignatureHeader = "X-Signature-256"
	DefaultTimestampHeader = "X-Gongdan-Timestamp"
	DefaultMaxSkew         = 300 * time.Second
)

// minSecret is the shortest secret or token accepted: 16 characters of a random string are
// beyond guessing; shorter ones are passwords.
const minSecret = 16

// maxRemembered bounds the signatures remembered against replays: far beyond any sender's rate
// within a skew window (1M in 10 minutes is 1,700 requests a second).
const maxRemembered = 1 << 20

// Options say how a connector's docs name its idempotency key.
type Options struct {
	// KeyHeader names the request header whose value is signed as the idempotency key, as
	// the docs should say it ("dedup_header", "the Idempotency-Key header").
	KeyHeader string
	// What names the requests in descriptions ("requests", "uploads").
	What string
}

// Fields are the keys signature and tokens, for a connector spec's Fields.
func Fields(o Options) []connectors.Field {
	return []connectors.Field{
		{
			Name: FieldSignature, Kind: connectors.KindObject,
			Description: "Check an HMAC-SHA256 signature of each of the " + o.What + ", sent in a header (hex or base64, after prefix); " +
				"without a valid one they are answered 401. In mode timestamp (the default) the signed string is " +
				"`<timestamp>.<key>.<body>`: the Unix seconds sent in timestamp_header, a dot, the value of " + o.KeyHeader +
				" as sent (nothing when it is not; it must not contain a dot), a dot, and the raw body byte for byte. " +
				"A timestamp more than max_skew from the server's clock is refused (401), and the same signed request a second time is " +
				"refused with 409 (type replayed): it was taken the first time. A sender that retries signs the retry anew, with a fresh " +
				"timestamp and the same key, and makes no second ticket. In mode body the signature covers the raw body alone, for " +
				"senders that cannot sign more (GitHub: header X-Hub-Signature-256, prefix sha256=); the key header is not signed then, " +
				"so it cannot tell a replay from a new request: the request is keyed on its body's SHA-256 instead, and the same body " +
				"sent again makes no second ticket.",
			Fields: []connectors.Field{
				{Name: fieldSecret, Kind: connectors.KindString, Required: true, Secret: true, Check: CheckSecret,
					Description: "The shared secret, at least 16 characters; write ${ENV_VAR}."},
				{Name: fieldMode, Kind: connectors.KindString, Default: ModeTimestamp, Enum: []string{ModeTimestamp, ModeBody},
					Description: "What the signature covers: timestamp (the timestamp, the key and the body; replays refused) or body (the body alone)."},
				{Name: fieldHeader, Kind: connectors.KindString, Default: DefaultSignatureHeader,
					Description: "The header that carries the signature."},
				{Name: fieldPrefix, Kind: connectors.KindString, Default: "", Example: `"sha256="`,
					Description: "Text before the signature in the header, such as sha256= (GitHub's style)."},
				{Name: fieldEncoding, Kind: connectors.KindString, Default: "hex", Enum: []string{"hex", "base64"},
					Description: "How the signature bytes are written."},
				{Name: fieldTimestampHeader, Kind: connectors.KindString, Default: DefaultTimestampHeader,
					Description: "Mode timestamp: the header with the Unix seconds the request was signed at."},
				{Name: fieldMaxSkew, Kind: connectors.KindDuration, Default: DefaultMaxSkew, Min: connectors.Bound(1), Max: connectors.Bound(3600),
					Description: "Mode timestamp: how far a timestamp may be from the server's clock, either way. Signatures are remembered for twice this, to refuse replays."},
			},
		},
		{
			Name: FieldTokens, Kind: connectors.KindObjectList, Example: `[{name: scanner-2f, token: "${SCANNER_TOKEN}"}]`,
			Description: "Bearer tokens that may send " + o.What + " (Authorization: Bearer <token>), each with the name it is known by in logs and budgets. " +
				"A token proves who sent a request, not what it says, and does not stop a replay by whoever sees it: use it over HTTPS. " +
				"With both tokens and signature, either proves the sender.",
			Fields: []connectors.Field{
				{Name: fieldTokenName, Kind: connectors.KindString, Required: true, Pattern: `^[a-z0-9][a-z0-9_-]*$`,
					PatternHint: "lowercase letters, digits, - and _", Description: "Who holds the token, as logs and budgets name it."},
				{Name: fieldToken, Kind: connectors.KindString, Required: true, Secret: true, Check: CheckSecret,
					Description: "The token, at least 16 characters (openssl rand -hex 24); write ${ENV_VAR}."},
			},
		},
	}
}

// CheckSecret is the Field.Check of a secret or token: at least 16 characters.
func CheckSecret(v any) error {
	if s, _ := v.(string); len(s) < minSecret {
		return fmt.Errorf("too short: use at least %d characters (openssl rand -hex 24)", minSecret)
	}
	return nil
}

// Verifier checks the requests of one connector instance. Safe for concurrent use.
type Verifier struct {
	sig     *signature // nil: no signature configured
	tokens  []token
	replays *Replays // mode timestamp only
	now     func() time.Time

	mu      sync.Mutex
	refused map[string]int64 // refusals by reason
}

type signature struct {
	header, prefix, encoding, mode, tsHeader string
	skew                                     time.Duration
	secret                                   []byte
}

// token is a configured token by its SHA-256: every comparison is of 32 bytes, so that neither
// its content nor its length leaks through timing.
type token struct {
	name string
	sum  [32]byte
}

// New reads conf's signature and tokens (conf's spec must have Fields). now is the clock; nil
// is time.Now.
func New(conf *connectors.Conf, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{now: now, refused: map[string]int64{}}
	if s := conf.Object(FieldSignature); s != nil {
		v.sig = &signature{
			header:   s.String(fieldHeader),
			prefix:   s.String(fieldPrefix),
			encoding: s.String(fieldEncoding),
			mode:     s.String(fieldMode),
			tsHeader: s.String(fieldTimestampHeader),
			skew:     s.Duration(fieldMaxSkew),
			secret:   []byte(s.Secret(fieldSecret).Reveal()),
		}
		if v.sig.mode == ModeTimestamp {
			// A timestamp may be ahead of the clock by max_skew and still be taken: its
			// signature is remembered until it is stale, twice the skew after it was taken.
			v.replays = NewReplays(2*v.sig.skew, maxRemembered)
		}
	}
	for _, t := range conf.ObjectList(FieldTokens) {
		v.tokens = append(v.tokens, token{name: t.String(fieldTokenName), sum: sha256.Sum256([]byte(t.Secret(fieldToken).Reveal()))})
	}
	return v
}

// Validate reports what the field checks cannot: a token or name given twice, timestamp keys
// in mode body.
func (v *Verifier) Validate(conf *connectors.Conf) error {
	var errs []error
	names, sums := map[string]bool{}, map[[32]byte]bool{}
	for i, t := range conf.ObjectList(FieldTokens) {
		if names[v.tokens[i].name] {
			errs = append(errs, t.Errorf(fieldTokenName, "%q names another token already: names tell tokens apart in logs and budgets", v.tokens[i].name))
		}
		if sums[v.tokens[i].sum] {
			errs = append(errs, t.Errorf(fieldToken, "the same token as another one above: give each sender its own"))
		}
		names[v.tokens[i].name], sums[v.tokens[i].sum] = true, true
	}
	if s := conf.Object(FieldSignature); s != nil && v.sig.mode == ModeBody {
		for _, k := range []string{fieldTimestampHeader, fieldMaxSkew} {
			if s.Has(k) {
				errs = append(errs, s.Errorf(k, "only used with mode: timestamp; mode body signs the body alone"))
			}
		}
	}
	return errors.Join(errs...)
}

// Open reports whether nothing is configured: every request is taken, from anyone who can reach
// the connector (allowed on loopback only; see connectors.OpenIntake).
func (v *Verifier) Open() bool { return v.sig == nil && len(v.tokens) == 0 }

// Signed reports whether a signature is configured.
func (v *Verifier) Signed() bool { return v.sig != nil }

// SignsKey reports whether a signed request's idempotency key is covered by its signature
// (mode timestamp). In mode body it is not, and the connector must not trust it to tell a
// replay from a new request.
func (v *Verifier) SignsKey() bool { return v.sig == nil || v.sig.mode == ModeTimestamp }

// CredentialHeader reports whether header h carries a credential (a token or the signature),
// which a connector must never keep with an envelope.
func (v *Verifier) CredentialHeader(h string) bool {
	h = http.CanonicalHeaderKey(h)
	return h == "Authorization" || h == "Cookie" || (v.sig != nil && h == http.CanonicalHeaderKey(v.sig.header))
}

// Refused counts the requests refused, by reason: missing, bad_token, bad_signature,
// bad_timestamp, stale_timestamp, bad_key, replayed, replay_memory_full. For a connector's
// Details.
func (v *Verifier) Refused() map[string]int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.refused)
}

// Caller is who a request proved to be.
type Caller struct {
	// Token is the name of the token it carried; "" when it carried none.
	Token string
	// Signed: it carried a valid signature.
	Signed bool
}

// Check is one request being verified: Begin checked its headers, the body is written to it as
// it is read, and Finish checks the signature over it.
type Check struct {
	v       *Verifier
	caller  Caller
	mac     hash.Hash // nil: nothing left to check
	sent    []byte    // the signature the request carries
	claimed string    // the replay key claimed by Finish; "" none
}

// Write adds body bytes to the signed string. It never fails.
func (c *Check) Write(p []byte) (int, error) {
	if c.mac != nil {
		c.mac.Write(p)
	}
	return len(p), nil
}

// Caller is who the request proved to be; valid once Finish returned no problem.
func (c *Check) Caller() Caller { return c.caller }

// Begin checks what a request's headers prove: a token there is checked at once, a signature's
// header and timestamp are read. key is the request's idempotency key as sent ("" when none).
// A problem is the answer to give (its headers, such as WWW-Authenticate, are set on rw).
func (v *Verifier) Begin(rw http.ResponseWriter, r *http.Request, key string) (*Check, *problem.Problem) {
	c := &Check{v: v}
	if auth := r.Header.Get("Authorization"); auth != "" && len(v.tokens) > 0 {
		name, ok := v.token(auth)
		if !ok {
			rw.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			return nil, v.refuse("bad_token", problem.New(http.StatusUnauthorized, "unauthorized",
				"the Authorization header holds no token of this connector; send Authorization: Bearer <token>"))
		}
		c.caller.Token = name
		return c, nil
	}
	if v.sig != nil {
		if h := r.Header.Get(v.sig.header); h != "" {
			return v.sig.begin(v, c, h, r.Header.Get(v.sig.tsHeader), key)
		}
	}
	if v.Open() {
		return c, nil
	}
	if len(v.tokens) > 0 {
		rw.Header().Set("WWW-Authenticate", "Bearer")
	}
	return nil, v.refuse("missing", problem.New(http.StatusUnauthorized, v.missingType(), v.howTo()))
}

// Verify is Begin, Write and Finish for a body read whole.
func (v *Verifier) Verify(rw http.ResponseWriter, r *http.Request, key string, body []byte) (*Check, *problem.Problem) {
	c, p := v.Begin(rw, r, key)
	if p != nil {
		return nil, p
	}
	c.Write(body)
	if p := c.Finish(rw); p != nil {
		return nil, p
	}
	return c, nil
}

// Finish checks the signature over the body written, and claims it against replays. A problem
// is the answer to give.
func (c *Check) Finish(rw http.ResponseWriter) *problem.Problem {
	if c.mac == nil {
		return nil
	}
	v, s := c.v, c.v.sig
	sum := c.mac.Sum(nil)
	c.mac = nil
	if !hmac.Equal(sum, c.sent) {
		what := "the body"
		if s.mode == ModeTimestamp {
			what = "<timestamp>.<key>.<body> (the " + s.tsHeader + " value, a dot, the idempotency key or nothing, a dot, the body)"
		}
		return v.refuse("bad_signature", problem.New(http.StatusUnauthorized, "bad-signature",
			"the "+s.header+" signature does not match: sign "+what+" with HMAC-SHA256 and this connector's secret"))
	}
	c.caller.Signed = true
	if v.replays == nil {
		return nil
	}
	key := hex.EncodeToString(c.sent)
	switch v.replays.Claim(key, [32]byte{}, v.now()) {
	case Replayed:
		return v.refuse("replayed", problem.New(http.StatusConflict, "replayed",
			"this signed request was taken already: the same timestamp, key and body under the same signature. "+
				"Nothing more to do if it is your own retry; sign a retry anew, with a fresh "+s.tsHeader))
	case Full:
		rw.Header().Set("Retry-After", "1")
		return v.refuse("replay_memory_full", problem.New(http.StatusServiceUnavailable, "unavailable",
			"too many signed requests to remember against replays; retry in a moment"))
	}
	c.claimed = key
	return nil
}

// Release forgets the claim Finish made, for a request that was not taken after all (the bus
// did not confirm it): the sender's retry of the very same request is then taken.
func (c *Check) Release() {
	if c != nil && c.claimed != "" {
		c.v.replays.Forget(c.claimed)
		c.claimed = ""
	}
}

// begin reads a signature's header and, in mode timestamp, its timestamp and key.
func (s *signature) begin(v *Verifier, c *Check, header, ts, key string) (*Check, *problem.Problem) {
	sent, detail := ParseSignature(header, s.prefix, s.encoding)
	if detail != "" {
		return nil, v.refuse("bad_signature", problem.New(http.StatusUnauthorized, "bad-signature", "the "+s.header+" header "+detail))
	}
	c.sent = sent
	c.mac = hmac.New(sha256.New, s.secret)
	if s.mode != ModeTimestamp {
		return c, nil
	}
	if ts == "" {
		return nil, v.refuse("bad_timestamp", problem.New(http.StatusUnauthorized, "bad-signature",
			"the "+s.tsHeader+" header is missing: send the Unix seconds the request was signed at, and sign <timestamp>.<key>.<body>"))
	}
	at, err := ParseTimestamp(ts)
	if err != nil {
		return nil, v.refuse("bad_timestamp", problem.New(http.StatusUnauthorized, "bad-signature", "the "+s.tsHeader+" header "+err.Error()))
	}
	if d := v.now().Sub(time.Unix(at, 0)); d > s.skew || d < -s.skew {
		return nil, v.refuse("stale_timestamp", problem.New(http.StatusUnauthorized, "bad-signature",
			fmt.Sprintf("the %s timestamp %s is %s from this server's clock, more than max_skew %s: a replay, or a clock to set right (NTP)",
				s.tsHeader, ts, d.Round(time.Second), s.skew)))
	}
	if strings.Contains(key, ".") {
		// The dots separate the signed string's parts: a key with one could move bytes
		// between the key and the body under the same signature.
		return nil, v.refuse("bad_key", problem.New(http.StatusBadRequest, "bad-request",
			"the idempotency key must not contain a dot when requests are signed with a timestamp (the signed string is <timestamp>.<key>.<body>)"))
	}
	c.mac.Write([]byte(ts + "." + key + "."))
	return c, nil
}

// ParseSignature reads a signature header: prefix, then 32 bytes in encoding (hex, any case,
// or standard base64). detail says what is wrong, to follow "the <header> header ".
func ParseSignature(header, prefix, encoding string) (sig []byte, detail string) {
	got, ok := strings.CutPrefix(strings.TrimSpace(header), prefix)
	if !ok {
		return nil, fmt.Sprintf("must start with %q", prefix)
	}
	var err error
	if encoding == "base64" {
		sig, err = base64.StdEncoding.DecodeString(got)
	} else {
		sig, err = hex.DecodeString(strings.ToLower(got))
	}
	if err != nil {
		return nil, "is not " + encoding
	}
	if len(sig) != sha256.Size {
		return nil, fmt.Sprintf("holds %d bytes; an HMAC-SHA256 signature is %d", len(sig), sha256.Size)
	}
	return sig, ""
}

// maxTimestampDigits bounds a timestamp: 11 digits reach the year 5138.
const maxTimestampDigits = 11

// ParseTimestamp reads Unix seconds written as plain decimal digits: no sign, no spaces, no
// leading zeros, no fraction (the signed string holds the header as sent, so it must have one
// spelling only).
func ParseTimestamp(s string) (int64, error) {
	if s == "" || len(s) > maxTimestampDigits {
		return 0, fmt.Errorf("must be Unix seconds, 1 to %d digits", maxTimestampDigits)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("must be Unix seconds, digits only")
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("must be Unix seconds without leading zeros")
	}
	return strconv.ParseInt(s, 10, 64)
}

// token finds the token an Authorization header carries, comparing with every configured one
// in constant time.
func (v *Verifier) token(auth string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(auth), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	name := ""
	for _, t := range v.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			name = t.name // no early return: every token is compared
		}
	}
	return name, name != ""
}

func (v *Verifier) missingType() string {
	if v.sig != nil && len(v.tokens) == 0 {
		return "bad-signature"
	}
	return "unauthorized"
}

// howTo says how a request proves its sender, for a request that carried nothing.
func (v *Verifier) howTo() string {
	var ways []string
	if len(v.tokens) > 0 {
		ways = append(ways, "send Authorization: Bearer <token>")
	}
	if s := v.sig; s != nil {
		if s.mode == ModeTimestamp {
			ways = append(ways, "sign <timestamp>.<key>.<body> with HMAC-SHA256 and send it in the "+s.header+" header, with the timestamp in "+s.tsHeader)
		} else {
			ways = append(ways, "send the body's HMAC-SHA256 signature in the "+s.header+" header")
		}
	}
	return "the request carries no credential: " + strings.Join(ways, ", or ")
}

func (v *Verifier) refuse(reason string, p *problem.Problem) *problem.Problem {
	v.mu.Lock()
	v.refused[reason]++
	v.mu.Unlock()
	return p
}

// Source names who a request is charged to in budgets: its token's name when it carried one
// (several phones may share a token, and share its budget), else its remote address. An IPv6
// address is charged by its /64: one subscriber is handed a whole /64 (RFC 6177), so each of its
// addresses would otherwise have a budget of its own.
func Source(r *http.Request, c Caller) string {
	if c.Token != "" {
		return "token " + c.Token
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "address " + host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return "address " + addr.String()
	}
	net64, _ := addr.Prefix(64)
	return "address " + net64.String()
}
