package wechat

import (
	_ "embed"
	"errors"
	"time"

	"gongdan/connectors"
)

// Field names, used by the specs and by the getters alike.
const (
	fieldAppID          = "app_id"
	fieldAppSecret      = "app_secret"
	fieldCorpID         = "corp_id"
	fieldAgentID        = "agent_id"
	fieldCorpSecret     = "corp_secret"
	fieldToken          = "token"
	fieldEncodingAESKey = "encoding_aes_key"
	fieldMode           = "mode"
	fieldTimestampSkew  = "timestamp_skew"
	fieldThreadWindow   = "thread_window"
	fieldIntakeMenuKeys = "intake_menu_keys"
	fieldMaxBodyBytes   = "max_body_bytes"
	fieldGuidedIntake   = "guided_intake"
	fieldCategory       = "category"
	fieldAskFor         = "ask_for"
	fieldPrompts        = "prompts"
	fieldGreeting       = "greeting"
	fieldCompleteReply  = "complete_reply"
	fieldOpenKfID       = "open_kfid"
	fieldPollEvery      = "poll_every"
	fieldPrivateKey     = "private_key"
	fieldKeywords       = "keywords"
	fieldUseDictionary  = "use_dictionary"
	fieldEveryMessageOf = "every_message_of"
	fieldScreenshotsTo  = "screenshots_to"
)

// Security modes of an official account (消息加解密方式).
const (
	modePlain      = "plain"      // 明文模式: only the URL signature, the body is plain XML
	modeCompatible = "compatible" // 兼容模式: plain and encrypted requests both accepted
	modeSafe       = "safe"       // 安全模式: every message encrypted and msg_signature checked
)

// Connector types.
const (
	TypeOfficialAccount = "wechat.officialaccount"
	TypeWork            = "wechat.work"
	TypeKF              = "wechat.kf"
	TypeArchive         = "wechat.archive"
)

//go:embed sample_officialaccount.yaml
var sampleOfficialAccount string

//go:embed sample_work.yaml
var sampleWork string

//go:embed sample_kf.yaml
var sampleKF string

//go:embed sample_archive.yaml
var sampleArchive string

func init() {
	connectors.Register(officialAccountSpec())
	connectors.Register(workSpec())
	connectors.Register(kfSpec())
	connectors.Register(archiveSpec())
}

// screenshotsField hands image messages to an ocr connector as chat screenshots.
var screenshotsField = connectors.Field{Name: fieldScreenshotsTo, Kind: connectors.KindString, Example: "groups",
	Description: "An ocr connector (by name) that also reads every picture customers send here as a screenshot of a WeChat group chat, " +
		"so that a group conversation forwarded as a screenshot becomes its requests' tickets. A picture that shows no chat makes nothing there. " +
		"Needs the picture kept (the attachment store; an image fetched from WeChat). " +
		"A screenshot a follower of an official account sends makes tickets of that sender's own (keys under <ocr>/forwarded/<connector>:<openid>/): it never joins or pre-empts tickets made from uploads or the watched folder. " +
		"One a WeCom app's member sends is the staff's, as an upload is (kept as uploaded_by <connector>:<userid>)."}

// commonFields are the callback fields both types share.
func commonFields(tokenDoc string) []connectors.Field {
	return []connectors.Field{
		{Name: fieldToken, Kind: connectors.KindString, Required: true, Secret: true, Check: checkToken,
			Description: tokenDoc + " Write ${ENV_VAR}."},
		{Name: fieldTimestampSkew, Kind: connectors.KindDuration, Default: 300 * time.Second, Min: connectors.Bound(0),
			Description: "How far a callback's timestamp may be from this server's clock before it is refused (401) as a replay. 0 turns the check off."},
		{Name: fieldThreadWindow, Kind: connectors.KindDuration, Default: 30 * time.Minute, Min: connectors.Bound(0),
			Description: "Messages of one customer join one ticket while each comes within this long of the one before; after a longer silence the next message opens a new ticket. 0: every message of the customer joins their open ticket."},
		{Name: fieldIntakeMenuKeys, Kind: connectors.KindStringList,
			Description: "EventKeys of menu buttons (CLICK events) that start an intake, such as a 报修 button: a click opens the customer's ticket before they write anything. Other events are counted and make no ticket.",
			Example:     `["V1001_REPAIR"]`},
		{Name: fieldMaxBodyBytes, Kind: connectors.KindInt, Default: 64 << 10, Min: connectors.Bound(512), Max: connectors.Bound(16 << 20), Advanced: true,
			Description: "The largest callback body accepted; larger ones are answered 413. WeChat's messages are a few kilobytes."},
	}
}

