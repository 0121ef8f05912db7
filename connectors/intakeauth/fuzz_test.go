package intakeauth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"gongdan/connectors/intakeauth"
)

// FuzzParseTimestamp: a timestamp is taken only in its one spelling (plain decimal digits, no
// sign, no leading zero), so the signed string has one form; nothing panics.
func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"1795400523", "0", "", "-1", "+1795400523", "01795400523", "1795400523.5", " 1795400523", "1e9",
		"99999999999", "999999999999", "9223372036854775807", "١٢٣", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := intakeauth.ParseTimestamp(s)
		if err != nil {
			return
		}
		if strconv.FormatInt(n, 10) != s {
			t.Fatalf("%q taken as %d: not its one spelling", s, n)
		}
		if n < 0 || n > 99999999999 {
			t.Fatalf("%q taken as %d, out of range", s, n)
		}
	})
}

// FuzzParseSignature: a signature header is taken only as exactly 32 bytes after the prefix, in
// the encoding configured; nothing panics.
func FuzzParseSignature(f *testing.F) {
	sum := sha256.Sum256([]byte("x"))
	for _, s := range []string{"sha256=" + hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]),
		"sha256=", "sha256=zz", "", " sha256=" + strings.ToUpper(hex.EncodeToString(sum[:])) + " ", "sha256=" + hex.EncodeToString(sum[:31])} {
		f.Add(s, "sha256=", false)
		f.Add(s, "", true)
	}
	f.Fuzz(func(t *testing.T, header, prefix string, b64 bool) {
		enc := "hex"
		if b64 {
			enc = "base64"
		}
		sig, detail := intakeauth.ParseSignature(header, prefix, enc)
		if (detail == "") != (sig != nil) {
			t.Fatalf("%q: signature %x and problem %q", header, sig, detail)
		}
		if sig != nil && len(sig) != sha256.Size {
			t.Fatalf("%q: a signature of %d bytes taken", header, len(sig))
		}
	})
}

// FuzzTimestampHeaders: whatever the signature and timestamp headers hold, a request signed with
// another secret is never taken, and the answer is a 4xx problem.
func FuzzTimestampHeaders(f *testing.F) {
	f.Add("1795400523", "00", "k")
	f.Add("", "", "")
	f.Add("99999999999", strings.Repeat("ab", 32), "a.b")
	f.Fuzz(func(t *testing.T, ts, sig, key string) {
		v := verifier(t, timestampMode, fixed)
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(theBody))
		for h, val := range map[string]string{tsHdr: ts, sigHdr: sig, keyHdr: key} {
			if val != "" && !strings.ContainsAny(val, "\r\n\x00") {
				r.Header.Set(h, val)
			}
		}
		_, p, _ := verify(v, r)
		if p == nil {
			t.Fatalf("taken without the secret: ts %q sig %q key %q", ts, sig, key)
		}
		if p.Status < 400 || p.Status > 499 {
			t.Fatalf("answered %d", p.Status)
		}
	})
}
