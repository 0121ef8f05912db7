package hotline

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The generic format is for call centres with an ASR of their own, who know who spoke:
//
//	{"call_id": "…", "caller": "…", "callee": "…", "started_at": "2026-11-23T09:42:00+08:00",
//	 "agent_id": "…", "recording_url": "…",
//	 "turns": [{"speaker": "agent", "start_ms": 0, "end_ms": 2300, "text": "您好，…"}]}
//
// speaker is agent or customer (坐席/座席/客服 and 客户/用户 too); any other value is kept as
// a speaker id with the role unknown, for the connector to decide (agent_speaker), and a turn
// may say its role apart: {"speaker": "1", "role": "customer"}. started_at is RFC 3339 with
// an offset, or Unix seconds or milliseconds.

type genericTurn struct {
	Speaker jsonText  `json:"speaker"`
	Role    jsonText  `json:"role"`
	StartMS jsonInt   `json:"start_ms"`
	EndMS   jsonInt   `json:"end_ms"`
	Text    string    `json:"text"`
	Emotion jsonFloat `json:"emotion"`
}

type genericCall struct {
	CallID       jsonText        `json:"call_id"`
	Caller       jsonText        `json:"caller"`
	Callee       jsonText        `json:"callee"`
	StartedAt    json.RawMessage `json:"started_at"`
	AgentID      jsonText        `json:"agent_id"`
	RecordingURL jsonText        `json:"recording_url"`
	Turns        []genericTurn   `json:"turns"`
}

// roleNames maps what call centres write for who spoke.
var roleNames = map[string]Role{
	"agent": RoleAgent, "坐席": RoleAgent, "座席": RoleAgent, "客服": RoleAgent,
	"customer": RoleCustomer, "客户": RoleCustomer, "用户": RoleCustomer,
}

func decodeGeneric(body []byte) (Transcript, error) {
	t := Transcript{Vendor: FormatGeneric, Shape: "generic"}
	var c genericCall
	if err := unmarshal(body, &c); err != nil {
		return t, jsonFault(err, "")
	}
	for _, f := range []struct {
		name string
		v    jsonText
		to   *string
	}{
		{"call_id", c.CallID, &t.CallID},
		{"caller", c.Caller, &t.Caller},
		{"callee", c.Callee, &t.Callee},
		{"agent_id", c.AgentID, &t.AgentID},
		{"recording_url", c.RecordingURL, &t.RecordingURL},
	} {
		if f.v.bad != "" {
			return t, fail(ErrInvalid, f.name, "%s is %s; expected a string", f.name, f.v.bad)
		}
		*f.to = f.v.s
	}
	started, err := genericTime(c.StartedAt)
	if err != nil {
		return t, err
	}
	t.StartedAt = started
	b := builder{t: t}
	b.expect(len(c.Turns))
	for i, turn := range c.Turns {
		at := where{"turns", i}
		if turn.Speaker.bad != "" || turn.Role.bad != "" {
			return t, fail(ErrInvalid, at.String(), "%s: speaker and role are strings (agent or customer, or a speaker id)", at)
		}
		speaker, role := turn.Speaker.s, RoleUnknown
		if r, ok := roleNames[strings.ToLower(speaker)]; ok {
			role = r
		}
		if turn.Role.s != "" {
			r, ok := roleNames[strings.ToLower(turn.Role.s)]
			if !ok {
				return t, fail(ErrInvalid, at.String()+".role", "%s.role %q is neither agent nor customer", at, clip(turn.Role.s, 32))
			}
			role = r
		}
		if err := b.add(at, speaker, role, turn.StartMS, turn.EndMS, turn.Text, turn.Emotion); err != nil {
			return t, err
		}
	}
	return b.finish(fmt.Sprintf("call %s has no turn with text; send the transcript as turns[{speaker, start_ms, end_ms, text}]", nonEmpty(t.CallID, "(no call_id)")))
}

// genericTime reads started_at: RFC 3339 with an offset (a time without one would have to
// guess a zone), or Unix seconds or milliseconds.
func genericTime(raw json.RawMessage) (time.Time, *DecodeError) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, jsonFault(err, "started_at")
		}
		if s = strings.TrimSpace(s); s == "" {
			return time.Time{}, nil
		}
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fail(ErrInvalid, "started_at", "started_at %q is not an RFC 3339 time with an offset, such as 2026-11-23T09:42:00+08:00", clip(s, 64))
		}
		return at, nil
	}
	var n jsonInt
	_ = n.UnmarshalJSON(raw)
	switch {
	case !n.set || n.n <= 0:
		return time.Time{}, fail(ErrInvalid, "started_at", "started_at %s is neither an RFC 3339 time nor Unix seconds or milliseconds", clip(string(raw), 32))
	case n.n < 1e11: // seconds until the year 5138; milliseconds from 1973
		return time.Unix(n.n, 0).UTC(), nil
	case n.n < 1e14:
		return time.UnixMilli(n.n).UTC(), nil
	}
	return time.Time{}, fail(ErrInvalid, "started_at", "started_at %d is too large for Unix seconds or milliseconds", n.n)
}
