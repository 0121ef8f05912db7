package ocr

import (
	_ "embed"
	"slices"
	"time"

	"gongdan/connectors"
	"gongdan/connectors/intakeauth"
	"gongdan/draft"
)

// Field names, used by the spec and by the getters alike.
const (
	fieldWatchDir      = "watch_dir"
	fieldPoll          = "poll_interval"
	fieldGroup         = "group"
	fieldKeywords      = "keywords"
	fieldUseDictionary = "use_dictionary"
	fieldEvery         = "every_message"
	fieldStaff         = "staff"
	fieldThreadWindow  = "thread_window"
	fieldMaxBytes      = "max_bytes"
	fieldMaxPixels     = "max_pixels"
	fieldLanguages     = "languages"
	fieldWorkers       = "workers"
	fieldUpload        = "upload"
)

// The budget of uploads by default: a phone forwards a few screenshots a minute, of a few
// hundred KiB each; a whole group's history at once is a dozen. Four uploads at once hold at
// most one screenshot each in memory (the others are spooled to disk).
var defaultBudget = intakeauth.BudgetDefaults{RequestsPerMinute: 30, BytesPerMinute: 64 << 20, Concurrent: 4, What: "uploads"}

// TypeOCR is the connector type.
const TypeOCR = "ocr"

//go:embed sample.yaml
var sample string

// DefaultKeywords mark a group message as a service request.
var DefaultKeywords = []string{"报修", "坏了", "故障", "失灵", "不能用", "维修", "漏水", "停机", "报警", "不制冷"}

func init() { connectors.Register(spec()) }

