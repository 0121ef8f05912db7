package hotline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gongdan/connectors"
	"gongdan/problem"
)

// POST /ingest/{name}/tasks: a call centre that hands over only the ids of the ASR tasks it
// submitted posts them here, {"vendor": "tencent"|"aliyun"|"iflytek", "task_id": "…",
// "call_id": "…"} or an array of them; each is kept on disk before the answer (202), and the
// poller asks the vendor until the result is published.

// maxTasksPerPost bounds the tasks of one post.
const maxTasksPerPost = 1000

// taskIDPattern is what a vendor's task id looks like: Tencent's are integers, Aliyun's hex,
// iFlytek's letters and digits.
var taskIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// taskPost is one task as posted.
type taskPost struct {
	Vendor string   `json:"vendor"`
	TaskID jsonText `json:"task_id"`
	CallID string   `json:"call_id"`
}

// taskTaken is how the answer reports a task: queued, or known already (nothing changed).
type taskTaken struct {
	Vendor string `json:"vendor"`
	TaskID string `json:"task_id"`
	State  string `json:"state"`
}

type tasksTaken struct {
	Code      int         `json:"code"`
	Message   string      `json:"message"`
	Connector string      `json:"connector"`
	Tasks     []taskTaken `json:"tasks"`
}

// serveTasks takes ASR task ids: checks who sent them and that each is one of a configured
// vendor, keeps them all, and answers 202 once they are kept. One bad task refuses the post
// before anything is kept.
func (h *Hotline) serveTasks(rw http.ResponseWriter, r *http.Request) {
	if !connectors.PostOnly(rw, r, "post ASR task ids with POST") {
		return
	}
	h.env.Stats.Received.Add(1)
	check, body, p := h.jsonBody(rw, r, `post task ids as JSON (application/json): {"vendor": "tencent", "task_id": "…", "call_id": "…"} or an array of them`)
	var posts []taskPost
	if p == nil {
		posts, p = h.readTasks(body)
	}
	if p != nil {
		release(check)
		h.env.Refuse(rw, r, "hotline tasks", p)
		return
	}
	query := queryOf(r)
	answer := tasksTaken{Code: 0, Message: "accepted", Connector: h.name}
	for _, tp := range posts {
		q := map[string]string{}
		for k, v := range query {
			q[k] = v
		}
		if tp.CallID != "" {
			q["call_id"] = tp.CallID
		}
		now := h.env.Now().In(h.env.Location)
		known, err := h.poll.add(asrTask{Vendor: Format(tp.Vendor), TaskID: tp.TaskID.s, Query: q,
			EnvelopeID: h.env.NewID(), ReceivedAt: now, NextAt: now})
		if err != nil {
			release(check)
			h.env.NotStored(rw, r, "hotline tasks", err, "the tasks were not all kept; post them again (those kept are not asked about twice)")
			return
		}
		state := "queued"
		if known {
			state = "known"
		}
		answer.Tasks = append(answer.Tasks, taskTaken{Vendor: tp.Vendor, TaskID: tp.TaskID.s, State: state})
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusAccepted)
	json.NewEncoder(rw).Encode(answer)
}

// readTasks reads and checks a post of tasks.
func (h *Hotline) readTasks(body []byte) ([]taskPost, *problem.Problem) {
	bad := func(typ, format string, args ...any) ([]taskPost, *problem.Problem) {
		return nil, problem.New(http.StatusUnprocessableEntity, typ, fmt.Sprintf(format, args...))
	}
	body = bytes.TrimSpace(body)
	if !json.Valid(body) {
		return nil, problem.New(http.StatusBadRequest, "malformed-body", jsonFault(json.Unmarshal(body, new(any)), "").Reason)
	}
	if err := checkElements(body, ""); err != nil {
		return bad("too-many-tasks", "%s", err.Reason)
	}
	if len(body) > 0 && body[0] != '[' {
		body = append(append([]byte{'['}, body...), ']')
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var posts []taskPost
	if err := dec.Decode(&posts); err != nil {
		return bad("bad-task", `each task is {"vendor": "tencent"|"aliyun"|"iflytek", "task_id": "…", "call_id": "…"}: %s`, clip(err.Error(), 256))
	}
	if len(posts) == 0 || len(posts) > maxTasksPerPost {
		return bad("too-many-tasks", "a post holds 1 to %d tasks, this one %d", maxTasksPerPost, len(posts))
	}
	for i, tp := range posts {
		at := fmt.Sprintf("task %d", i)
		switch v := Format(tp.Vendor); {
		case v != FormatTencent && v != FormatAliyun && v != FormatIflytek:
			return bad("unknown-vendor", "%s: vendor %q is none of tencent, aliyun, iflytek", at, clip(tp.Vendor, 32))
		case h.poll.vendors[v] == nil:
			return bad("vendor-not-configured", "%s: this connector does not ask %s about tasks: configure %s", at, v, vendorConfigKey(v))
		}
		id := tp.TaskID.s
		switch {
		case tp.TaskID.bad != "" || id == "":
			return bad("bad-task-id", "%s: task_id is missing or not a text or number", at)
		case !taskIDPattern.MatchString(id):
			return bad("bad-task-id", "%s: task_id %q is not a task id (letters, digits and . _ : -, at most 128)", at, clip(id, 64))
		case tp.Vendor == string(FormatTencent):
			// Sent to Tencent as a JSON integer: written as one, whatever zeros led it.
			n, err := strconv.ParseUint(id, 10, 64)
			if err != nil {
				return bad("bad-task-id", "%s: Tencent's task ids are whole numbers, not %q", at, clip(id, 64))
			}
			posts[i].TaskID.s = strconv.FormatUint(n, 10)
		}
		if c := tp.CallID; len(c) > maxField || !utf8.ValidString(c) || strings.ContainsFunc(c, unicode.IsControl) {
			return bad("bad-call-id", "%s: call_id is longer than %d bytes or holds control characters", at, maxField)
		}
	}
	return posts, nil
}

func vendorConfigKey(v Format) string {
	if v == FormatIflytek {
		return "iflytek"
	}
	return "poll." + string(v)
}
