// Package draft holds the nouns every part of gongdan shares: the Envelope a connector
// receives, the Normalizer that reads it, the Draft it becomes (DESIGN.md §3) with its
// customer, device, location and urgency, and the Scope a connector's drafts are confined to.
// The extractors and enrichment that fill a draft from its text are normalize's.
//
// It is pure: no I/O, no clock. It must never import another gongdan package.
package draft

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// Urgency is how fast a request needs an answer, in the four levels service teams use.
type Urgency string

const (
	UrgencyBlue   Urgency = "blue"   // routine
	UrgencyYellow Urgency = "yellow" // respond within 24 h
	UrgencyOrange Urgency = "orange" // stops a production line
	UrgencyRed    Urgency = "red"    // safety risk
)

// Valid reports whether u is one of the four levels.
func (u Urgency) Valid() bool {
	switch u {
	case UrgencyBlue, UrgencyYellow, UrgencyOrange, UrgencyRed:
		return true
	}
	return false
}

// Intents of drafts that must never open a ticket (an alarm clear, a storm-guard summary):
// such a draft only adds to the open ticket of its thread_key, which it therefore needs. A
// draft without an intent opens a ticket or merges into the open one of its thread, as usual.
const (
	// IntentUpdate: the draft is merged into the newest open ticket of its thread_key; with
	// none open, nothing is written.
	IntentUpdate = "update"
	// IntentResolve: as IntentUpdate, and then the ticket is resolved automatically if it is
	// in_progress and not frozen (root cause: the draft's title, or its description). In any
	// other state the draft is only on record, and people resolve the ticket.
	IntentResolve = "resolve"
)

// Clip cuts s to at most n runes, the last of them an ellipsis when it cut: for titles and
// descriptions made from longer text (MaxTitleRunes, MaxDescriptionRunes).
func Clip(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n { // a text has no more runes than bytes
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// Window is a span of time, written in JSON as a Go duration ("30m").
type Window time.Duration

// MarshalJSON writes w as "30m0s".
func (w Window) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(w).String()) }

// UnmarshalJSON reads "30m", or a number of seconds.
func (w *Window) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if d, err := time.ParseDuration(s); err == nil {
			*w = Window(d)
			return nil
		}
	} else {
		var secs float64
		if json.Unmarshal(b, &secs) == nil {
			*w = Window(secs * float64(time.Second))
			return nil
		}
	}
	// The decoder adds the field's name to this error.
	return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Window]()}
}

// Draft is a request as the pipeline hands it to the core (DESIGN.md §3). A field a connector
// could not fill stays empty: nothing is invented.
type Draft struct {
	Source       Source       `json:"source"`
	DedupKey     string       `json:"dedup_key,omitempty"`
	ThreadKey    string       `json:"thread_key,omitempty"`
	ThreadWindow Window       `json:"thread_window,omitempty"`
	Intent       string       `json:"intent,omitempty"` // empty, IntentUpdate or IntentResolve
	ReceivedAt   time.Time    `json:"received_at,omitzero"`
	OccurredAt   time.Time    `json:"occurred_at,omitzero"`
	Customer     Customer     `json:"customer"`
	Device       Device       `json:"device"`
	Location     Location     `json:"location"`
	Title        string       `json:"title"`
	Description  string       `json:"description"`
	Category     string       `json:"category"`
	FaultCode    string       `json:"fault_code,omitempty"`
	Tags         []string     `json:"tags"`
	Urgency      Urgency      `json:"urgency"`
	Attachments  []Attachment `json:"attachments,omitempty"`
	Evidence     []Evidence   `json:"evidence,omitempty"`
	// Turns are a call or chat as it went, turn by turn (a hotline call's transcript); the
	// ticket keeps them in its sources.
	Turns []Turn `json:"turns,omitempty"`
	// Suggestions are the knowledge articles that match the draft, best first (at most
	// MaxSuggestions). They are gongdan's own: the knowledge base sets them where every draft
	// passes on its way to the core, replacing whatever a payload said.
	Suggestions []Suggestion `json:"suggestions,omitempty"`
}

