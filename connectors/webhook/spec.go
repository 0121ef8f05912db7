package webhook

import (
	_ "embed"
	"strconv"

	"gongdan/connectors"
)

// Field names, used by the spec and by the getters alike.
const (
	fieldMapping      = "mapping"
	fieldSignature    = "signature"
	fieldSigHeader    = "header"
	fieldSigSecret    = "secret"
	fieldSigPrefix    = "prefix"
	fieldSigEncoding  = "encoding"
	fieldDedupHeader  = "dedup_header"
	fieldMaxBodyBytes = "max_body_bytes"
	fieldKeepHeaders  = "keep_headers"
)

//go:embed sample.yaml
var sample string

func init() { connectors.Register(spec()) }

func spec() connectors.Spec {
	return connectors.Spec{
		Type:    "webhook",
		Summary: "Takes JSON requests at POST /ingest/{name}: drafts as they are, or any JSON through a field mapping.",
		Description: `
A system that can call a URL (a CRM, an ERP, a monitoring tool, a form) sends one JSON object per
request to ` + "`POST /ingest/{name}`" + ` with ` + "`Content-Type: application/json`" + `. The connector answers
**202 Accepted** with the envelope id once the request is durable on the bus; the ticket is made
moments later by the pipeline. A client that gets anything else must retry: the request was not
taken. Send the same ` + "`Idempotency-Key`" + ` header (or the header named by ` + "`dedup_header`" + `) on a retry and it
makes one ticket however often it arrives.

Without a ` + "`mapping`" + `, the body must be a draft (see DESIGN.md §3: title or description, customer,
device, location, urgency, …). With one, each draft field is computed from the request by an
[expr](https://expr-lang.org) expression over ` + "`payload`" + ` (the decoded JSON), ` + "`headers`" + ` (lowercase
names) and ` + "`received_at`" + `. Use ` + "`?.`" + ` and ` + "`??`" + ` for fields that may be missing:
` + "`payload.contact?.mobile ?? \"\"`" + `. ` + "`occurred_at`" + ` takes an RFC 3339 time or Unix seconds or
milliseconds. ` + "`now()`" + ` is not available: a replayed request must map as it did the first time, so
use ` + "`received_at`" + `. The mapping runs in the pipeline, not at the edge: a request it
cannot map is still answered 202, and lands in the dead letters with the error; fix the mapping,
restart, and ` + "`gongdan deadletters replay`" + ` turns it into a ticket.

Errors, as application/problem+json: 400 malformed JSON or not an object, 401 missing or wrong
signature, 413 body over ` + "`max_body_bytes`" + `, 415 not JSON, 503 the bus is unavailable (retry).
`,
		Mount:   "ingest",
		Example: sample,
		Fields: []connectors.Field{
			{
				Name: fieldMapping, Kind: connectors.KindStringMap,
				Description: "Draft fields computed from the request, one expr expression each. Keys are draft fields: " +
					mappableList() + ". Without a mapping the body must be a draft itself.",
				Example: `{title: payload.subject, customer.phone: payload.contact?.mobile ?? ""}`,
			},
			{
				Name: fieldSignature, Kind: connectors.KindObject,
				Description: "Check an HMAC-SHA256 signature of the raw body, sent in a header. Requests without a valid signature are answered 401.",
				Fields: []connectors.Field{
					{Name: fieldSigHeader, Kind: connectors.KindString, Default: "X-Signature-256", Description: "The header that carries the signature."},
					{Name: fieldSigSecret, Kind: connectors.KindString, Required: true, Secret: true, Description: "The shared secret, at least 16 characters; write ${ENV_VAR}.", Check: minLen(16)},
					{Name: fieldSigPrefix, Kind: connectors.KindString, Default: "", Description: "Text before the signature in the header, such as sha256= (GitHub's style).", Example: `"sha256="`},
					{Name: fieldSigEncoding, Kind: connectors.KindString, Default: "hex", Enum: []string{"hex", "base64"}, Description: "How the signature bytes are written."},
				},
			},
			{
				Name: fieldDedupHeader, Kind: connectors.KindString, Default: "Idempotency-Key",
				Description: "The request header that identifies a request at its source. Requests with the same value make one ticket, however often they are retried. Without it, each request is new.",
			},
			{
				Name: fieldMaxBodyBytes, Kind: connectors.KindInt, Default: 1 << 20, Min: connectors.Bound(1), Max: connectors.Bound(64 << 20),
				Description: "The largest body accepted; larger requests are answered 413.", Advanced: true,
			},
			{
				Name: fieldKeepHeaders, Kind: connectors.KindStringList, Default: []string{"User-Agent", "X-Request-Id"},
				Description: "Request headers kept with the envelope, for mappings (headers.x_request_id) and for the record. Authorization and the signature header are never kept.",
				Advanced:    true,
			},
		},
		New: newWebhook,
	}
}

func minLen(n int) func(any) error {
	return func(v any) error {
		if s, _ := v.(string); len(s) < n {
			return errTooShort(n)
		}
		return nil
	}
}

type errTooShort int

func (e errTooShort) Error() string {
	return "too short: use at least " + strconv.Itoa(int(e)) + " characters (openssl rand -hex 24)"
}
