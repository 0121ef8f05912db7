package hotline

import (
	_ "embed"
	"slices"
	"time"

	"gongdan/connectors"
	"gongdan/connectors/intakeauth"
)

// TypeHotline is the connector type.
const TypeHotline = "hotline"

// Field names, used by the spec and by the getters alike.
const (
	fieldFormat        = "format"
	fieldAgentChannel  = "agent_channel"
	fieldAgentSpeaker  = "agent_speaker"
	fieldThreadWindow  = "thread_window"
	fieldAgitated      = "agitated_emotion"
	fieldCallbackToken = "callback_token"
	fieldMaxBodyBytes  = "max_body_bytes"
	fieldCDR           = "cdr"
	fieldCDRMapping    = "mapping"
	fieldCDRJoinOn     = "join_on"
	fieldCDRAnswer     = "answer"
	fieldCDRWait       = "cdr_wait"
)

//go:embed sample.yaml
var sample string

func init() { connectors.Register(spec()) }

func formatNames() []string {
	var out []string
	for _, f := range Formats {
		out = append(out, string(f))
	}
	return out
}

func spec() connectors.Spec {
	return connectors.Spec{
		Type:    TypeHotline,
		Summary: "Turns 400-hotline calls, as cloud ASR (Aliyun, Tencent Cloud, iFlytek) or a call centre's own ASR transcribed them, into tickets filled from what the customer said.",
		Description: `
The call centre records each call; a cloud ASR service turns the recording into a transcript.
This connector takes the transcript at ` + "`POST /ingest/{name}`" + ` as the vendor delivers it and makes
one ticket per call, with the customer's phone, address, device serial, fault and urgency read
from what the **customer** said — never from the agent's greeting or questions — and the whole
call kept turn by turn (` + "`sources[].turns`" + `: role, start, end, text).

**Formats** (` + "`format: auto`" + ` recognises each by its shape; name one to accept only it):

- ` + "`aliyun`" + `: 录音文件识别 ` + "`GetTaskResult`" + ` bodies and the callback (` + "`Result.Sentences[]`" + ` with ` + "`ChannelId`" + `,
  ` + "`BeginTime`" + `, ` + "`EndTime`" + `, ` + "`Text`" + `, ` + "`EmotionValue`" + `), old and ` + "`version=4.0`" + ` shapes.
- ` + "`tencent`" + `: 录音文件识别 ` + "`DescribeTaskStatus`" + ` bodies (` + "`Status`" + ` 2 is a result; 3, a failure, becomes a dead
  letter with its ` + "`ErrorMsg`" + `) and the callback, ` + "`application/x-www-form-urlencoded`" + ` (` + "`code`" + `, ` + "`requestId`" + `,
  ` + "`text`" + `, ` + "`resultDetail`" + `, ` + "`audioUrl`" + `), answered exactly ` + "`{\"code\":0,\"message\":\"success\"}`" + `.
- ` + "`iflytek`" + `: 录音文件转写 ` + "`getResult`" + ` bodies (` + "`content.orderResult`" + ` → ` + "`lattice[].json_1best`" + `).
- ` + "`generic`" + `: ` + "`{call_id, caller, callee, started_at, agent_id, recording_url, turns: [{speaker: agent|customer, start_ms, end_ms, text}]}`" + `
  for call centres with their own ASR.

A result is answered **200** (` + "`{\"code\":0,\"message\":\"success\",\"envelope_id\":…}`" + `) only once it is durable
on the bus; anything else means it was not taken and must be sent again. The same result sent
twice makes one ticket: its key is the vendor, the task id and the day of the call (Tencent
reuses task ids across days), or the generic format's ` + "`call_id`" + `.

**Who spoke.** Each turn is the agent's or the customer's: from the body (generic), from
` + "`agent_channel`" + ` (Aliyun's ` + "`ChannelId`" + ` on a stereo recording) or ` + "`agent_speaker`" + ` (Tencent's ` + "`SpeakerId`" + `,
iFlytek's ` + "`rl`" + `), or, when neither is set, from the words: the speaker who greets with a job number,
offers help and asks for the number or address (您好，工号…为您服务；请问您的地址…) is the agent, whoever
spoke first. A mono call is read turn by turn. The decision and why are in the draft's evidence
(field ` + "`turns`" + `).

**What the customer said.** Spoken numbers become digits (幺三八 零零幺二 三四五六 → 13800123456,
四百零六号 → 406号, SN零四二七杠零零幺九 → SN-0427-0019) before the shared extractors read phone, device
serial (` + "`normalize.device_serials`" + `), address, category and urgency (困人/冒烟/起火 → red). The phone
the customer said wins; without one, the caller id (generic ` + "`caller`" + `), marked ` + "`caller_id`" + ` in evidence.
The title is the customer's first sentence that says something (not 喂/你好). A caller who says
投诉/太慢了/第三次打, or whose emotion value reaches ` + "`agitated_emotion`" + `, gets the tag ` + "`情绪激动`" + `.

**Repeat calls (催单).** The thread key is the customer's phone and the call's category: a second
call about the same problem within ` + "`thread_window`" + ` (72 h) joins the open ticket.

**Who may send.** ASR vendors that cannot sign their callbacks (Tencent, iFlytek) are given a
callback URL with a secret: ` + "`https://gongdan.example.com/ingest/{name}?token=<callback_token>`" + `, compared
in constant time. A call centre signs (` + "`signature`" + `) or sends a token (` + "`tokens`" + `). Without any of
them, gongdan serves the connector on loopback only.

Errors, as application/problem+json: 400 malformed body; 401 no or a wrong token or signature;
413 over ` + "`max_body_bytes`" + `; 415 neither JSON nor a form; 422 not an ASR result, a task not finished,
an empty transcript, or iFlytek's completion notice (post the ` + "`getResult`" + ` body); 503 the bus is
unavailable (send again).

**Call records (CDR).** With a ` + "`cdr`" + ` section, the call centre posts each call's record to
` + "`POST /ingest/{name}/cdr`" + ` (one JSON object, or an array of them as Aliyun posts), mapped to gongdan's
fields by expressions over ` + "`payload`" + ` (one record) and ` + "`query`" + ` (the URL's query), as the webhook
maps. A transcript is joined to its record on the call id: ` + "`join_on`" + ` says where a transcript's is
(an expression over ` + "`transcript`" + ` — ` + "`task_id`" + `, ` + "`call_id`" + `, ` + "`recording_url`" + `, ` + "`caller`" + ` — and ` + "`query`" + `, the
query of the callback URL, so a task submitted with ` + "`…/ingest/hotline?token=…&call_id=C-1`" + ` is joined by
` + "`query.call_id`" + `). Whichever comes first waits on disk (synced before it is answered, so a crash
loses neither); the ticket gets the record's caller (when the customer said no number), start
time, agent, recording and agent leg whichever came first. A record posted twice is one. A
transcript whose record has not come after ` + "`cdr_wait`" + ` becomes a ticket with what it has (evidence
says the record is missing); a record whose transcript never comes is dropped after a day.
Without a ` + "`cdr`" + ` section a transcript becomes a ticket at once.

Not built yet (issue 20): polling vendors' task APIs (` + "`/ingest/{name}/tasks`" + `, ` + "`poll`" + `), fetching
iFlytek results on its completion notice, fetching recordings into the attachment store.
`,
		Mount:   "ingest",
		Example: sample,
		Fields: slices.Concat([]connectors.Field{
			{
				Name: fieldFormat, Kind: connectors.KindString, Default: string(FormatAuto), Enum: formatNames(),
				Description: "How results are read: auto recognises each vendor's shapes; aliyun, tencent, iflytek or generic accepts only that one.",
			},
			{
				Name: fieldAgentChannel, Kind: connectors.KindInt, Min: connectors.Bound(0), Max: connectors.Bound(15),
				Description: "The recording channel the agent is on (Aliyun's ChannelId on a stereo recording). Unset: the agent is found by what they say.",
				Example:     "0",
			},
			{
				Name: fieldAgentSpeaker, Kind: connectors.KindInt, Min: connectors.Bound(0), Max: connectors.Bound(99),
				Description: "The speaker id the agent has (Tencent's SpeakerId, iFlytek's rl) when the ASR tells speakers apart. Unset: the agent is found by what they say.",
				Example:     "0",
			},
			{
				Name: fieldThreadWindow, Kind: connectors.KindDuration, Default: 72 * time.Hour, Min: connectors.Bound(0), Max: connectors.Bound(90 * 24 * 3600),
				Description: "How long after a call a second call from the same number about the same kind of problem joins its open ticket (催单). 0: every call is a ticket of its own.",
			},
			{
				Name: fieldAgitated, Kind: connectors.KindFloat, Default: 7.0, Min: connectors.Bound(0), Max: connectors.Bound(10),
				Description: "The emotion value (Aliyun EmotionValue, Tencent EmotionalEnergy: 1–10, higher is more agitated) at or above which a customer's turn tags the ticket 情绪激动. 0: by words only.",
				Advanced:    true,
			},
			{
				Name: fieldCallbackToken, Kind: connectors.KindString, Secret: true, Check: intakeauth.CheckSecret,
				Description: "A secret for the callback URL of vendors that cannot sign (Tencent, iFlytek): they call /ingest/{name}?token=<it>. At least 16 characters, random.",
				Example:     `"${HOTLINE_CALLBACK_TOKEN}"`,
			},
			{
				Name: fieldCDR, Kind: connectors.KindObject,
				Description: "Call records, posted to /ingest/{name}/cdr, joined to their transcripts on the call id.",
				Fields: []connectors.Field{
					{
						Name: fieldCDRMapping, Kind: connectors.KindStringMap, Required: true,
						Description: "The record's fields, one expr expression each over payload (one record) and query: call_id (required), caller, callee, direction, " +
							"started_at, answered_at, ended_at (RFC 3339, 2006-01-02 15:04:05 China time, or Unix seconds or ms), agent_id, recording_url, agent_channel (the channel or speaker the agent is on).",
						Example: `{call_id: payload.session_id, caller: payload.caller, started_at: payload.start_time, agent_id: string(payload.agent_id ?? "")}`,
					},
					{
						Name: fieldCDRJoinOn, Kind: connectors.KindString, Default: `transcript.call_id != "" ? transcript.call_id : query.call_id ?? ""`,
						Description: "The call id of a transcript, an expr expression over transcript (vendor, task_id, call_id, recording_url, caller, callee, agent_id) and query (the callback URL's query). Empty: the transcript is not joined.",
					},
					{
						Name: fieldCDRAnswer, Kind: connectors.KindString, Default: `{"code":0,"message":"success"}`,
						Description: "The JSON a record is answered with once it is durable (Aliyun wants {\"code\":0}).", Advanced: true,
					},
				},
			},
			{
				Name: fieldCDRWait, Kind: connectors.KindDuration, Default: 2 * time.Minute, Min: connectors.Bound(1), Max: connectors.Bound(7 * 24 * 3600),
				Description: "How long a transcript waits for its call record before it becomes a ticket without one (with a cdr section).",
			},
		}, intakeauth.Fields(intakeauth.Options{KeyHeader: "nothing (a result has no key header: sign <timestamp>..<body>)", What: "results"}), []connectors.Field{
			{
				Name: fieldMaxBodyBytes, Kind: connectors.KindInt, Default: 8 << 20, Min: connectors.Bound(1), Max: connectors.Bound(MaxBodyBytes),
				Description: "The largest body accepted (a five-hour call's iFlytek result is some 16 MiB); larger ones are answered 413.", Advanced: true,
			},
		}),
		New: newHotline,
	}
}