func spec() connectors.Spec {
	return connectors.Spec{
		Type:    TypeOCR,
		Summary: "Reads screenshots of WeChat group chats (Tesseract, chi_sim + eng): who said what, when; the service requests become tickets.",
		Description: `
Personal WeChat groups have no API; service teams forward screenshots of them instead. This
connector reads those screenshots: the chat's title, each message's sender, side, time and text,
and turns the customers' service requests into tickets with nobody retyping them.

Screenshots come in two ways:

- ` + "`POST /ingest/{name}`" + ` with ` + "`multipart/form-data`" + `: one or more PNG or JPEG files (any field
  name), and optionally the fields ` + "`group`" + ` (the group's name, when the title bar is cropped off)
  and ` + "`taken_at`" + ` (RFC 3339: when the screenshots were taken, for "昨天 14:05"; default now).
  A single image may also be sent as the body with ` + "`Content-Type: image/png`" + ` or ` + "`image/jpeg`" + `.
  The uploader proves who it is with a token (` + "`Authorization: Bearer …`" + `, see ` + "`tokens`" + `) or a
  signature (see ` + "`signature`" + `; the body signed is the request's body as sent, multipart and all);
  an upload without them is taken only while the connector has neither, which gongdan allows on a
  loopback address only. Each uploader has a ` + "`budget`" + ` of uploads and bytes a minute.
  The answer is **202 Accepted** with one envelope per image once they are durable; 400 no image
  in the request (or an empty one), 401 no or a wrong token or signature, 409 a signed upload sent
  again, 413 a file over ` + "`max_bytes`" + `, more than 20 files or a request over the budget's minute, 415 a
  file that is not a PNG or JPEG (by its contents, not its name) or over ` + "`max_pixels`" + `, 429 over the
  budget (with Retry-After), 503 too many uploads at once (retry). Nothing of a refused request
  is kept — its files are written to a temporary folder as they arrive, all checked, and kept as
  attachments only once the whole request is — except that a file refused for what it is (415) is
  kept in the dead letters with the reason. ` + "`upload: false`" + ` turns the endpoint off (404), for a
  connector that takes screenshots only from its folder or from another connector
  (` + "`screenshots_to`" + `).
- ` + "`watch_dir`" + `: a folder (a shared drive, a phone's sync folder). Each new PNG or JPEG is taken
  once two looks at the folder found it unchanged: moved to ` + "`done/`" + ` once it is durable, or to
  ` + "`failed/`" + ` with a ` + "`.error.txt`" + ` beside it saying why (and to the dead letters). Its
  modification time is when it was taken.

The OCR runs in the pipeline (a corrupt image that passed the edge's header check becomes a
dead letter there). A screenshot's structure is found from its pixels before anything is read:
the page's colour, the title and input bars, the avatar squares (photos or initials, in a
column at either edge, or none in a crop), the bubbles, cards and pictures, and the lines drawn
on the page. Each region is then read by Tesseract on its own (through a pool of ` + "`workers`" + `
clients), made black on white whatever its colours (white and green, light and dark mode): a
bubble's lines, each name label (scaled up when small), the title bar, the time separators
(` + "`上午 9:42`" + `, ` + "`昨天 14:05`" + `, ` + "`星期一 08:10`" + `, ` + "`2026年1月5日 下午3:20`" + `, resolved against when it was
taken). A message's side is told as a person tells it — the avatar it stands beside, the way its
bubble's tail points, its colour (only one's own are green), the name above it — with where the
bubble reaches only as a last resort; when these disagree the message's evidence says so, with a
lower confidence. A name one character away from one of ` + "`staff`" + ` or from a surer reading of
the same picture is taken as that name. Pictures, stickers, voice messages, files, links, red
packets and transfers are recognised as what they are and make no drafts; a reply's quoted
message is not part of its text; system lines (someone joined, a message was recalled, 以下是新消息)
are left out.

A message from a customer (left side, not one of ` + "`staff`" + `) is a request when it has one of
the ` + "`keywords`" + `, names a fault of the dictionary (` + "`use_dictionary`" + `), or always with
` + "`every_message`" + `. The same sender's other messages join the request's ticket when they come
within ` + "`thread_window`" + ` of it — the phone number, the address, the serial given a message
later, in the same screenshot or the next — and make nothing otherwise. Phone numbers,
addresses and device serials are read by the pipeline's extractors (` + "`normalize:`" + `). Each
draft's evidence names the message and its box in the picture; the screenshot is kept as an
attachment (` + "`GET /api/v1/attachments/{sha256}`" + `).

The same message in two overlapping screenshots, or one screenshot sent twice, makes one
ticket: a message is known by its group, sender, day and text (normalised: whitespace and
full-width forms), not by the picture it was read from. That holds among the screenshots staff
upload or drop in the folder; a screenshot a customer forwarded through a WeChat connector's
` + "`screenshots_to`" + ` is known by its sender too (keys under ` + "`<name>/forwarded/<connector>:<openid>/`" + `): what a
follower's picture shows can never join or pre-empt a ticket made from staff's screenshots.

` + "`gongdan ocr IMAGE…`" + ` prints what a screenshot reads as (messages and drafts) before going live.
Tesseract and its Chinese data are Debian's ` + "`tesseract-ocr`" + ` and ` + "`tesseract-ocr-chi-sim`" + ` (` + "`make deps`" + `).
`,
		Mount:   "ingest",
		Example: sample,
		Fields: slices.Concat([]connectors.Field{
			{Name: fieldWatchDir, Kind: connectors.KindPath, Example: "inbox/screenshots",
				Description: "A folder to take screenshots from; done/ and failed/ are made in it. Without it, screenshots come only by POST /ingest/{name}."},
			{Name: fieldPoll, Kind: connectors.KindDuration, Default: 2 * time.Second, Min: connectors.Bound(0.1), Max: connectors.Bound(3600),
				Description: "How often watch_dir is looked at.", Advanced: true},
			{Name: fieldGroup, Kind: connectors.KindString,
				Description: "The group's name when a screenshot's title bar is cropped off (an upload's group field comes first; the title bar, when read, comes before both)."},
			{Name: fieldKeywords, Kind: connectors.KindStringList, Default: DefaultKeywords,
				Description: "A customer's message with one of these is a service request."},
			{Name: fieldUseDictionary, Kind: connectors.KindBool, Default: true,
				Description: "A message that names a fault of the dictionary (normalize: dictionary) is a request too."},
			{Name: fieldEvery, Kind: connectors.KindBool, Default: false,
				Description: "Every customer message is a request (a group that exists only for service)."},
			{Name: fieldStaff, Kind: connectors.KindStringList, Example: "[客服小王, 李工]",
				Description: "Group names of the service team: their messages never open tickets (the phone owner's, on the right, never do). A name read one character away from one of these is taken as it."},
			{Name: fieldThreadWindow, Kind: connectors.KindDuration, Default: 30 * time.Minute, Min: connectors.Bound(0), Max: connectors.Bound(7 * 24 * 3600),
				Description: "A customer's messages within this time after a request join its ticket."},
			{Name: fieldMaxBytes, Kind: connectors.KindInt, Default: 5 << 20, Min: connectors.Bound(1024), Max: connectors.Bound(5 << 20),
				Description: "The largest screenshot file taken. A screenshot travels the bus whole (base64 in JSON, a third larger): 5 MiB fits the embedded NATS server's 8 MiB messages; an external server's max_payload (1 MiB by default) must be raised to match.", Advanced: true},
			{Name: fieldMaxPixels, Kind: connectors.KindInt, Default: 12_000_000, Min: connectors.Bound(65536), Max: connectors.Bound(40_000_000),
				Description: "The largest screenshot, in pixels (a 1080×2400 phone screenshot is 2.6 million).", Advanced: true},
			{Name: fieldLanguages, Kind: connectors.KindStringList, Default: []string{"chi_sim", "eng"},
				Description: "Tesseract's languages, by their data files' names.", Advanced: true},
			{Name: fieldWorkers, Kind: connectors.KindInt, Default: 0, Min: connectors.Bound(0), Max: connectors.Bound(64),
				Description: "Tesseract clients reading at once; 0: one per core. Each holds some 100 MiB.", Advanced: true},
			{Name: fieldUpload, Kind: connectors.KindBool, Default: true,
				Description: "Take uploads at POST /ingest/{name}. false: the screenshots come only from watch_dir or another connector (wechat's screenshots_to), and the connector opens no way in."},
		}, intakeauth.Fields(intakeauth.Options{KeyHeader: "the Idempotency-Key header", What: "uploads"}),
			[]connectors.Field{intakeauth.BudgetField(defaultBudget)}),
		New: newConnector,
		// A follow-up with no request before it in its picture only joins its sender's open ticket.
		Intents: []string{draft.IntentUpdate},
	}
}
