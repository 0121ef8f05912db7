package webhook

import (
	_ "embed"
	"slices"

	"gongdan/connectors"
	"gongdan/connectors/intakeauth"
)

// Field names, used by the spec and by the getters alike.
const (
	fieldMapping      = "mapping"
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

The keys fail loudly. A ` + "`dedup_key`" + ` or ` + "`thread_key`" + ` that comes out nil (a field the expression
reads is missing), and a key or id (` + "`source.external_id`" + `, ` + "`customer.id`" + `, ` + "`customer.wechat_openid`" + `,
` + "`customer.wecom_userid`" + `, ` + "`device.id`" + `) that holds ` + "`<nil>`" + ` (expr's ` + "`string(nil)`" + `), ends in ` + "`/`" + ` or
` + "`:`" + ` with nothing after it, is true/false, or — when a field it reads is missing — is the very value a
request that carries nothing (an empty payload, no headers) gets — ` + "`\"order-\" + string(payload.order_id ?? \"\")`" + ` gives ` + "`order-`" + ` to every
request without the field, ` + "`string(payload.customer_no ?? 0)`" + ` gives ` + "`0`" + ` — makes the request a dead
letter that names the missing field: such a key would be shared by every request without that
field, and all but the first would vanish as duplicates (or join one thread). Say what a request without the field should do, with an empty
string: ` + "`payload.order_id != nil ? \"crm/\" + string(payload.order_id) : \"\"`" + `. An empty ` + "`dedup_key`" + ` is the
request's own key (its ` + "`dedup_header`" + `, else its envelope id), an empty ` + "`thread_key`" + ` no thread.
A ` + "`dedup_key`" + ` that reads nothing of the request (a constant) is refused by validate; a constant
` + "`thread_key`" + ` is one thread for everything the webhook sends, as a single monitor may want.

**Who may send.** Anyone who can reach an unsigned webhook can make tickets through it, so
gongdan serves one only on a loopback address (DESIGN.md §11, docs/SECURITY.md). Beyond
loopback, sign the requests (` + "`signature`" + `) or give the sender a token (` + "`tokens`" + `). By default a
signature covers a timestamp, the ` + "`dedup_header`" + ` and the body — the HMAC-SHA256, keyed with the
secret, of ` + "`<timestamp>.<key>.<body>`" + ` — so a captured request cannot be sent again: a
timestamp more than ` + "`max_skew`" + ` from the clock is refused, and so is the same signed request a
second time (409). In shell:

` + "```sh" + `
# the example's crm connector: dedup_header X-Request-Id, prefix sha256=
ts=$(date +%s); key=crm-req-1; body='{"order_id":88231,"subject":"冷库压缩机停机"}'
sig=$(printf '%s.%s.%s' "$ts" "$key" "$body" | openssl dgst -sha256 -hmac "$CRM_WEBHOOK_SECRET" -hex | sed 's/^.* //')
curl -H 'Content-Type: application/json' -H "X-Gongdan-Timestamp: $ts" -H "X-Request-Id: $key" \
     -H "X-Signature-256: sha256=$sig" -d "$body" http://127.0.0.1:8080/ingest/crm
` + "```" + `

A sender that can sign only the body (GitHub's ` + "`X-Hub-Signature-256`" + `) uses ` + "`mode: body`" + `: its
` + "`dedup_header`" + ` is not signed then and is ignored; the request's key is its body's SHA-256, so a
replayed body makes no second ticket.

Errors, as application/problem+json: 400 malformed JSON or not an object, or a key with a dot
under a timestamp signature; 401 missing or wrong token or signature, or a timestamp out of
` + "`max_skew`" + `; 409 a signed request taken already (type replayed); 413 body over
` + "`max_body_bytes`" + `; 415 not JSON; 503 the bus is unavailable (retry).
`,
		Mount:   "ingest",
		Example: sample,
		Fields: slices.Concat([]connectors.Field{
			{
				Name: fieldMapping, Kind: connectors.KindStringMap,
				Description: "Draft fields computed from the request, one expr expression each. Keys are draft fields: " +
					mappableList() + ". Without a mapping the body must be a draft itself.",
				Example: `{title: payload.subject, customer.phone: payload.contact?.mobile ?? ""}`,
			},
		}, intakeauth.Fields(intakeauth.Options{KeyHeader: "dedup_header", What: "requests"}), []connectors.Field{
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
				Description: "Request headers kept with the envelope, for mappings (headers.x_request_id) and for the record. Authorization, Cookie and the signature header are never kept.",
				Advanced:    true,
			},
		}),
		New: newWebhook,
	}
}
