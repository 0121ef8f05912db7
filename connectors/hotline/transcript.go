// Package hotline is the 400-hotline connector: calls that a cloud ASR service (Aliyun
// 录音文件识别, Tencent Cloud 录音文件识别, iFlytek 录音文件转写) or a call centre's own ASR turned
// into transcripts become tickets.
//
// This part of the package is its decoding layer: pure functions that turn what each vendor
// delivers (a task result, a callback) into one canonical Transcript. It does no I/O, reads no
// clock and decides no roles: which speaker is the agent is for the connector to decide from
// its config, the call record or cues, and it must never be guessed here.
package hotline

import (
	"errors"
	"time"
)

// Format names how a body is to be read: one vendor's shapes, or auto to recognise them.
type Format string

// The formats of the hotline connector's `format` key.
const (
	FormatAuto    Format = "auto"
	FormatAliyun  Format = "aliyun"
	FormatTencent Format = "tencent"
	FormatIflytek Format = "iflytek"
	FormatGeneric Format = "generic"
)

// Formats lists the formats Decode takes, auto first.
var Formats = []Format{FormatAuto, FormatAliyun, FormatTencent, FormatIflytek, FormatGeneric}

// Role says who spoke a turn.
type Role string

// The roles of a turn. RoleUnknown is every vendor's turn until the connector decides: ASR
// vendors know channels and speakers, not who the agent is.
const (
	RoleUnknown  Role = ""
	RoleAgent    Role = "agent"
	RoleCustomer Role = "customer"
)

// Status is where the vendor's task stands.
type Status string

// The statuses a decoded body can report.
const (
	StatusDone    Status = "done"    // recognition finished; the transcript is the result
	StatusRunning Status = "running" // queued or still recognising; ask again later
	StatusFailed  Status = "failed"  // the vendor gave up; Failure says why
)

// Turn is one sentence of the call as the ASR heard it.
type Turn struct {
	// Speaker is the vendor's channel or speaker id as text ("0", "1"): Aliyun ChannelId,
	// Tencent SpeakerId, iFlytek rl; for the generic format what the call centre sent. Empty
	// when the vendor does not say.
	Speaker string `json:"speaker"`
	// Role is agent or customer when the body says so (the generic format), else unknown.
	Role Role `json:"role"`
	// StartMS and EndMS are offsets from the start of the recording, in milliseconds;
	// StartMS <= EndMS.
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
	// Text is what was said, trimmed, valid UTF-8, never empty, at most MaxTurnText bytes.
	Text string `json:"text"`
	// Emotion is Aliyun's EmotionValue or Tencent's EmotionalEnergy (both documented as
	// volume dB / 10 in [1, 10], higher is more agitated), nil when the vendor gave none.
	Emotion *float64 `json:"emotion,omitempty"`
}

