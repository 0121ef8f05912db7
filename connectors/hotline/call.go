package hotline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gongdan/draft"
	"gongdan/normalize"
)

// Tags the connector gives a call's draft.
const (
	// TagAgitated marks a caller who sounded or said they were upset, for the agent who calls
	// back.
	TagAgitated = "情绪激动"
)

// callOptions are what a call's draft depends on besides the call: the connector's config.
type callOptions struct {
	roles        RoleConfig
	enricher     normalize.Enricher
	threadWindow time.Duration
	// agitated is the emotion value (Aliyun EmotionValue, Tencent EmotionalEnergy, 1–10, higher
	// is more agitated) at or above which a customer's turn counts as agitated; 0: words only.
	agitated float64
}

// agitatedWords are what an upset caller says.
var agitatedWords = regexp.MustCompile(`投诉|太慢了|太慢|第[二三四五六七八九十两\d]+次打|打了[二三四五六七八九十两\d]+次|都几天了|怎么还没|还没(?:人)?来|什么态度|12345|曝光|退货|退钱`)

// agitatedFirst are the runes agitatedWords' words begin with (TestAgitatedFirst reads them
// from the regexp).
const agitatedFirst = "投太第打都怎还什1曝退"

// agitatedWord is the first of agitatedWords in text, or "". Most turns have none of the runes
// the words begin with, and are not searched: the regexp's search of every turn of a long
// call was a twenty-fifth of its normalization.
func agitatedWord(text string) string {
	if !strings.ContainsAny(text, agitatedFirst) {
		return ""
	}
	return agitatedWords.FindString(text)
}

// fillers are what a customer says before the request: a greeting, an acknowledgement.
var fillers = regexp.MustCompile(`^(?:喂+|你好|您好|嗯+|啊|哦|对|是的?|好的?|在|在的|没有|谢谢|行|可以)[，,。.！!？?~、\s]*`)

// callDraft is the draft of a decoded call: the customer's words (spoken numbers as digits)
// are its description and what its fields are read from, never the agent's; the whole call,
// turn by turn with roles, is kept in turns.
func callDraft(env draft.Envelope, t Transcript, o callOptions) draft.Draft {
	r := decideRoles(t, o.roles)
	d := draft.Draft{
		Source:       draft.Source{Kind: draft.KindCall, ExternalID: nonEmpty(t.CallID, t.TaskID)},
		ReceivedAt:   env.ReceivedAt,
		OccurredAt:   t.StartedAt,
		Tags:         []string{},
		ThreadWindow: draft.Window(o.threadWindow),
	}
	d.Evidence = append(d.Evidence, draft.Evidence{Field: "turns", Text: r.Why, From: "roles:" + r.How, Confidence: r.Sure})

	var raw []string
	agitated := ""
	for _, tu := range r.Turns {
		d.Turns = append(d.Turns, draft.Turn{Role: string(tu.Role), StartMS: tu.StartMS, EndMS: tu.EndMS, Text: clipRunes(tu.Text, draft.MaxTurnRunes)})
		if tu.Role != RoleCustomer {
			continue
		}
		raw = append(raw, tu.Text)
		if agitated == "" {
			if m := agitatedWord(tu.Text); m != "" {
				agitated = fmt.Sprintf("the caller said %q", m)
			} else if o.agitated > 0 && tu.Emotion != nil && *tu.Emotion >= o.agitated {
				agitated = fmt.Sprintf("the caller's emotion value %.1f at %s is at or above %.1f", *tu.Emotion, offsetText(tu.StartMS), o.agitated)
			}
		}
	}
	// The customer's words, one turn a line, spoken numbers as digits; spans map what the
	// extractors find back to what was said, for the evidence.
	said := strings.Join(raw, "\n")
	written, spans := normalize.Spoken(said)
	asSaid := func(m normalize.Match) string {
		start, end := normalize.SpokenSource(spans, m.Start, m.End)
		return said[start:end]
	}
	d.Description = draft.Clip(written, draft.MaxDescriptionRunes)
	d.Title = draft.Clip(complaint(strings.Split(written, "\n")), 60)
	if d.Title == "" && d.Description == "" {
		// Only the agent spoke (a call-back that reached voicemail): the call is still on
		// record, under the agent's words.
		d.Title = draft.Clip(r.Turns[0].Text, 60)
	}

	// What the customer said wins; the caller's number only when they said none.
	if ms := normalize.ExtractPhones(written); len(ms) > 0 {
		d.Customer.Phone = ms[0].Value
		d.Evidence = append(d.Evidence, draft.Evidence{Field: "customer.phone", Text: asSaid(ms[0]), From: "customer"})
	} else if ms := normalize.ExtractPhones(callerNumber(t.Caller)); len(ms) > 0 {
		d.Customer.Phone = ms[0].Value
		d.Evidence = append(d.Evidence, draft.Evidence{Field: "customer.phone", Text: t.Caller, From: "caller_id"})
	}
	// A serial as said (SN零四二七杠零零幺九), matched against the configured patterns; the
	// separator a caller leaves out is tried where a pattern wants it.
	if len(o.enricher.DevicePatterns) > 0 {
		if ms := normalize.SpokenDeviceIDsIn(said, written, spans, o.enricher.DevicePatterns); len(ms) > 0 {
			d.Device.ID = ms[0].Value
			d.Evidence = append(d.Evidence, draft.Evidence{Field: "device.id", Text: ms[0].Text, From: "customer"})
		}
	}
	if agitated != "" {
		d.Tags = append(d.Tags, TagAgitated)
		d.Evidence = append(d.Evidence, draft.Evidence{Field: "tags", Text: "情绪激动：" + agitated + "; call back with care", From: "emotion"})
	}
	if t.RecordingURL != "" {
		d.Attachments = []draft.Attachment{{Kind: "recording", URI: t.RecordingURL}}
	}
	// The shared extractors on the customer's words: serial, address, urgency, category (the
	// pipeline would do the same; the thread key needs the category here).
	d = o.enricher.Enrich(d)

	d.DedupKey = callKey(t, env.Payload)
	if d.Customer.Phone != "" {
		// A second call from the same number about the same kind of problem joins the open
		// ticket (催单) within thread_window.
		d.ThreadKey = "caller:" + d.Customer.Phone
		if d.Category != "" {
			d.ThreadKey += ":" + d.Category
		}
	} else {
		d.ThreadWindow = 0
	}
	return d
}

