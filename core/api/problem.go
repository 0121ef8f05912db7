package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/problem"
)

// Problem is the body of every error answer.
type Problem = problem.Problem

func newProblem(status int, slug, detail string) *Problem { return problem.New(status, slug, detail) }

// problemFor maps an error from the engine, the ticket package or decoding to its answer.
func problemFor(err error) *Problem {
	var p *Problem
	var de *ticket.DataError
	var fe *draft.FieldError
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, ticket.ErrFrozen):
		return newProblem(http.StatusLocked, "ticket-frozen", err.Error())
	case errors.Is(err, ticket.ErrStaleVersion):
		return newProblem(http.StatusConflict, "stale-version", err.Error())
	case errors.Is(err, ticket.ErrIllegalTransition):
		return newProblem(http.StatusConflict, "illegal-transition", err.Error())
	case errors.Is(err, ticket.ErrForbidden):
		return newProblem(http.StatusForbidden, "forbidden", err.Error())
	case errors.As(err, &de):
		p := newProblem(http.StatusUnprocessableEntity, "invalid-data", de.Error())
		p.Field = de.Field
		return p
	case errors.As(err, &fe):
		p := newProblem(http.StatusUnprocessableEntity, "invalid-data", fe.Error())
		p.Field = fe.Field
		return p
	case errors.Is(err, ticket.ErrUnknownAction):
		return newProblem(http.StatusNotFound, "unknown-action", err.Error())
	case errors.Is(err, engine.ErrNotFound):
		return newProblem(http.StatusNotFound, "not-found", err.Error())
	case errors.Is(err, engine.ErrIdempotencyKeyReused):
		return newProblem(http.StatusUnprocessableEntity, "idempotency-key-reused", err.Error())
	case errors.Is(err, engine.ErrCommandIDReused):
		p := newProblem(http.StatusUnprocessableEntity, "command-id-reused", err.Error())
		p.Field = "command_id"
		return p
	case errors.Is(err, engine.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return newProblem(http.StatusServiceUnavailable, "unavailable", "the server is shutting down or the request was cancelled; retry")
	}
	return nil // internal: the caller logs it and answers without the details
}

func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) { problem.Write(w, r, p) }

// decodeJSON reads a JSON body into v strictly: one object, no unknown fields, within the
// size limit. Its errors are Problems naming what was wrong.
// An empty body is an error unless allowEmpty.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any, allowEmpty bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONType(ct) {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type",
			fmt.Sprintf("Content-Type %q: send application/json", ct))
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if allowEmpty && errors.Is(err, io.EOF) {
			return nil
		}
		return jsonProblem(err, limit)
	}
	if dec.More() {
		return newProblem(http.StatusBadRequest, "malformed-json", "the body holds more than one JSON value")
	}
	return nil
}

func jsonProblem(err error, limit int64) *Problem {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return newProblem(http.StatusRequestEntityTooLarge, "payload-too-large", fmt.Sprintf("the body is larger than %d bytes", limit))
	case errors.As(err, &se):
		return newProblem(http.StatusBadRequest, "malformed-json", fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se))
	case errors.As(err, &te) && te.Field == "":
		return newProblem(http.StatusBadRequest, "malformed-json", fmt.Sprintf("the body must be %s, got a JSON %s", ticket.JSONKind(te.Type), te.Value))
	case errors.As(err, &te):
		p := newProblem(http.StatusBadRequest, "malformed-json", fmt.Sprintf("%s: want %s, got a JSON %s", te.Field, ticket.JSONKind(te.Type), te.Value))
		p.Field = te.Field
		return p
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p := newProblem(http.StatusBadRequest, "malformed-json", fmt.Sprintf("unknown field %q", name))
		p.Field = name
		return p
	case errors.Is(err, io.EOF):
		return newProblem(http.StatusBadRequest, "malformed-json", "the body is empty: send a JSON object")
	}
	return newProblem(http.StatusBadRequest, "malformed-json", err.Error())
}

func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