func officialAccountSpec() connectors.Spec {
	fields := []connectors.Field{
		{Name: fieldAppID, Kind: connectors.KindString, Required: true, Pattern: `^wx[0-9A-Za-z]{14,30}$`, PatternHint: "the AppID, wx followed by letters and digits",
			Description: "The official account's AppID (开发者ID). Encrypted messages must name it, or they are refused."},
		{Name: fieldAppSecret, Kind: connectors.KindString, Secret: true,
			Description: "The AppSecret, for calls to the WeChat API (media downloads, messages to customers). Taking messages in does not need it. Write ${ENV_VAR}."},
		{Name: fieldEncodingAESKey, Kind: connectors.KindString, Secret: true, Check: checkAESKey,
			Description: "The EncodingAESKey (消息加解密密钥, 43 characters), for compatible and safe mode. Write ${ENV_VAR}."},
		{Name: fieldMode, Kind: connectors.KindString, Enum: []string{modeSafe, modeCompatible, modePlain},
			Description: "The account's 消息加解密方式: safe (安全模式, every message encrypted), compatible (兼容模式, plain and encrypted accepted) or plain (明文模式). Default: safe with an encoding_aes_key, plain without. In plain mode the signature covers only the timestamp and nonce, not the message: use safe mode in production."},
	}
	fields = append(fields, guidedFields()...)
	return connectors.Spec{
		Type:    TypeOfficialAccount,
		Summary: "Takes the messages customers write to a WeChat official account (公众号) at /wechat/{name}.",
		Description: `
Set the account's server URL (服务器地址) to ` + "`https://<host>/wechat/{name}`" + `, with the same Token and
EncodingAESKey as here. WeChat checks the URL with a GET (` + "`echostr`" + `), which the connector answers
once the signature matches.

Every message (text, image, voice, video, location, link) and every intake menu click is
answered ` + "`success`" + ` only once it is durable on the bus, well within WeChat's 5 seconds; when the bus
cannot take it the answer is 503 and WeChat sends it again (three times). A message is known by
its MsgId (an event by its sender, time and kind), so a retried callback makes no second ticket.

A customer's messages become one ticket while they keep writing (` + "`thread_window`" + `): the first
message, even a greeting, opens it, and the ones after it are added to it. Voice messages carry
WeChat's speech recognition text when the account has it switched on. An image's picture (from
WeChat's image host, or through the API's media/get when ` + "`app_secret`" + ` is set) and a voice message's
file are fetched while the callback is answered (at most 3 s) and kept in the attachment store
(` + "`<data>/attachments`" + `, ` + "`GET /api/v1/attachments/{sha256}`" + `); what cannot be fetched in time, and video,
is kept by its media id. A location becomes the ticket's coordinates and address. A message of a type the connector does not know is still
taken in, with its type named, so that nothing a customer writes is lost. Events other than
intake menu clicks (subscribe, view, location reports) are counted and make no ticket.

With ` + "`guided_intake`" + `, the connector asks for what a request lacks. It reads each message with the
same extractors and dictionary as the pipeline (` + "`normalize:`" + `); while the conversation's category
needs a field no message has given yet (a phone number, an address, a device serial), the
answer to the message is a passive reply asking for it, encrypted like the message. The
customer's answers join the ticket and fill its empty fields. What the connector has heard of a
conversation is kept in memory: after a restart it may ask once more for something already given.

Refused, as application/problem+json, and counted: 401 wrong or missing signature, a timestamp
outside ` + "`timestamp_skew`" + `, a plain message to an account in safe mode, a message that does not
decrypt for this AppID; 400 malformed XML; 413 body over ` + "`max_body_bytes`" + `. Nothing refused is stored.
`,
		Mount:   "wechat",
		Example: sampleOfficialAccount,
		Fields:  append(append(fields, commonFields("The Token (令牌) set in the account's server config; it signs every callback.")...), screenshotsField),
		New:     newOfficialAccount,
	}
}

