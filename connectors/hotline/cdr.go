package hotline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"gongdan/connectors"
	"gongdan/draft"
)

// CDR is a call's record from the call centre, in gongdan's words, whatever the system's:
// Tencent 云联络中心's session record, Aliyun's, a FreeSWITCH leg.
type CDR struct {
	CallID       string    `json:"call_id"`
	Caller       string    `json:"caller,omitempty"`
	Callee       string    `json:"callee,omitempty"`
	Direction    string    `json:"direction,omitempty"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	AnsweredAt   time.Time `json:"answered_at,omitzero"`
	EndedAt      time.Time `json:"ended_at,omitzero"`
	AgentID      string    `json:"agent_id,omitempty"`
	RecordingURL string    `json:"recording_url,omitempty"`
	// AgentChannel is the channel or speaker of the recording the agent is on, when the record
	// says (its agent leg); nil when not.
	AgentChannel *int `json:"agent_channel,omitempty"`
}

// timeField is the time field of c named f (started_at, answered_at, ended_at).
func (c *CDR) timeField(f string) *time.Time {
	switch f {
	case "started_at":
		return &c.StartedAt
	case "answered_at":
		return &c.AnsweredAt
	}
	return &c.EndedAt
}

// textField is the text field of c named f (call_id, caller, callee, direction, agent_id,
// recording_url).
func (c *CDR) textField(f string) *string {
	switch f {
	case "call_id":
		return &c.CallID
	case "caller":
		return &c.Caller
	case "callee":
		return &c.Callee
	case "direction":
		return &c.Direction
	case "agent_id":
		return &c.AgentID
	}
	return &c.RecordingURL
}

// cdrFields are the CDR fields a mapping may set; call_id is required.
var cdrFields = []string{"call_id", "caller", "callee", "direction", "started_at", "answered_at", "ended_at", "agent_id", "recording_url", "agent_channel"}

// cdrEnv is what a CDR mapping's expressions see: one record, and the query of the URL it was
// posted to.
type cdrEnv struct {
	Payload any               `expr:"payload"`
	Query   map[string]string `expr:"query"`
}

// joinEnv is what join_on sees: the transcript as decoded, and the query of its callback URL
// (an ASR task submitted with ?call_id=… in its callback URL says which call it is).
type joinEnv struct {
	Transcript map[string]any    `expr:"transcript"`
	Query      map[string]string `expr:"query"`
}

// Headers of a hotline envelope.
const (
	headerCDR        = "cdr"         // the joined call record, as JSON
	headerCDRMissing = "cdr_missing" // "true": no record came within cdr_wait
)

// joiner joins each transcript to its call record, durably: whichever comes first waits in the
// instance's state directory (synced before it is answered) until the other comes, and a
// transcript whose record does not come is published alone after cdr_wait.
type joiner struct {
	mapping map[string]*vm.Program
	joinOn  *vm.Program
	answer  string
	wait    time.Duration
	// keep is how long a record waits for a transcript before it is dropped.
	keep time.Duration
	dir  string

	mu   sync.Mutex
	wake chan struct{}
}

// waitingCall is a transcript waiting for its record, as kept on disk.
type waitingCall struct {
	Key string `json:"key"`
	// Identity tells transcripts of one call apart (Tencent's 云联络中心 records each
	// participant apart: two transcripts, one call id): the call's dedup key, see callKey.
	Identity    string            `json:"identity"`
	EnvelopeID  string            `json:"envelope_id"`
	ReceivedAt  time.Time         `json:"received_at"`
	ContentType string            `json:"content_type"`
	Query       map[string]string `json:"query,omitempty"`
	Body        []byte            `json:"body"`
	// RecordingURL is the transcript's recording, to be kept (recordings:) when it is published.
	RecordingURL string `json:"recording_url,omitempty"`
}

// waitingCDR is a record waiting for its transcript, as kept on disk.
type waitingCDR struct {
	ReceivedAt time.Time `json:"received_at"`
	CDR        CDR       `json:"cdr"`
}

// compileJoiner compiles the cdr section; errs are keyed by the field they are about.
func compileJoiner(c *connectors.Conf, wait time.Duration, stateDir string) (*joiner, map[string]error) {
	j := &joiner{mapping: map[string]*vm.Program{}, answer: c.String(fieldCDRAnswer), wait: wait, keep: 24 * time.Hour,
		wake: make(chan struct{}, 1)}
	if stateDir != "" {
		j.dir = filepath.Join(stateDir, "calls")
	}
	errs := map[string]error{}
	m := c.StringMap(fieldCDRMapping)
	for _, f := range c.StringMapKeys(fieldCDRMapping) {
		if !slices.Contains(cdrFields, f) {
			errs[fieldCDRMapping+"."+f] = fmt.Errorf("%q is no field of a call record (one of: %s)", f, strings.Join(cdrFields, ", "))
			continue
		}
		p, err := expr.Compile(m[f], expr.Env(cdrEnv{}), expr.MaxNodes(2000), expr.DisableBuiltin("now"))
		if err != nil {
			errs[fieldCDRMapping+"."+f] = fmt.Errorf("expression does not compile: %s", oneLine(err))
			continue
		}
		j.mapping[f] = p
	}
	if _, ok := j.mapping["call_id"]; !ok && errs[fieldCDRMapping+".call_id"] == nil {
		errs[fieldCDRMapping] = errors.New("call_id is required: it is what a transcript is joined on")
	}
	p, err := expr.Compile(c.String(fieldCDRJoinOn), expr.Env(joinEnv{}), expr.MaxNodes(2000), expr.DisableBuiltin("now"))
	if err != nil {
		errs[fieldCDRJoinOn] = fmt.Errorf("expression does not compile: %s", oneLine(err))
	}
	j.joinOn = p
	return j, errs
}

// key is the call id a transcript is joined on; "" when join_on gives none.
func (j *joiner) key(t Transcript, query map[string]string) (string, error) {
	tr := map[string]any{"vendor": string(t.Vendor), "task_id": t.TaskID, "call_id": t.CallID, "caller": t.Caller,
		"callee": t.Callee, "recording_url": t.RecordingURL, "agent_id": t.AgentID}
	v, err := expr.Run(j.joinOn, joinEnv{Transcript: tr, Query: query})
	if err != nil {
		return "", fmt.Errorf("join_on: %s", oneLine(err))
	}
	s, err := scalar(v)
	if err != nil {
		return "", fmt.Errorf("join_on: %v", err)
	}
	return s, nil
}

// records reads a CDR post: one record, or a JSON array of them (Aliyun posts arrays).
func (j *joiner) records(body []byte, query map[string]string) ([]CDR, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	if len(items) == 0 || len(items) > maxRecordsPerPost {
		return nil, fmt.Errorf("a post holds 1 to %d call records, this one %d", maxRecordsPerPost, len(items))
	}
	out := make([]CDR, 0, len(items))
	for i, item := range items {
		if _, ok := item.(map[string]any); !ok {
			return nil, fmt.Errorf("record %d is not a JSON object", i)
		}
		c, err := j.record(item, query)
		if err != nil {
			return nil, fmt.Errorf("record %d: %v", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

const maxRecordsPerPost = 1000

func (j *joiner) record(payload any, query map[string]string) (CDR, error) {
	var c CDR
	env := cdrEnv{Payload: payload, Query: query}
	names := make([]string, 0, len(j.mapping))
	for f := range j.mapping {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		v, err := expr.Run(j.mapping[f], env)
		if err != nil {
			return CDR{}, fmt.Errorf("%s: %s", f, oneLine(err))
		}
		if v == nil {
			continue
		}
		switch f {
		case "started_at", "answered_at", "ended_at":
			at, err := cdrTime(v)
			if err != nil {
				return CDR{}, fmt.Errorf("%s: %v", f, err)
			}
			*c.timeField(f) = at
		case "agent_channel":
			s, err := scalar(v)
			if err != nil {
				return CDR{}, fmt.Errorf("%s: %v", f, err)
			}
			if s == "" {
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > 99 {
				return CDR{}, fmt.Errorf("%s: %q is no channel (0–99)", f, s)
			}
			c.AgentChannel = &n
		default:
			s, err := scalar(v)
			if err != nil {
				return CDR{}, fmt.Errorf("%s: %v", f, err)
			}
			if len(s) > 2048 {
				return CDR{}, fmt.Errorf("%s: longer than 2048 bytes", f)
			}
			*c.textField(f) = s
		}
	}
	if c.CallID == "" {
		return CDR{}, errors.New("call_id: the mapping gives no call id for this record")
	}
	return c, nil
}

// transcriptArrived takes a transcript that needs its record: with the record here already,
// it is published joined; else it waits, durably. publish is called under the joiner's lock.
// The record stays (until keep passes): another transcript of the call, or this one sent again,
// is joined to it too, and makes no second ticket (its dedup key is its own, see callKey).
func (j *joiner) transcriptArrived(ctx context.Context, p waitingCall, publish func(context.Context, waitingCall, *CDR) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var w waitingCDR
	switch err := j.read(recordName(p.Key), &w); {
	case err == nil:
		return publish(ctx, p, &w.CDR)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	name := waitingName(p.Key, p.Identity)
	var earlier waitingCall
	if err := j.read(name, &earlier); err == nil {
		return nil // sent again: the first is waiting already
	}
	if err := j.write(name, p); err != nil {
		return err
	}
	select {
	case j.wake <- struct{}{}:
	default:
	}
	return nil
}

// cdrArrived takes a record: it is kept, durably, and every transcript of its call waiting is
// published with it. A crash between the two leaves the record and the transcripts on disk,
// and the sweep joins them.
func (j *joiner) cdrArrived(ctx context.Context, c CDR, now time.Time, publish func(context.Context, waitingCall, *CDR) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var earlier waitingCDR
	switch err := j.read(recordName(c.CallID), &earlier); {
	case err == nil:
		// Another record of the call (FreeSWITCH posts one per leg) or the same again: what
		// the first did not say, this one adds.
		c, now = mergeRecords(earlier.CDR, c), earlier.ReceivedAt
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := j.write(recordName(c.CallID), waitingCDR{ReceivedAt: now, CDR: c}); err != nil {
		return err
	}
	return j.joinWaiting(ctx, c.CallID, &c, publish)
}

// mergeRecords is a call's record a with what b says and a does not.
func mergeRecords(a, b CDR) CDR {
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill(&a.Caller, b.Caller)
	fill(&a.Callee, b.Callee)
	fill(&a.Direction, b.Direction)
	fill(&a.AgentID, b.AgentID)
	fill(&a.RecordingURL, b.RecordingURL)
	for _, t := range []struct{ dst, src *time.Time }{{&a.StartedAt, &b.StartedAt}, {&a.AnsweredAt, &b.AnsweredAt}, {&a.EndedAt, &b.EndedAt}} {
		if t.dst.IsZero() {
			*t.dst = *t.src
		}
	}
	if a.AgentChannel == nil {
		a.AgentChannel = b.AgentChannel
	}
	return a
}

// joinWaiting publishes the transcripts of call waiting, with c, and removes them.
func (j *joiner) joinWaiting(ctx context.Context, call string, c *CDR, publish func(context.Context, waitingCall, *CDR) error) error {
	names, err := filepath.Glob(filepath.Join(j.dir, waitingName(call, "*")+".json"))
	if err != nil {
		return err
	}
	for _, n := range names {
		name := strings.TrimSuffix(filepath.Base(n), ".json")
		var p waitingCall
		if err := j.read(name, &p); err != nil {
			return err
		}
		if err := publish(ctx, p, c); err != nil {
			return err
		}
		if err := j.remove(name); err != nil {
			return err
		}
	}
	return nil
}

// The files of the join: a record by its call, a waiting transcript by its call and identity.
func recordName(call string) string { return "c-" + fileKey(call) }

func waitingName(call, identity string) string {
	if identity == "*" {
		return "t-" + fileKey(call) + "-*"
	}
	return "t-" + fileKey(call) + "-" + fileKey(identity)
}

// run publishes the transcripts whose record did not come within the wait, alone, and drops
// records no transcript came for within keep, until ctx ends. A publish that fails is tried
// again; nothing is removed before it is published.
func (j *joiner) run(ctx context.Context, now func() time.Time, publish func(context.Context, waitingCall, *CDR) error, failed func(error)) {
	for {
		next, err := j.sweep(ctx, now(), publish)
		if err != nil {
			failed(err)
			next = now().Add(time.Second)
		}
		d := time.Until(next)
		if next.IsZero() {
			d = time.Hour
		}
		t := time.NewTimer(max(d, 10*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-j.wake:
			t.Stop()
		}
	}
}

// sweep publishes what is due and says when the next is due (zero: nothing waits).
func (j *joiner) sweep(ctx context.Context, now time.Time, publish func(context.Context, waitingCall, *CDR) error) (time.Time, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	entries, err := os.ReadDir(j.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	later := func(at time.Time) {
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "t-") && strings.HasSuffix(name, ".json"):
			var p waitingCall
			if err := j.read(strings.TrimSuffix(name, ".json"), &p); errors.Is(err, fs.ErrNotExist) {
				continue // joined with another of its call's, above
			} else if err != nil {
				return next, err
			}
			var w waitingCDR
			switch err := j.read(recordName(p.Key), &w); {
			case err == nil:
				// The record came, and gongdan stopped before the transcript was joined.
				if err := j.joinWaiting(ctx, p.Key, &w.CDR, publish); err != nil {
					return next, err
				}
				continue
			case !errors.Is(err, fs.ErrNotExist):
				return next, err
			}
			if due := p.ReceivedAt.Add(j.wait); due.After(now) {
				later(due)
				continue
			}
			if err := publish(ctx, p, nil); err != nil {
				return next, err
			}
			if err := j.remove(strings.TrimSuffix(name, ".json")); err != nil {
				return next, err
			}
		case strings.HasPrefix(name, "c-") && strings.HasSuffix(name, ".json"):
			var w waitingCDR
			if err := j.read(strings.TrimSuffix(name, ".json"), &w); err != nil {
				return next, err
			}
			if due := w.ReceivedAt.Add(j.keep); due.After(now) {
				later(due)
				continue
			}
			if err := j.remove(strings.TrimSuffix(name, ".json")); err != nil {
				return next, err
			}
		}
	}
	return next, nil
}

func (j *joiner) read(name string, v any) error {
	if j.dir == "" {
		return fs.ErrNotExist
	}
	b, err := os.ReadFile(filepath.Join(j.dir, name+".json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("hotline: %s in %s is unreadable: %v", name, j.dir, err)
	}
	return nil
}

func (j *joiner) write(name string, v any) error {
	if j.dir == "" {
		return errors.New("hotline: no state directory to keep calls waiting for their records in")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return connectors.WriteFileAtomic(j.dir, name+".json", b)
}

func (j *joiner) remove(name string) error {
	if err := os.Remove(filepath.Join(j.dir, name+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return connectors.SyncDir(j.dir)
}

// fileKey names a call's files: its id's SHA-256, so that any id is a safe file name.
func fileKey(callID string) string {
	sum := sha256.Sum256([]byte(callID))
	return hex.EncodeToString(sum[:16])
}

// scalar is a mapped value as text: strings as they are, numbers without exponent, else an
// error naming the type.
func scalar(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return "", errors.New("a boolean, not a text or number")
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10), nil
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("a %T, not a text or number", v)
}

// cdrTime reads a record's time: RFC 3339, "2006-01-02 15:04:05" in the configured zone's
// sense (taken as China time, +08:00, as call centres there write it), or Unix seconds or
// milliseconds.
func cdrTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339, x); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation("2006-01-02 15:04:05", x, chinaTime); err == nil {
			return t, nil
		}
		if n, err := strconv.ParseFloat(x, 64); err == nil {
			return unixTime(n), nil
		}
		return time.Time{}, fmt.Errorf("%q is no time (RFC 3339, 2006-01-02 15:04:05, or Unix seconds or milliseconds)", x)
	case float64:
		return unixTime(x), nil
	case int:
		return unixTime(float64(x)), nil
	case int64:
		return unixTime(float64(x)), nil
	}
	return time.Time{}, fmt.Errorf("a %T is no time", v)
}

var chinaTime = time.FixedZone("CST", 8*3600)

func unixTime(n float64) time.Time {
	if n > 1e11 { // milliseconds
		return time.UnixMilli(int64(n)).In(chinaTime)
	}
	return time.Unix(int64(n), 0).In(chinaTime)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// withRecord gives a transcript what its call record knows and the transcript does not: the
// caller (the phone when the customer says none), callee, start, agent, recording; and the
// agent's leg, when the config does not name it, to o's roles.
func withRecord(t Transcript, c *CDR, o *callOptions) Transcript {
	if c == nil {
		return t
	}
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	// Not the call id: the transcript's key stays its own (vendor, task, day), so that the
	// same transcript published joined and, after a crash, alone is still one ticket.
	// The customer's number: the caller's, or on a call the agent made (a call-back), the
	// callee's — the caller's is then the company's line, which would join every customer
	// called back to one thread.
	if outbound(c.Direction) {
		fill(&t.Caller, c.Callee)
	} else {
		fill(&t.Caller, c.Caller)
		fill(&t.Callee, c.Callee)
	}
	fill(&t.AgentID, c.AgentID)
	fill(&t.RecordingURL, c.RecordingURL)
	if t.StartedAt.IsZero() {
		t.StartedAt = c.StartedAt
	}
	if c.AgentChannel != nil && o.roles.AgentChannel == nil && o.roles.AgentSpeaker == nil {
		o.roles.AgentChannel, o.roles.AgentSpeaker = c.AgentChannel, c.AgentChannel
	}
	return t
}

// outbound reports whether a record's direction is a call the call centre made.
func outbound(direction string) bool {
	d := strings.ToLower(strings.TrimSpace(direction))
	return strings.HasPrefix(d, "out") || d == "呼出" || d == "外呼" || d == "callout" || d == "call_out"
}

// noteRecord says in a call's evidence what its record gave, or that none came.
func noteRecord(d draft.Draft, c *CDR, missing bool) draft.Draft {
	switch {
	case c != nil:
		d.Evidence = append(d.Evidence, draft.Evidence{Field: "source.external_id", Text: "call record " + c.CallID + " (agent " + c.AgentID + ")", From: "cdr"})
	case missing:
		d.Evidence = append(d.Evidence, draft.Evidence{Field: "source.external_id", Text: "no call record came within cdr_wait: the ticket has what the transcript says", From: "cdr"})
	}
	return d
}
