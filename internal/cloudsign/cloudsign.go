// Package cloudsign signs requests to the Chinese clouds' HTTP APIs by hand: Tencent Cloud's
// API 3.0 (TC3-HMAC-SHA256) and Aliyun's RPC-style POP APIs (HMAC-SHA1). The vendors' Go SDKs
// are not served here whole and each bring an HTTP client of their own; each signature is a
// few lines, tested against the vendor's published example. The hotline's task polling and
// notify's SMS both sign through here.
//
// It is a leaf: no I/O, no clock (the caller passes the time in), no gongdan imports. Secrets
// passed in are never returned, printed or put in an error.
package cloudsign

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TencentTC3Authorization is the Authorization header of a Tencent Cloud API 3.0 request
// signed with TC3-HMAC-SHA256 (签名方法 v3, https://cloud.tencent.com/document/api/213/30654):
// a POST to host's "/" with the JSON payload, content type contentType, at ts (Unix
// seconds), signing the content-type and host headers.
func TencentTC3Authorization(secretID, secretKey, service, host, contentType string, ts int64, payload []byte) string {
	sum := sha256.Sum256(payload)
	canonical := "POST\n/\n\ncontent-type:" + contentType + "\nhost:" + host + "\n\ncontent-type;host\n" + hex.EncodeToString(sum[:])
	date := time.Unix(ts, 0).UTC().Format("2006-01-02")
	scope := date + "/" + service + "/tc3_request"
	creq := sha256.Sum256([]byte(canonical))
	toSign := "TC3-HMAC-SHA256\n" + strconv.FormatInt(ts, 10) + "\n" + scope + "\n" + hex.EncodeToString(creq[:])
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	signing := mac(mac(mac([]byte("TC3"+secretKey), date), service), "tc3_request")
	return "TC3-HMAC-SHA256 Credential=" + secretID + "/" + scope + ", SignedHeaders=content-type;host, Signature=" +
		hex.EncodeToString(mac(signing, toSign))
}

// AliyunPOPSignature is the Signature of an Aliyun RPC-style (POP) request with params (all
// of them but Signature) sent with method: Base64(HMAC-SHA1(secret + "&", method + "&%2F&" +
// percentEncode(the params sorted, each percent-encoded, joined by &))).
func AliyunPOPSignature(method string, params map[string]string, secret string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = PercentEncode(k) + "=" + PercentEncode(params[k])
	}
	h := hmac.New(sha1.New, []byte(secret+"&"))
	h.Write([]byte(method + "&" + PercentEncode("/") + "&" + PercentEncode(strings.Join(pairs, "&"))))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// PercentEncode percent-encodes as Aliyun's POP wants: RFC 3986, only A-Z a-z 0-9 - _ . ~
// left.
func PercentEncode(s string) string {
	e := url.QueryEscape(s)
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(e)
}

// AliyunTimestamp is the Timestamp parameter of a POP request made at t (ISO 8601, UTC).
func AliyunTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
