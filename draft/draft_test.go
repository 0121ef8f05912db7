package draft

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateIntent(t *testing.T) {
	alarmClear := func(intent, threadKey string) Draft {
		return Draft{Title: "设备 E1 温度恢复正常", ThreadKey: threadKey, Intent: intent}
	}
	tests := []struct {
		name    string
		d       Draft
		wantMsg string // empty: valid
	}{
		{"no intent, no thread", alarmClear("", ""), ""},
		{"no intent, a thread", alarmClear("", "device:E1:overheat"), ""},
		{"update", alarmClear(IntentUpdate, "device:E1:overheat"), ""},
		{"resolve", alarmClear(IntentResolve, "device:E1:overheat"), ""},
		{"unknown", alarmClear("close", "device:E1:overheat"), `unknown intent "close" (one of: update, resolve; leave it out to open or merge a ticket as usual)`},
		{"case matters", alarmClear("Update", "device:E1:overheat"), `unknown intent "Update" (one of: update, resolve; leave it out to open or merge a ticket as usual)`},
		{"update without a thread", alarmClear(IntentUpdate, ""), "intent update needs a thread_key: it names the open ticket the draft updates"},
		{"resolve with a blank thread", alarmClear(IntentResolve, "  "), "intent resolve needs a thread_key: it names the open ticket the draft updates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Validate()
			if tc.wantMsg == "" {
				assert.NoError(t, err)
				return
			}
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "want a *FieldError, got %v", err)
			assert.Equal(t, "intent", fe.Field)
			assert.Equal(t, tc.wantMsg, fe.Msg)
		})
	}
}

func TestIntentInJSON(t *testing.T) {
	b, err := json.Marshal(Draft{Title: "x"})
	require.NoError(t, err)
	assert.NotContains(t, string(b), "intent", "left out when empty: drafts without one encode as before")

	var d Draft
	require.NoError(t, json.Unmarshal([]byte(`{"title":"恢复","thread_key":"device:E1:overheat","intent":"resolve"}`), &d))
	assert.Equal(t, IntentResolve, d.Intent)
	assert.NoError(t, d.Validate())
}

