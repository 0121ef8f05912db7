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

	fieldRecordings        = "recordings"
	fieldRecordingHosts    = "hosts"
	fieldRecordingMaxBytes = "max_bytes"
	fieldRecordingTimeout  = "timeout"
	fieldRecordingGiveUp   = "give_up_after"

	fieldIflytek         = "iflytek"
	fieldAppID           = "app_id"
	fieldSecretKey       = "secret_key"
	fieldBaseURL         = "base_url"
	fieldInterval        = "interval"
	fieldRate            = "rate"
	fieldPoll            = "poll"
	fieldTencent         = "tencent"
	fieldSecretID        = "secret_id"
	fieldRegion          = "region"
	fieldEndpoint        = "endpoint"
	fieldAliyun          = "aliyun"
	fieldAccessKeyID     = "access_key_id"
	fieldAccessKeySecret = "access_key_secret"
	fieldMaxInterval     = "max_interval"
)

// urlPattern is what a vendor's endpoint looks like: a scheme and a host, nothing after.
const urlPattern = `^https?://[A-Za-z0-9.:\[\]-]+/?$`

// iflytekFields are the keys of the iflytek section.
func iflytekFields() []connectors.Field {
	return []connectors.Field{
		{
			Name: fieldAppID, Kind: connectors.KindString, Required: true,
			Description: "The APPID of the iFlytek application (控制台 → 我的应用) the recordings were uploaded with.",
			Example:     `"${IFLYTEK_APP_ID}"`,
		},
		{
			Name: fieldSecretKey, Kind: connectors.KindString, Required: true, Secret: true,
			Description: "The application's SecretKey for 录音文件转写, which signs each getResult (signa).",
			Example:     `"${IFLYTEK_SECRET_KEY}"`,
		},
		{
			Name: fieldBaseURL, Kind: connectors.KindString, Default: "https://raasr.xfyun.cn", Pattern: urlPattern,
			PatternHint: "a URL with a scheme and a host only, like https://raasr.xfyun.cn",
			Description: "Where getResult is asked (<base_url>/v2/api/getResult).", Advanced: true,
		},
		{
			Name: fieldInterval, Kind: connectors.KindDuration, Default: 10 * time.Second, Min: connectors.Bound(0.01), Max: connectors.Bound(3600),
			Description: "The first wait after a getResult that was no result (still processing, a rate limit, iFlytek's fault); it doubles, with jitter, up to 72 h / 100 so that the 100 calls iFlytek allows an order last as long as it keeps the result.",
			Advanced:    true,
		},
		{
			Name: fieldRate, Kind: connectors.KindFloat, Default: float64(iflytekRate), Min: connectors.Bound(0.01), Max: connectors.Bound(1000),
			Description: "The most getResult calls a second, all orders together (iFlytek publishes no limit, but asks callers not to poll hard).",
			Advanced:    true,
		},
	}
}