// Suggestion is a knowledge article that matches a draft: which one, and why, so that the
// engineer reads the known fix before driving out.
type Suggestion struct {
	// ID is the article's id (its file name unless its front matter names one).
	ID    string `json:"id"`
	Title string `json:"title"`
	// Why says what matched, part by part: "category 门锁故障, keyword 指纹, model TL-X9,
	// firmware 2.3.1 in >=2.3.0 <2.3.2".
	Why string `json:"why"`
	// Score is how well it matched (knowledge's scoring); higher is better. A ticket keeps
	// the best of its drafts' suggestions by it.
	Score int `json:"score"`
}

// Roles of a turn.
const (
	RoleAgent    = "agent"
	RoleCustomer = "customer"
)

// Turn is one turn of a conversation: who spoke (RoleAgent, RoleCustomer), when, as
// milliseconds from its start, and what was said.
type Turn struct {
	Role    string `json:"role"`
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
	Text    string `json:"text"`
}

// KindCall is the source kind of a phone call's draft (a hotline call): the core counts a
// ticket's calls, and a second one while it is open is a chase (催单).
const KindCall = "call"

// Source says where a draft came from.
type Source struct {
	Connector  string `json:"connector"`
	Type       string `json:"type"`
	Kind       string `json:"kind,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
}

// Customer is who asked.
type Customer struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Phone        string `json:"phone"`
	WechatOpenID string `json:"wechat_openid"`
	WecomUserID  string `json:"wecom_userid"`
	Org          string `json:"org"`
	// Email is where the customer takes mail (notify's email channel); empty when unknown.
	Email string `json:"email,omitempty"`
	// Channels is the customer's own order of the channels notify reaches them on (wechat,
	// sms, email), first choice first; empty: the configured order (notify.channels.order).
	Channels []string `json:"channels,omitempty"`
}

// Device is the equipment the request is about.
type Device struct {
	ID          string `json:"id"`
	Model       string `json:"model"`
	Firmware    string `json:"firmware"`
	ProductType string `json:"product_type"`
}

// Location is where the work is.
type Location struct {
	Address string  `json:"address"`
	City    string  `json:"city"`
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
}

// Attachment is a file that came with the request.
type Attachment struct {
	Kind   string `json:"kind"`
	URI    string `json:"uri"`
	SHA256 string `json:"sha256,omitempty"`
}

// Evidence says which text produced which field.
type Evidence struct {
	Field      string  `json:"field"`
	Text       string  `json:"text"`
	From       string  `json:"from"`
	Confidence float64 `json:"confidence,omitempty"`
}

// Limits on free text, so one request cannot bloat every list page.
const (
	MaxTitleRunes       = 200
	MaxDescriptionRunes = 20000
)

// Limits on a draft's lists and their entries, so that one request cannot grow a ticket (and
// every page and event that shows it) without bound: 100,000 tags were once accepted. A draft
// beyond them is refused (the API answers 422, the pipeline keeps a dead letter), naming the
// field; the limits are well above what any connector writes.
const (
	MaxTags        = 32
	MaxTagRunes    = 64
	MaxAttachments = 32
	MaxEvidence    = 64
	// MaxTurns is a call of some hours; a turn's text is at most MaxTurnRunes.
	MaxTurns     = 5000
	MaxTurnRunes = 4000
	// MaxSuggestions is how many knowledge articles a draft (and a ticket) suggests: what an
	// engineer reads on a phone before setting off.
	MaxSuggestions = 3
	// MaxCustomerChannels bounds a customer's own order of channels (there are three).
	MaxCustomerChannels = 8
)

// A shortField is one of the draft's short text fields and its limit, in runes (in bytes for
// keys, which are stored and compared as bytes).
type shortField struct {
	name  string
	value func(d *Draft) string
	max   int
	bytes bool
}

// shortFields are the short text fields with their limits; title and description have theirs
// above.
var shortFields = []shortField{
	{"source.connector", func(d *Draft) string { return d.Source.Connector }, 128, false},
	{"source.type", func(d *Draft) string { return d.Source.Type }, 128, false},
	{"source.kind", func(d *Draft) string { return d.Source.Kind }, 128, false},
	{"source.external_id", func(d *Draft) string { return d.Source.ExternalID }, 512, true},
	{"thread_key", func(d *Draft) string { return d.ThreadKey }, 512, true},
	{"customer.id", func(d *Draft) string { return d.Customer.ID }, 256, false},
	{"customer.name", func(d *Draft) string { return d.Customer.Name }, 100, false},
	{"customer.phone", func(d *Draft) string { return d.Customer.Phone }, 64, false},
	{"customer.wechat_openid", func(d *Draft) string { return d.Customer.WechatOpenID }, 256, false},
	{"customer.wecom_userid", func(d *Draft) string { return d.Customer.WecomUserID }, 256, false},
	{"customer.org", func(d *Draft) string { return d.Customer.Org }, 200, false},
	{"customer.email", func(d *Draft) string { return d.Customer.Email }, 254, false}, // RFC 5321's longest path
	{"device.id", func(d *Draft) string { return d.Device.ID }, 128, false},
	{"device.model", func(d *Draft) string { return d.Device.Model }, 128, false},
	{"device.firmware", func(d *Draft) string { return d.Device.Firmware }, 128, false},
	{"device.product_type", func(d *Draft) string { return d.Device.ProductType }, 128, false},
	{"location.address", func(d *Draft) string { return d.Location.Address }, 500, false},
	{"location.city", func(d *Draft) string { return d.Location.City }, 100, false},
	{"category", func(d *Draft) string { return d.Category }, 100, false},
	{"fault_code", func(d *Draft) string { return d.FaultCode }, 128, false},
}

// tooLong says why s is longer than max runes (bytes), or "" when it is not.
func tooLong(s string, max int, bytes bool) string {
	if bytes {
		if len(s) > max {
			return fmt.Sprintf("%d bytes, at most %d", len(s), max)
		}
		return ""
	}
	if len(s) <= max { // a text has no more runes than bytes: no need to count them
		return ""
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Sprintf("%d characters, at most %d", n, max)
	}
	return ""
}

// checkSizes checks the limits above.
func (d *Draft) checkSizes() error {
	for _, f := range shortFields {
		if why := tooLong(f.value(d), f.max, f.bytes); why != "" {
			return &FieldError{f.name, why}
		}
	}
	if err := checkList("customer.channels", d.Customer.Channels, MaxCustomerChannels, "channels", func(c string, to []textLimit) []textLimit {
		return append(to, textLimit{"", c, 16, false})
	}); err != nil {
		return err
	}
	if err := checkList("tags", d.Tags, MaxTags, "tags", func(tag string, to []textLimit) []textLimit {
		return append(to, textLimit{"", tag, MaxTagRunes, false})
	}); err != nil {
		return err
	}
	if err := checkList("attachments", d.Attachments, MaxAttachments, "attachments", func(a Attachment, to []textLimit) []textLimit {
		return append(to, textLimit{"kind", a.Kind, 32, false}, textLimit{"uri", a.URI, 2048, true}, textLimit{"sha256", a.SHA256, 128, true})
	}); err != nil {
		return err
	}
	// An evidence's text is what a field was read from: as long as a description may be, no
	// longer.
	if err := checkList("evidence", d.Evidence, MaxEvidence, "entries", func(e Evidence, to []textLimit) []textLimit {
		return append(to, textLimit{"field", e.Field, 64, false}, textLimit{"from", e.From, 64, false}, textLimit{"text", e.Text, MaxDescriptionRunes, false})
	}); err != nil {
		return err
	}
	if err := checkList("turns", d.Turns, MaxTurns, "turns", func(t Turn, to []textLimit) []textLimit {
		return append(to, textLimit{"role", t.Role, 16, false}, textLimit{"text", t.Text, MaxTurnRunes, false})
	}); err != nil {
		return err
	}
	if err := checkList("suggestions", d.Suggestions, MaxSuggestions, "suggestions", func(s Suggestion, to []textLimit) []textLimit {
		return append(to, textLimit{"id", s.ID, 128, true}, textLimit{"title", s.Title, MaxTitleRunes, false}, textLimit{"why", s.Why, 500, false})
	}); err != nil {
		return err
	}
	for i, s := range d.Suggestions {
		if strings.TrimSpace(s.ID) == "" {
			return &FieldError{fmt.Sprintf("suggestions[%d].id", i), "required: the id of the knowledge article"}
		}
		if s.Score < 0 {
			return &FieldError{fmt.Sprintf("suggestions[%d].score", i), "must not be negative"}
		}
	}
	for i, t := range d.Turns {
		if t.Role != RoleAgent && t.Role != RoleCustomer {
			return &FieldError{fmt.Sprintf("turns[%d].role", i), fmt.Sprintf("%q is no role (agent or customer)", t.Role)}
		}
		if t.StartMS < 0 || t.EndMS < t.StartMS {
			return &FieldError{fmt.Sprintf("turns[%d]", i), "start_ms must be ≥ 0 and no later than end_ms"}
		}
	}
	return nil
}

// A textLimit is a text of a list's entry and its limit, in runes (in bytes for keys and
// URIs); name is the entry's field, empty when the entry is the text.
type textLimit struct {
	name, value string
	max         int
	bytes       bool
}

// checkList checks that list has at most max entries (noun names them in the message) and
// that each entry's texts, as fields appends them to its second argument, are within their
// limits; its errors name the entry, like attachments[2].uri. The texts of every entry go
// into one buffer: a call's draft has a hundred turns, and a slice made for each was most of
// this check's time.
func checkList[T any](name string, list []T, max int, noun string, fields func(T, []textLimit) []textLimit) error {
	if len(list) > max {
		return &FieldError{name, fmt.Sprintf("%d %s, at most %d", len(list), noun, max)}
	}
	var buf [3]textLimit
	for i, e := range list {
		for _, f := range fields(e, buf[:0]) {
			if why := tooLong(f.value, f.max, f.bytes); why != "" {
				field := fmt.Sprintf("%s[%d]", name, i)
				if f.name != "" {
					field += "." + f.name
				}
				return &FieldError{field, why}
			}
		}
	}
	return nil
}

// FieldError names the draft field that is wrong and why.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks what the core relies on. It returns the first problem as a *FieldError.
func (d *Draft) Validate() error {
	if strings.TrimSpace(d.Title) == "" && strings.TrimSpace(d.Description) == "" {
		return &FieldError{"title", "a draft needs a title or a description"}
	}
	if why := tooLong(d.Title, MaxTitleRunes, false); why != "" {
		return &FieldError{"title", why}
	}
	if why := tooLong(d.Description, MaxDescriptionRunes, false); why != "" {
		return &FieldError{"description", why}
	}
	if d.Urgency != "" && !d.Urgency.Valid() {
		return &FieldError{"urgency", fmt.Sprintf("unknown urgency %q (one of: blue, yellow, orange, red)", d.Urgency)}
	}
	if d.Location.Lat < -90 || d.Location.Lat > 90 {
		return &FieldError{"location.lat", "must be between -90 and 90"}
	}
	if d.Location.Lon < -180 || d.Location.Lon > 180 {
		return &FieldError{"location.lon", "must be between -180 and 180"}
	}
	switch d.Intent {
	case "", IntentUpdate, IntentResolve:
	default:
		return &FieldError{"intent", fmt.Sprintf("unknown intent %q (one of: update, resolve; leave it out to open or merge a ticket as usual)", d.Intent)}
	}
	if d.Intent != "" && strings.TrimSpace(d.ThreadKey) == "" {
		return &FieldError{"intent", fmt.Sprintf("intent %s needs a thread_key: it names the open ticket the draft updates", d.Intent)}
	}
	if d.ThreadWindow < 0 {
		return &FieldError{"thread_window", "must not be negative"}
	}
	if d.ThreadWindow > 0 && strings.TrimSpace(d.ThreadKey) == "" {
		return &FieldError{"thread_window", "needs a thread_key: it bounds the gap between the drafts of one thread"}
	}
	if len(d.DedupKey) > 512 {
		return &FieldError{"dedup_key", "longer than 512 bytes"}
	}
	return d.checkSizes()
}