func TestThreadWindow(t *testing.T) {
	var d Draft
	require.NoError(t, DecodeJSON([]byte(`{"title":"你好","thread_key":"wechat:gzh:o1","thread_window":"30m"}`), &d))
	assert.Equal(t, Window(30*time.Minute), d.ThreadWindow)
	require.NoError(t, d.Validate())
	b, err := json.Marshal(d)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"thread_window":"30m0s"`)
	var back Draft
	require.NoError(t, DecodeJSON(b, &back))
	assert.Equal(t, d.ThreadWindow, back.ThreadWindow)

	require.NoError(t, DecodeJSON([]byte(`{"title":"你好","thread_key":"k","thread_window":90}`), &d))
	assert.Equal(t, Window(90*time.Second), d.ThreadWindow, "a number is seconds")

	b, err = json.Marshal(Draft{Title: "x"})
	require.NoError(t, err)
	assert.NotContains(t, string(b), "thread_window", "left out when there is none")

	err = DecodeJSON([]byte(`{"title":"你好","thread_key":"k","thread_window":"half an hour"}`), &d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "thread_window")

	err = (&Draft{Title: "你好", ThreadWindow: Window(time.Minute)}).Validate()
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "thread_window", fe.Field)
	err = (&Draft{Title: "你好", ThreadKey: "k", ThreadWindow: -1}).Validate()
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "thread_window", fe.Field)
}

// TestDraftLimits (issue 17): every list of a draft, and every short field, has a limit; a
// draft beyond one is refused with a FieldError naming the field (the API answers 422 and the
// pipeline keeps a dead letter for a FieldError). 100,000 tags were accepted before.
func TestDraftLimits(t *testing.T) {
	many := func(n int, s string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint(s, i)
		}
		return out
	}
	long := func(n int) string { return strings.Repeat("急", n) }
	ok := func(d *Draft) {}
	tests := []struct {
		name  string
		edit  func(d *Draft)
		field string // empty: valid
	}{
		{"no lists", ok, ""},
		{"32 tags of 64 characters", func(d *Draft) { d.Tags = many(MaxTags, long(62)) }, ""},
		{"100,000 tags", func(d *Draft) { d.Tags = many(100_000, "t") }, "tags"},
		{"33 tags", func(d *Draft) { d.Tags = many(MaxTags+1, "t") }, "tags"},
		{"a tag of 65 characters", func(d *Draft) { d.Tags = []string{"ok", long(MaxTagRunes + 1)} }, "tags[1]"},
		{"32 attachments", func(d *Draft) { d.Attachments = make([]Attachment, MaxAttachments) }, ""},
		{"33 attachments", func(d *Draft) { d.Attachments = make([]Attachment, MaxAttachments+1) }, "attachments"},
		{"an attachment's long uri", func(d *Draft) {
			d.Attachments = []Attachment{{Kind: "image", URI: "s3://" + strings.Repeat("a", 2048)}}
		}, "attachments[0].uri"},
		{"64 evidence", func(d *Draft) { d.Evidence = make([]Evidence, MaxEvidence) }, ""},
		{"65 evidence", func(d *Draft) { d.Evidence = make([]Evidence, MaxEvidence+1) }, "evidence"},
		{"evidence as long as a description", func(d *Draft) { d.Evidence = []Evidence{{Field: "customer.phone", Text: long(MaxDescriptionRunes)}} }, ""},
		{"evidence longer", func(d *Draft) {
			d.Evidence = []Evidence{{Field: "customer.phone", Text: long(MaxDescriptionRunes + 1)}}
		}, "evidence[0].text"},
		{"a long evidence field name", func(d *Draft) { d.Evidence = []Evidence{{Field: long(65)}} }, "evidence[0].field"},
		{"customer name of 100", func(d *Draft) { d.Customer.Name = long(100) }, ""},
		{"customer name of 101", func(d *Draft) { d.Customer.Name = long(101) }, "customer.name"},
		{"a long phone", func(d *Draft) { d.Customer.Phone = strings.Repeat("1", 65) }, "customer.phone"},
		{"a long org", func(d *Draft) { d.Customer.Org = long(201) }, "customer.org"},
		{"a long email", func(d *Draft) { d.Customer.Email = strings.Repeat("w", 250) + "@x.cn" }, "customer.email"},
		{"a customer's order of three", func(d *Draft) { d.Customer.Channels = []string{"email", "sms", "wechat"} }, ""},
		{"a customer's order of nine", func(d *Draft) { d.Customer.Channels = make([]string, MaxCustomerChannels+1) }, "customer.channels"},
		{"a long channel name", func(d *Draft) { d.Customer.Channels = []string{long(17)} }, "customer.channels[0]"},
		{"a long openid", func(d *Draft) { d.Customer.WechatOpenID = strings.Repeat("o", 257) }, "customer.wechat_openid"},
		{"a long device id", func(d *Draft) { d.Device.ID = strings.Repeat("E", 129) }, "device.id"},
		{"a long firmware", func(d *Draft) { d.Device.Firmware = strings.Repeat("1", 129) }, "device.firmware"},
		{"an address of 500", func(d *Draft) { d.Location.Address = long(500) }, ""},
		{"an address of 501", func(d *Draft) { d.Location.Address = long(501) }, "location.address"},
		{"a long city", func(d *Draft) { d.Location.City = long(101) }, "location.city"},
		{"a long category", func(d *Draft) { d.Category = long(101) }, "category"},
		{"a long fault code", func(d *Draft) { d.FaultCode = strings.Repeat("F", 129) }, "fault_code"},
		{"a long thread key, in bytes", func(d *Draft) { d.ThreadKey = long(171) }, "thread_key"}, // 513 bytes
		{"a long source", func(d *Draft) { d.Source.Connector = long(129) }, "source.connector"},
		{"a long external id", func(d *Draft) { d.Source.ExternalID = strings.Repeat("x", 513) }, "source.external_id"},
		{"5000 turns", func(d *Draft) { d.Turns = slices.Repeat([]Turn{{Role: RoleAgent, Text: "您好"}}, MaxTurns) }, ""},
		{"5001 turns", func(d *Draft) { d.Turns = slices.Repeat([]Turn{{Role: RoleAgent, Text: "您好"}}, MaxTurns+1) }, "turns"},
		{"a long turn", func(d *Draft) { d.Turns = []Turn{{Role: RoleCustomer, Text: long(MaxTurnRunes + 1)}} }, "turns[0].text"},
		{"3 suggestions", func(d *Draft) {
			d.Suggestions = slices.Repeat([]Suggestion{{ID: "a", Title: long(MaxTitleRunes), Why: long(500)}}, MaxSuggestions)
		}, ""},
		{"4 suggestions", func(d *Draft) { d.Suggestions = slices.Repeat([]Suggestion{{ID: "a"}}, MaxSuggestions+1) }, "suggestions"},
		{"a long suggestion id", func(d *Draft) { d.Suggestions = []Suggestion{{ID: strings.Repeat("a", 129)}} }, "suggestions[0].id"},
		{"a long suggestion title", func(d *Draft) { d.Suggestions = []Suggestion{{ID: "a", Title: long(MaxTitleRunes + 1)}} }, "suggestions[0].title"},
		{"a long why", func(d *Draft) { d.Suggestions = []Suggestion{{ID: "a", Why: long(501)}} }, "suggestions[0].why"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Draft{Title: "3号线急停按钮失灵"}
			tc.edit(&d)
			err := d.Validate()
			if tc.field == "" {
				assert.NoError(t, err)
				return
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field, fe.Msg)
			assert.Contains(t, fe.Msg, "at most", "the message says the limit")
		})
	}
}

// A suggestion names its article and is never scored below zero; a draft without suggestions
// encodes as before.
func TestSuggestionsNameTheirArticle(t *testing.T) {
	for _, tc := range []struct {
		s     Suggestion
		field string
	}{
		{Suggestion{ID: "tl-x9-fp-sleep", Title: "指纹模块休眠", Why: "keyword 指纹", Score: 4}, ""},
		{Suggestion{ID: " ", Title: "指纹模块休眠"}, "suggestions[0].id"},
		{Suggestion{ID: "a", Score: -1}, "suggestions[0].score"},
	} {
		d := Draft{Title: "指纹锁没反应", Suggestions: []Suggestion{tc.s}}
		err := d.Validate()
		if tc.field == "" {
			assert.NoError(t, err)
			continue
		}
		var fe *FieldError
		if assert.ErrorAs(t, err, &fe, "%+v", tc.s) {
			assert.Equal(t, tc.field, fe.Field)
		}
	}
	b, err := json.Marshal(Draft{Title: "x"})
	require.NoError(t, err)
	assert.NotContains(t, string(b), "suggestions")
	b, err = json.Marshal(Draft{Title: "x", Suggestions: []Suggestion{{ID: "a", Title: "t", Why: "w", Score: 3}}})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"suggestions":[{"id":"a","title":"t","why":"w","score":3}]`)
}