// Transcript is one call's ASR result in one shape, whichever vendor produced it.
type Transcript struct {
	// Vendor is the format the body was read as: aliyun, tencent, iflytek or generic.
	Vendor Format `json:"vendor"`
	// Shape names the vendor's message: aliyun.GetTaskResult (also the version 4.0
	// callback, which has the same fields), aliyun.callback.legacy, tencent.DescribeTaskStatus,
	// tencent.callback, iflytek.getResult, generic.
	Shape string `json:"shape"`
	// TaskID is the vendor's task or order id (Aliyun TaskId, Tencent TaskId/requestId,
	// iFlytek orderId). Tencent reuses task ids across days: a dedup key needs a date too.
	TaskID string `json:"task_id,omitempty"`
	// CallID, Caller, Callee, StartedAt, AgentID and RecordingURL come from the generic
	// format; ASR vendors know none of them but the recording (Tencent's callback audioUrl).
	CallID       string    `json:"call_id,omitempty"`
	Caller       string    `json:"caller,omitempty"`
	Callee       string    `json:"callee,omitempty"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	AgentID      string    `json:"agent_id,omitempty"`
	RecordingURL string    `json:"recording_url,omitempty"`
	// AudioMS is the recording's length in milliseconds when the vendor says (Aliyun
	// BizDuration, Tencent AudioDuration/audioTime, iFlytek originalDuration), else 0.
	AudioMS int64 `json:"audio_ms,omitempty"`
	// Status is done for every transcript Decode returns without an error.
	Status Status `json:"status"`
	// Failure is the vendor's reason when Status is failed.
	Failure string `json:"failure,omitempty"`
	// Turns are the sentences sorted by StartMS (ties keep the vendor's order); never empty
	// when Decode returns no error.
	Turns []Turn `json:"turns"`
}

// Limits on what one body may hold. A ten-minute call has some 120 turns of 10–60 characters;
// these are far above any real call. With the count of array elements checked before
// encoding/json decodes them (at most 262,144 in a body or in a JSON string inside it) and
// form fields before they are parsed (64), a hostile body costs a small multiple of its size.
const (
	// MaxBodyBytes is the largest body Decode reads (an iFlytek result of a five-hour
	// recording, JSON inside JSON, is about this size).
	MaxBodyBytes = 16 << 20
	// MaxTurns is the most sentences one transcript may have; more is refused, not cut.
	MaxTurns = 5000
	// MaxTurnText is the most bytes of one turn's text that are kept (cut at a character).
	MaxTurnText = 16 << 10
	// MaxNestedBytes bounds one iFlytek json_1best string, a JSON document inside the
	// result's JSON inside the body's JSON.
	MaxNestedBytes = 1 << 20
	// maxField bounds every other string kept (ids, numbers, URLs).
	maxField = 2048
	// maxOffsetMS is the latest offset a turn may have: 48 hours, far beyond any vendor's
	// limit (Aliyun 12 h, iFlytek 5 h); larger values are corrupt.
	maxOffsetMS = 48 * 3600 * 1000
)

// TencentCallbackAnswer is the body Tencent's recording-recognition callback must be answered
// with (HTTP 200, JSON); anything else makes Tencent call again.
const TencentCallbackAnswer = `{"code":0,"message":"success"}`

// The kinds of DecodeError, for errors.Is.
var (
	// ErrMalformed: the body (or a JSON string inside it) is not valid JSON or form data. 400.
	ErrMalformed = errors.New("malformed body")
	// ErrUnknownFormat: the format is none of Formats. 400 (a config error, really).
	ErrUnknownFormat = errors.New("unknown format")
	// ErrUnrecognised: the body is well-formed but no vendor's shape (or not the forced
	// vendor's). 422.
	ErrUnrecognised = errors.New("not an ASR result")
	// ErrInvalid: a recognised shape with a value that cannot be right (a negative offset,
	// a status that is not a number). 422.
	ErrInvalid = errors.New("invalid value")
	// ErrNotFinished: the vendor's task is queued or running; the transcript has Status
	// running. A poller asks again; an intake answers 422.
	ErrNotFinished = errors.New("task not finished")
	// ErrVendorFailed: the vendor reports the task failed; the transcript has Status failed
	// and the vendor's reason in Failure. A dead letter with that reason. 422.
	ErrVendorFailed = errors.New("task failed at the vendor")
	// ErrVendorAPI: the vendor refused the request itself (Tencent Response.Error, an iFlytek
	// request error such as a rate limit): nothing is known about the task. 422.
	ErrVendorAPI = errors.New("vendor API error")
	// ErrNoResult: the body is iFlytek's completion notice, which holds no transcript;
	// fetch it with getResult (DecodeIflytekCallback reads the notice). 422.
	ErrNoResult = errors.New("no transcript in the body")
	// ErrEmptyTranscript: the task finished but not one sentence has text. 422.
	ErrEmptyTranscript = errors.New("empty transcript")
	// ErrTooLarge: the body is over MaxBodyBytes or has more than MaxTurns sentences. 413.
	ErrTooLarge = errors.New("transcript too large")
)

// DecodeError is every error Decode returns. Status is the HTTP status an intake answers with
// (400, 413 or 422); Kind is one of the Err* values above (errors.Is works on the DecodeError
// itself); Reason says what was wrong, where and, where it helps, what to do.
type DecodeError struct {
	Kind   error
	Status int
	// Field is where in the body the fault is, when one field is ("Result.Sentences[3].BeginTime").
	Field  string
	Reason string
}

func (e *DecodeError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrVendorFailed) and the like work.
func (e *DecodeError) Unwrap() error { return e.Kind }
