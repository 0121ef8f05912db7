// Package problem is the one shape every HTTP error of gongdan takes: an RFC 9457 problem
// detail (application/problem+json), from the API and from the connectors' HTTP intake alike,
// so a client handles errors one way. Type is /problems/<slug>; the slugs are listed in Titles.
package problem

import (
	"context"
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem detail, the body of every error answer.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Field names the request field that was wrong, where there is one.
	Field string `json:"field,omitempty"`
	// RequestID ties the answer to the server's log.
	RequestID string `json:"request_id,omitempty"`
}

func (p *Problem) Error() string { return p.Detail }

// Titles holds every kind of problem gongdan answers with, by slug.
var Titles = map[string]string{
	"bad-request":            "Bad request",
	"malformed-json":         "Malformed JSON",
	"unauthorized":           "Missing or unknown token",
	"bad-signature":          "Missing or wrong signature",
	"replayed":               "Request replayed",
	"forbidden":              "Not allowed for this role",
	"local-only":             "Only from this host",
	"not-found":              "Not found",
	"no-open-ticket":         "No open ticket to update",
	"routing-off":            "Routing is not configured",
	"method-not-allowed":     "Method not allowed",
	"unknown-action":         "Unknown action",
	"illegal-transition":     "Illegal transition",
	"stale-version":          "Stale version",
	"command-id-reused":      "Command id reused",
	"idempotency-key-reused": "Idempotency-Key reused",
	"payload-too-large":      "Payload too large",
	"too-many-requests":      "Too many requests",
	"unsupported-media-type": "Unsupported media type",
	"invalid-data":           "Invalid data",
	"ticket-frozen":          "Ticket frozen",
	"unavailable":            "Service unavailable",
	"internal":               "Internal error",
}

// New makes a problem of the kind slug.
func New(status int, slug, detail string) *Problem {
	return &Problem{Type: "/problems/" + slug, Title: Titles[slug], Status: status, Detail: detail}
}

type ctxKey struct{}

// WithRequestID stores the request id that Write puts into answers.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id stored in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Write answers with p.
func Write(w http.ResponseWriter, r *http.Request, p *Problem) {
	p.RequestID = RequestID(r.Context())
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}