// pollFields are the keys of the poll section.
func pollFields() []connectors.Field {
	return []connectors.Field{
		{
			Name: fieldTencent, Kind: connectors.KindObject,
			Description: "Tencent Cloud 录音文件识别: tasks are asked about with DescribeTaskStatus, signed with TC3-HMAC-SHA256, for as long as Tencent keeps them (24 h).",
			Fields: []connectors.Field{
				{
					Name: fieldSecretID, Kind: connectors.KindString, Required: true,
					Description: "The SecretId of an API key (访问管理 → API密钥管理) allowed asr:DescribeTaskStatus.",
					Example:     `"${TENCENT_SECRET_ID}"`,
				},
				{
					Name: fieldSecretKey, Kind: connectors.KindString, Required: true, Secret: true,
					Description: "Its SecretKey, which signs each request.",
					Example:     `"${TENCENT_SECRET_KEY}"`,
				},
				{
					Name: fieldRegion, Kind: connectors.KindString,
					Description: "The X-TC-Region sent (optional for DescribeTaskStatus).",
					Example:     "ap-shanghai",
				},
				{
					Name: fieldEndpoint, Kind: connectors.KindString, Default: "https://asr.tencentcloudapi.com", Pattern: urlPattern,
					PatternHint: "a URL with a scheme and a host only, like https://asr.tencentcloudapi.com",
					Description: "Where DescribeTaskStatus is asked.", Advanced: true,
				},
				{
					Name: fieldRate, Kind: connectors.KindFloat, Default: float64(tencentRate), Min: connectors.Bound(0.01), Max: connectors.Bound(10000),
					Description: "The most DescribeTaskStatus calls a second, all tasks together (Tencent's default limit is 50; raise it with Tencent's).",
					Advanced:    true,
				},
			},
		},
		{
			Name: fieldAliyun, Kind: connectors.KindObject,
			Description: "Aliyun 录音文件识别: tasks are asked about with GetTaskResult (a POP API signed with HMAC-SHA1), for as long as Aliyun keeps results (72 h).",
			Fields: []connectors.Field{
				{
					Name: fieldAccessKeyID, Kind: connectors.KindString, Required: true,
					Description: "The AccessKey ID of a RAM user allowed nls-filetrans:GetTaskResult.",
					Example:     `"${ALIYUN_ACCESS_KEY_ID}"`,
				},
				{
					Name: fieldAccessKeySecret, Kind: connectors.KindString, Required: true, Secret: true,
					Description: "Its AccessKey secret, which signs each request.",
					Example:     `"${ALIYUN_ACCESS_KEY_SECRET}"`,
				},
				{
					Name: fieldEndpoint, Kind: connectors.KindString, Default: "https://filetrans.cn-shanghai.aliyuncs.com", Pattern: urlPattern,
					PatternHint: "a URL with a scheme and a host only, like https://filetrans.cn-shanghai.aliyuncs.com",
					Description: "Where GetTaskResult is asked: the region the tasks were submitted in (filetrans.cn-beijing.aliyuncs.com, …).",
				},
				{
					Name: fieldRate, Kind: connectors.KindFloat, Default: float64(aliyunRate), Min: connectors.Bound(0.01), Max: connectors.Bound(10000),
					Description: "The most GetTaskResult calls a second, all tasks together (Aliyun allows a user 100).",
					Advanced:    true,
				},
			},
		},
		{
			Name: fieldInterval, Kind: connectors.KindDuration, Default: 10 * time.Second, Min: connectors.Bound(0.01), Max: connectors.Bound(3600),
			Description: "The wait after an answer that was no result (still running, a rate limit, the vendor's fault); it doubles, with jitter, up to max_interval.",
		},
		{
			Name: fieldMaxInterval, Kind: connectors.KindDuration, Default: 5 * time.Minute, Min: connectors.Bound(0.01), Max: connectors.Bound(6 * 3600),
			Description: "The longest wait between two questions about one task.", Advanced: true,
		},
	}
}

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
twice makes one ticket: its key is the generic format's ` + "`call_id`" + `, else the vendor and the task id
(for Tencent, which reuses task ids across days, with a hash of what was said: the same
Tencent result sent again, whenever and in whichever of its shapes, is one ticket, a call that
reuses the id another), else the body's SHA-256. A call
record adds nothing to the key.

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
an empty transcript, or iFlytek's completion notice without an ` + "`iflytek`" + ` section (post the
` + "`getResult`" + ` body); 503 the bus is unavailable (send again).

**Call records (CDR).** With a ` + "`cdr`" + ` section, the call centre posts each call's record to
` + "`POST /ingest/{name}/cdr`" + ` (one JSON object, or an array of them as Aliyun posts), mapped to gongdan's
fields by expressions over ` + "`payload`" + ` (one record) and ` + "`query`" + ` (the URL's query), as the webhook
maps. A transcript is joined to its record on the call id: ` + "`join_on`" + ` says where a transcript's is
(an expression over ` + "`transcript`" + ` — ` + "`task_id`" + `, ` + "`call_id`" + `, ` + "`recording_url`" + `, ` + "`caller`" + ` — and ` + "`query`" + `, the
query of the callback URL, so a task submitted with ` + "`…/ingest/hotline?token=…&call_id=C-1`" + ` is joined by
` + "`query.call_id`" + `). Whichever comes first waits on disk (synced before it is answered, so a crash
loses neither); the ticket gets the record's caller (when the customer said no number), start
time, agent, recording and agent leg whichever came first. A record posted twice is one; several
records of one call are merged, the first's fields winning — FreeSWITCH's ` + "`mod_json_cdr`" + ` posts one per
leg: map both to the A leg's id, ` + "`call_id: payload.variables.originating_leg_uuid ?? payload.variables.uuid`" + `. A
transcript whose record has not come after ` + "`cdr_wait`" + ` becomes a ticket with what it has (evidence
says the record is missing); a record whose transcript never comes is dropped after a day.
Without a ` + "`cdr`" + ` section a transcript becomes a ticket at once.

**iFlytek's completion notice.** iFlytek calls the upload's callbackUrl with only ` + "`orderId`" + ` and
` + "`status`" + ` (a GET; a POST of them is taken too). With an ` + "`iflytek`" + ` section the connector keeps the order
on disk (synced) and answers 200 once it is kept, then fetches ` + "`getResult`" + ` itself, signed with the
application's key (` + "`signa`" + `), asking again while the order is processing (from ` + "`interval`" + `, doubling with
jitter, so that the 100 calls iFlytek allows an order last the 72 h it keeps the result). The answer
is published exactly as if it had been posted here: the same normalizer, the same key, the same join
with a call record (give iFlytek the callback URL with ` + "`&call_id=…`" + ` for ` + "`join_on`" + ` to read). An order
that failed at iFlytek (status -1) becomes a dead letter with iFlytek's reason.