func workSpec() connectors.Spec {
	fields := []connectors.Field{
		{Name: fieldCorpID, Kind: connectors.KindString, Required: true, Pattern: `^w[wx][0-9A-Za-z]{14,30}$`, PatternHint: "the CorpID, ww or wx followed by letters and digits",
			Description: "The company's CorpID (企业ID). Every callback is encrypted for it, and one that is not is refused."},
		{Name: fieldAgentID, Kind: connectors.KindInt, Min: connectors.Bound(0),
			Description: "The app's AgentId. When set, messages for another app are refused (400)."},
		{Name: fieldCorpSecret, Kind: connectors.KindString, Secret: true,
			Description: "The app's Secret, for calls to the WeCom API (media downloads, app messages). Taking messages in does not need it. Write ${ENV_VAR}."},
		{Name: fieldEncodingAESKey, Kind: connectors.KindString, Required: true, Secret: true, Check: checkAESKey,
			Description: "The EncodingAESKey of the app's API receiving config (接收消息, 43 characters). Write ${ENV_VAR}."},
	}
	return connectors.Spec{
		Type:    TypeWork,
		Summary: "Takes the messages people write to a WeCom (企业微信) app at /wechat/{name}.",
		Description: `
Set the app's API receiving URL (接收消息服务器配置) to ` + "`https://<host>/wechat/{name}`" + `, with the same Token and
EncodingAESKey as here. WeCom checks the URL with a GET whose ` + "`echostr`" + ` is encrypted; the connector
verifies ` + "`msg_signature`" + ` itself, decrypts it with the CorpID as receiver id and answers the plain text.

Everything else is as for ` + "`wechat.officialaccount`" + `: every message is answered ` + "`success`" + ` once durable,
known by its MsgId, a person's messages within ` + "`thread_window`" + ` are one ticket (keyed on their
UserID), unknown message types are taken in with their type named, and refused callbacks (401,
400, 413) are counted and never stored.
`,
		Mount:   "wechat",
		Example: sampleWork,
		Fields:  append(append(fields, commonFields("The Token of the app's API receiving config; it signs every callback.")...), screenshotsField),
		New:     newWork,
	}
}

// guidedFields configure guided intake (the official account and WeChat customer service).
func guidedFields() []connectors.Field {
	return []connectors.Field{
		{Name: fieldGuidedIntake, Kind: connectors.KindObjectList,
			Description: "Guided intake: what a request must come with, by category. While a customer's conversation lacks a field, the answer to each message is a reply asking for it (phone, address, device serial), and their answers fill the ticket. An item without category applies to every other category. Without items the connector only answers success.",
			Example:     `[{ask_for: [customer.phone, location.address]}, {category: 电梯故障, ask_for: [customer.phone, location.address, device.id]}]`,
			Fields: []connectors.Field{
				{Name: fieldCategory, Kind: connectors.KindString, Description: "The category (as normalize: classifies it) the item is for; empty: any other."},
				{Name: fieldAskFor, Kind: connectors.KindStringList, Required: true, Enum: askable, Description: "The fields to ask for while they are missing."},
			}},
		{Name: fieldPrompts, Kind: connectors.KindStringMap, Description: "The question for each field, replacing the built-in ones (请留下您的联系电话… for customer.phone).",
			Example: `{device.id: 请发送电梯轿厢内铭牌上的设备编号。}`},
		{Name: fieldGreeting, Kind: connectors.KindString, Default: defaultGreeting, Description: "Said before the first question of a conversation."},
		{Name: fieldCompleteReply, Kind: connectors.KindString, Default: defaultComplete, Description: "Said once, when the last missing field arrives."},
	}
}

func checkToken(v any) error {
	s, _ := v.(string)
	if len(s) < 3 || len(s) > 32 {
		return errors.New("WeChat tokens are 3–32 letters and digits")
	}
	return nil
}

func checkAESKey(v any) error {
	s, _ := v.(string)
	if s == "" {
		return nil
	}
	if _, err := aesKey(s); err != nil {
		return err
	}
	return nil
}