// trunkMobile is a mobile number as a PBX shows a caller from another area: a trunk 0 before
// it (018612345678).
var trunkMobile = regexp.MustCompile(`^0(1[3-9]\d{9})$`)

// callerNumber is a caller id as the phone extractor reads it: a trunk 0 before a mobile
// number dropped, so that the caller of 018612345678 is 18612345678.
func callerNumber(id string) string {
	id = strings.TrimSpace(id)
	if m := trunkMobile.FindStringSubmatch(id); m != nil {
		return m[1]
	}
	return id
}

// callKey is what makes a call one ticket however often its result comes: the call centre's
// call id; else the vendor's task id — with what was said for Tencent, which reuses task ids
// across days (Aliyun's and iFlytek's are unique) —; else the body itself. Nothing a
// call record adds goes into it, so the same transcript published joined and, after a crash,
// alone is one ticket.
func callKey(t Transcript, body []byte) string {
	switch {
	case t.CallID != "":
		return "call/" + t.CallID
	case t.TaskID != "" && t.Vendor == FormatTencent:
		// Tencent reuses task ids across days: what was said tells two calls of one id apart,
		// and the same result sent again, whenever and in whichever of Tencent's shapes, is
		// still the one call (the day it came, once in the key, split a retry after midnight).
		h := sha256.New()
		for _, tu := range t.Turns {
			fmt.Fprintf(h, "%d\x00%s\x00%s\n", tu.StartMS, tu.Speaker, tu.Text)
		}
		return fmt.Sprintf("%s/%s/%s", t.Vendor, t.TaskID, hex.EncodeToString(h.Sum(nil)[:8]))
	case t.TaskID != "":
		return fmt.Sprintf("%s/%s", t.Vendor, t.TaskID)
	}
	sum := sha256.Sum256(body)
	return "body/" + hex.EncodeToString(sum[:16])
}

// complaint is the customer's first sentence that says something: greetings and
// acknowledgements before it are left out.
func complaint(said []string) string {
	for _, s := range said {
		rest := strings.TrimSpace(s)
		for {
			cut := fillers.ReplaceAllString(rest, "")
			if cut == rest {
				break
			}
			rest = strings.TrimSpace(cut)
		}
		if utf8.RuneCountInString(rest) >= 4 {
			return rest
		}
	}
	return ""
}

// offsetText is a turn's offset as minutes and seconds into the call.
func offsetText(ms int64) string {
	return fmt.Sprintf("%d:%02d", ms/60000, ms/1000%60)
}

// clipRunes cuts s to n runes.
func clipRunes(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n { // a text has no more runes than bytes
		return s
	}
	return string([]rune(s)[:n])
}