**Task ids (polling).** A call centre that hands over only the ids of the ASR tasks it submitted posts
them to ` + "`POST /ingest/{name}/tasks`" + `, authenticated as results are: ` + "`{\"vendor\": \"tencent\", \"task_id\": \"…\", \"call_id\": \"…\"}`" + `
(vendor ` + "`tencent`" + `, ` + "`aliyun`" + `, or ` + "`iflytek`" + ` for an order whose notice was lost; ` + "`call_id`" + ` optional, what
` + "`join_on`" + ` reads as ` + "`query.call_id`" + `), or an array of up to 1,000. It is answered **202**
(` + "`{\"tasks\": [{\"vendor\", \"task_id\", \"state\": \"queued\"|\"known\"}]}`" + `) once every task is kept on disk; a task
posted twice is one. A post with one bad task keeps none: 400 malformed, 401, 413, 415, 422 an unknown
vendor, a vendor this connector is not configured to ask, a task id that is not one. With a ` + "`poll`" + `
section the connector asks Tencent's ` + "`DescribeTaskStatus`" + ` (signed TC3-HMAC-SHA256) and Aliyun's
` + "`GetTaskResult`" + ` (POP, HMAC-SHA1) within each vendor's rate (50 and 100 a second), at once and, while the task runs,
again after ` + "`interval`" + `, doubling with jitter up to ` + "`max_interval`" + `; each result is published as if its
body had been posted.

**When it gives up.** Rate limits and the vendors' own faults (HTTP 429 and 5xx, RequestLimitExceeded,
Throttling.User, iFlytek 26600 and 26603) are asked again. A refusal for good (a wrong key:
AuthFailure, SignatureDoesNotMatch, iFlytek 26601), an answer that is no result, iFlytek's 100 calls
spent, or the vendor's retention passed (Tencent keeps a task 24 h, Aliyun and iFlytek their results
72 h) ends the task: a dead letter of type ` + "`hotline.asr.gave_up`" + ` names the vendor, the task, the call id
and why, and so does the connector's last error; post the task to ` + "`/tasks`" + ` again once the cause is
fixed. ` + "`GET /api/v1/connectors`" + ` shows the tasks waiting, by vendor, and those given up
(` + "`details.asr_tasks`" + `).

**Crashes.** A task is on disk from its answer until its result is on the bus, and a call is counted
before it is made: after a crash the vendor is asked again at most once, a result already fetched is
published from disk, and a result published twice is the same envelope (its id and time fixed when
the task came), with the same key: one ticket.

**Recordings.** With a ` + "`recordings`" + ` section, a call's recording (the transcript's link, else its
record's) is fetched into the attachment store before its ticket is made: the call waits on
disk, so the vendor is answered at once and a crash loses nothing, and the ticket's attachments
name the kept file (` + "`attachment:<sha256>`" + `) before the vendor's link. Only the listed ` + "`hosts`" + ` are
fetched from, without redirects, at most ` + "`max_bytes`" + `, each try within ` + "`timeout`" + `; a recording not had
by ` + "`give_up_after`" + ` leaves the ticket with the link and the reason in its evidence.
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
				Name: fieldRecordings, Kind: connectors.KindObject,
				Description: "Keep each call's recording in the attachment store: the call waits on disk (it is answered at once) until its recording is fetched, " +
					"then becomes a ticket whose attachments name the kept file; a recording that cannot be had by give_up_after leaves the ticket with the vendor's link and the reason. " +
					"Recordings are fetched only from the listed hosts, without following redirects.",
				Fields: []connectors.Field{
					{Name: fieldRecordingHosts, Kind: connectors.KindStringList, Required: true,
						Description: "The hosts recordings are fetched from: a host, or .example.com for its subdomains. A link to any other host is not fetched.",
						Example:     "[.cos.ap-shanghai.myqcloud.com, pbx.example.cn]"},
					{Name: fieldRecordingMaxBytes, Kind: connectors.KindInt, Default: 64 << 20, Min: connectors.Bound(1), Max: connectors.Bound(1 << 30),
						Description: "The largest recording kept; a larger one is not (the ticket says why)."},
					{Name: fieldRecordingTimeout, Kind: connectors.KindDuration, Default: 30 * time.Second, Min: connectors.Bound(1), Max: connectors.Bound(600),
						Description: "How long one attempt to fetch a recording may take."},
					{Name: fieldRecordingGiveUp, Kind: connectors.KindDuration, Default: 2 * time.Minute, Min: connectors.Bound(1), Max: connectors.Bound(24 * 3600),
						Description: "How long after the call came its recording is tried for, before the ticket is made without it."},
				},
			},
			{
				Name: fieldCDRWait, Kind: connectors.KindDuration, Default: 2 * time.Minute, Min: connectors.Bound(1), Max: connectors.Bound(7 * 24 * 3600),
				Description: "How long a transcript waits for its call record before it becomes a ticket without one (with a cdr section).",
			},
			{
				Name: fieldIflytek, Kind: connectors.KindObject, Fields: iflytekFields(),
				Description: "iFlytek 录音文件转写: its completion notice (orderId, status) makes the connector fetch the order's getResult itself.",
			},
			{
				Name: fieldPoll, Kind: connectors.KindObject, Fields: pollFields(),
				Description: "ASR task ids posted to /ingest/{name}/tasks are asked about at the vendor's task API until the result comes: tencent, aliyun (one or both).",
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