func kfSpec() connectors.Spec {
	fields := []connectors.Field{
		{Name: fieldCorpID, Kind: connectors.KindString, Required: true, Pattern: `^w[wx][0-9A-Za-z]{14,30}$`, PatternHint: "the CorpID, ww or wx followed by letters and digits",
			Description: "The company's CorpID (企业ID), the receiver id of the callbacks."},
		{Name: fieldCorpSecret, Kind: connectors.KindString, Required: true, Secret: true,
			Description: "The Secret of 微信客服 (its API), to fetch messages with sync_msg. Write ${ENV_VAR}."},
		{Name: fieldEncodingAESKey, Kind: connectors.KindString, Required: true, Secret: true, Check: checkAESKey,
			Description: "The EncodingAESKey of 微信客服's callback config (43 characters). Write ${ENV_VAR}."},
		{Name: fieldOpenKfID, Kind: connectors.KindString,
			Description: "Fetch only this customer service account's messages (wk…); default every account the Secret may read."},
		{Name: fieldPollEvery, Kind: connectors.KindDuration, Default: 5 * time.Minute, Min: connectors.Bound(1), Advanced: true,
			Description: "How often to fetch without a callback, in case one was missed."},
	}
	fields = append(fields, guidedFields()...)
	return connectors.Spec{
		Type:    TypeKF,
		Summary: "Takes WeChat customer service (微信客服) conversations: each callback fetches the new messages with sync_msg.",
		Description: `
Set 微信客服's callback URL to ` + "`https://<host>/wechat/{name}`" + ` with the same Token and EncodingAESKey.
With ` + "`guided_intake`" + `, the connector asks for what a request lacks as the official account does, with
` + "`send_msg`" + ` from the account the customer wrote to (best effort: a question that does not go out is logged).

A callback (` + "`kf_msg_or_event`" + `) only says there are new messages: the connector answers ` + "`success`" + ` and
fetches them with ` + "`sync_msg`" + `, from a cursor it keeps in its state directory
(` + "`<data>/connectors/<name>/kf.cursor`" + `). The cursor moves only once the fetched messages are durable on
the bus, so a restart goes on where it stopped: nothing is lost, and a message fetched twice (a
crash in between) has its msgid, which makes no second ticket. It also fetches at start and
every ` + "`poll_every`" + `, in case a callback was missed.

Customers' messages (text, image, voice, video, file, location, link) become drafts on the
thread of the customer's conversation (` + "`kf:<name>:<external_userid>`" + `, within ` + "`thread_window`" + `); the
customer is known by their external_userid (customer.id). Servicers' own messages and events
(a session entered, a servicer changed) make no ticket.
`,
		Mount:   "wechat",
		Example: sampleKF,
		Fields:  append(fields, commonFields("The Token of 微信客服's callback config; it signs every callback.")...),
		New:     newKF,
	}
}

func archiveSpec() connectors.Spec {
	return connectors.Spec{
		Type:    TypeArchive,
		Summary: "Takes service requests from customer group chats through WeCom's session archive (会话内容存档).",
		Description: `
Reads WeCom's session archive with WeCom's Finance SDK, through the library's ` + "`msgaudit`" + ` package: gongdan
must be built with ` + "`go build -tags msgaudit`" + ` (Linux, cgo), and without it this connector type is refused
at validation with that message. It polls by ` + "`seq`" + ` every ` + "`poll_every`" + `, keeps the seq in
` + "`<data>/connectors/<name>/archive.state`" + ` with the conversations it still takes follow-ups of (moved only once what it fetched is on the bus), and decrypts each
message with the company's RSA private key.

Only group messages (` + "`roomid`" + `) of customers (external contacts: external_userid wm…/wo…) count, and of
those only the service requests: a message with one of ` + "`keywords`" + ` (报修, 坏了, 故障, 失灵, 不能用) or a
fault of the dictionary (` + "`use_dictionary`" + `), or any message in a group of ` + "`every_message_of`" + `. Once a
customer's message counts, their next messages in that group within ` + "`thread_window`" + ` count too (the phone
number or address they add), on the same thread: ` + "`archive:<name>:<roomid>:<external_userid>`" + `.
`,
		Example: sampleArchive,
		Fields: []connectors.Field{
			{Name: fieldCorpID, Kind: connectors.KindString, Required: true, Pattern: `^w[wx][0-9A-Za-z]{14,30}$`, PatternHint: "the CorpID, ww or wx followed by letters and digits",
				Description: "The company's CorpID (企业ID)."},
			{Name: fieldCorpSecret, Kind: connectors.KindString, Required: true, Secret: true,
				Description: "The Secret of 会话内容存档. Write ${ENV_VAR}."},
			{Name: fieldPrivateKey, Kind: connectors.KindString, Required: true, Secret: true,
				Description: "The RSA private key (PEM) whose public key is set as 消息加密公钥. Write ${ENV_VAR}."},
			{Name: fieldKeywords, Kind: connectors.KindStringList, Default: []string{"报修", "坏了", "故障", "失灵", "不能用"},
				Description: "Words that make a customer's group message a service request."},
			{Name: fieldUseDictionary, Kind: connectors.KindBool, Default: true,
				Description: "A message that names a fault of the dictionary (normalize: dictionary) is a request too."},
			{Name: fieldEveryMessageOf, Kind: connectors.KindStringList,
				Description: "roomids of groups whose every customer message is a request (a group that is a service line)."},
			{Name: fieldThreadWindow, Kind: connectors.KindDuration, Default: 30 * time.Minute, Min: connectors.Bound(0),
				Description: "A customer's messages in a group within this long of the one before join their ticket."},
			{Name: fieldPollEvery, Kind: connectors.KindDuration, Default: 10 * time.Second, Min: connectors.Bound(1), Advanced: true,
				Description: "How often the archive is read."},
		},
		New: newArchive,
	}
}