// A turn says who spoke, agent or customer, and when, in order.
func TestTurnsSayWhoSpokeAndWhen(t *testing.T) {
	for _, tc := range []struct {
		turn  Turn
		field string
	}{
		{Turn{Role: RoleCustomer, StartMS: 0, EndMS: 1200, Text: "电梯困人了"}, ""},
		{Turn{Role: "", Text: "电梯困人了"}, "turns[0].role"},
		{Turn{Role: "caller", Text: "电梯困人了"}, "turns[0].role"},
		{Turn{Role: RoleAgent, StartMS: -1, Text: "您好"}, "turns[0]"},
		{Turn{Role: RoleAgent, StartMS: 900, EndMS: 800, Text: "您好"}, "turns[0]"},
	} {
		d := Draft{Title: "电梯困人", Turns: []Turn{tc.turn}}
		err := d.Validate()
		if tc.field == "" {
			assert.NoError(t, err)
			continue
		}
		var fe *FieldError
		if assert.ErrorAs(t, err, &fe, "%+v", tc.turn) {
			assert.Equal(t, tc.field, fe.Field)
		}
	}
}

// TestDraftEnvelopeWith100000TagsIsRefused (issue 17): a draft webhook's payload with 100,000
// tags fails in the normalizer with a FieldError naming tags; the pipeline keeps every
// normalizer error as a dead letter, with its reason, and retries none.
func TestDraftEnvelopeWith100000TagsIsRefused(t *testing.T) {
	tags := make([]string, 100_000)
	for i := range tags {
		tags[i] = fmt.Sprint("t", i)
	}
	payload, err := json.Marshal(map[string]any{"title": "3号线急停按钮失灵", "tags": tags})
	require.NoError(t, err)
	_, err = FromJSON(Envelope{ID: "e-1", Connector: "hooks", ConnectorType: "webhook", Type: TypeDraft, Payload: payload})
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "tags", fe.Field)
	assert.Equal(t, "tags: 100000 tags, at most 32", fe.Error())
}

// TestFromJSONReadsDraftsOnly: an envelope of another type (a mapped webhook's, replayed after
// its mapping was removed) is refused, as no normalizer for its type, not read as a draft.
func TestFromJSONReadsDraftsOnly(t *testing.T) {
	_, err := FromJSON(Envelope{ID: "e-1", Connector: "crm", Type: "webhook.json", Payload: []byte(`{"title":"x"}`)})
	require.EqualError(t, err, `envelope type "webhook.json": this connector's envelopes are drafts (type "draft")`)
	ds, err := FromJSON(Envelope{ID: "e-1", Connector: "crm", Type: TypeDraft, Payload: []byte(`{"title":"x"}`)})
	require.NoError(t, err)
	assert.Equal(t, "crm/e-1", ds[0].DedupKey)
}

// A draft payload's own suggestions are dropped, however many or malformed: only the
// knowledge base suggests, and the request is not refused for them.
func TestFromJSONDropsAPayloadsSuggestions(t *testing.T) {
	payload := `{"title":"指纹锁没反应","suggestions":[{"id":""},{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d"}]}`
	ds, err := FromJSON(Envelope{ID: "e1", Connector: "hooks", ConnectorType: "webhook", Type: TypeDraft, Payload: []byte(payload)})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Empty(t, ds[0].Suggestions)
}
