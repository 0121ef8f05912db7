package ticket_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
	"gongdan/draft"
)

// alarm is a draft merged into newHistory's ticket (orange, tagged 急停故障).
func alarm(u draft.Urgency, tags ...string) draft.Draft {
	return draft.Draft{
		Source:    draft.Source{Connector: "plant-mqtt", Type: "mqtt", Kind: "alarm.raise"},
		DedupKey:  "plant-mqtt/E1/estop/" + string(u),
		ThreadKey: "device:E1:estop",
		Title:     "急停再次触发", Description: "3号线急停再次触发", Urgency: u, Tags: tags,
	}
}

func TestAddSource(t *testing.T) {
	cases := []struct {
		name        string
		draft       draft.Draft
		wantUrgency draft.Urgency
		wantTags    []string
	}{
		{"higher urgency raises it", alarm(draft.UrgencyRed, "产线停机"), draft.UrgencyRed, []string{"急停故障", "产线停机"}},
		{"lower urgency keeps it", alarm(draft.UrgencyBlue), draft.UrgencyOrange, []string{"急停故障"}},
		{"yellow is below orange", alarm(draft.UrgencyYellow, "急停故障"), draft.UrgencyOrange, []string{"急停故障"}},
		{"no urgency keeps it", alarm(""), draft.UrgencyOrange, []string{"急停故障"}},
		{"the same urgency keeps it", alarm(draft.UrgencyOrange, "b", "a", "b", "急停故障"), draft.UrgencyOrange, []string{"急停故障", "b", "a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHistory(t)
			h.must(t, "assign")
			before := h.t
			h.now = h.now.Add(time.Minute)
			ev, err := ticket.AddSource(h.t, c.draft, system, h.now, "")
			require.NoError(t, err)
			assert.Equal(t, ticket.ActionSourceAdded, ev.Action)
			assert.Equal(t, before.Version+1, ev.Seq)
			assert.Equal(t, ticket.StateAssigned, ev.From)
			assert.Equal(t, ticket.StateAssigned, ev.To)
			assert.True(t, ev.Automatic, "the system's merges are automatic")
			h.append(t, ev)

			assert.Equal(t, c.wantUrgency, h.t.Urgency)
			assert.Equal(t, c.wantTags, h.t.Tags)
			require.Len(t, h.t.Sources, 2)
			assert.Equal(t, jsonString(t, c.draft), jsonString(t, h.t.Sources[1]), "the draft is the ticket's last source")
			assert.Equal(t, h.now, h.t.UpdatedAt)
			assert.Equal(t, h.now, h.t.AwaitingUpdate, "the customer wrote again: they wait for an update")
			// nothing else changes
			after := h.t
			after.Urgency, after.Tags, after.Sources, after.AwaitingUpdate = before.Urgency, before.Tags, before.Sources, before.AwaitingUpdate
			after.Version, after.SettledVersion, after.UpdatedAt = before.Version, before.SettledVersion, before.UpdatedAt
			assert.Equal(t, before, after)

			folded, err := ticket.Fold(h.events)
			require.NoError(t, err)
			assert.Equal(t, h.t, folded)

			// The first action by staff answers them; the system's do not.
			h.now = h.now.Add(time.Minute)
			h.must(t, "accept")
			assert.Zero(t, h.t.AwaitingUpdate, "the engineer accepted")
		})
	}
}

// A draft of intent resolve: the system merges the clear and resolves the ticket. The resolve
// is the answer the customer waits for, though the system's actions are no answer otherwise.
func TestSystemResolveAfterAMergeOwesNoUpdate(t *testing.T) {
	h := newHistory(t)
	h.must(t, pathTo[ticket.StateInProgress]...)
	h.now = h.now.Add(time.Minute)
	ev, err := ticket.AddSource(h.t, alarm(draft.UrgencyBlue), system, h.now, "")
	require.NoError(t, err)
	h.append(t, ev)
	require.Equal(t, h.now, h.t.AwaitingUpdate)

	resolved, err := h.do(t, step{ticket.ActionResolve, system, "", `{"root_cause":"急停已复位"}`})
	require.NoError(t, err)
	assert.True(t, resolved.Automatic)
	assert.Equal(t, ticket.StateResolved, h.t.State)
	assert.Zero(t, h.t.AwaitingUpdate)
	folded, err := ticket.Fold(h.events)
	require.NoError(t, err)
	assert.Equal(t, h.t, folded)
}

func TestAddSourceOnlyToOpenTickets(t *testing.T) {
	for _, state := range ticket.States {
		t.Run(string(state), func(t *testing.T) {
			h := newHistory(t)
			h.must(t, pathTo[state]...)
			ev, err := ticket.AddSource(h.t, alarm(draft.UrgencyRed), system, h.now.Add(time.Minute), "")
			if !state.Open() {
				require.ErrorIs(t, err, ticket.ErrIllegalTransition)
				return
			}
			require.NoError(t, err)
			h.append(t, ev)
			assert.Equal(t, state, h.t.State)
		})
	}
}

func TestAddSourceToAFrozenTicket(t *testing.T) {
	h := newHistory(t)
	h.must(t, "assign", "decline", "assign", "decline", "assign", "decline")
	require.True(t, h.t.Frozen)
	ev, err := ticket.AddSource(h.t, alarm(draft.UrgencyRed, "产线停机"), system, h.now.Add(time.Minute), "")
	require.NoError(t, err, "a merge moves no state, so a frozen ticket takes it")
	h.append(t, ev)
	assert.True(t, h.t.Frozen, "and it stays frozen")
	assert.Equal(t, draft.UrgencyRed, h.t.Urgency)
	assert.Len(t, h.t.Sources, 2)
	assert.False(t, ev.Rollback)
	folded, err := ticket.Fold(h.events)
	require.NoError(t, err)
	assert.Equal(t, h.t, folded)
}

func TestAddSourceChecksTheDraft(t *testing.T) {
	h := newHistory(t)
	_, err := ticket.AddSource(h.t, draft.Draft{}, system, t0, "")
	require.ErrorIs(t, err, ticket.ErrInvalidData)
	_, err = ticket.AddSource(h.t, draft.Draft{Title: "x", Urgency: "purple"}, system, t0, "")
	var de *ticket.DataError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "urgency", de.Field)
}

// TestApplyAddSourceLeavesItsInputAlone: two merges applied to the same ticket value (as the
// engine's cache and a retry might) must not see each other's drafts.
func TestApplyAddSourceLeavesItsInputAlone(t *testing.T) {
	h := newHistory(t)
	base := h.t
	base.Sources = append(make([]draft.Draft, 0, 8), base.Sources...) // room to append in place
	base.Tags = append(make([]string, 0, 8), base.Tags...)
	evA, err := ticket.AddSource(base, alarm(draft.UrgencyRed, "A"), system, t0.Add(time.Minute), "")
	require.NoError(t, err)
	evB, err := ticket.AddSource(base, alarm(draft.UrgencyYellow, "B"), system, t0.Add(time.Minute), "")
	require.NoError(t, err)
	a, err := ticket.Apply(base, evA)
	require.NoError(t, err)
	b, err := ticket.Apply(base, evB)
	require.NoError(t, err)
	assert.Equal(t, draft.UrgencyRed, a.Sources[1].Urgency, "applying B must not overwrite A's source")
	assert.Equal(t, []string{"急停故障", "A"}, a.Tags)
	assert.Equal(t, []string{"急停故障", "B"}, b.Tags)
	assert.Len(t, base.Sources, 1)
}

func TestSourceAddedIsNotACommand(t *testing.T) {
	_, err := ticket.ParseAction(string(ticket.ActionSourceAdded))
	require.ErrorIs(t, err, ticket.ErrUnknownAction)
	assert.NotContains(t, ticket.Actions, ticket.ActionSourceAdded)
	h := newHistory(t)
	for _, actor := range []ticket.Actor{system, admin} {
		_, err = ticket.Decide(h.t, ticket.Command{TicketID: h.t.ID, Action: ticket.ActionSourceAdded, Actor: actor,
			Data: json.RawMessage(`{"title":"x"}`)}, t0)
		require.ErrorIs(t, err, ticket.ErrUnknownAction, "Decide must refuse source_added from %s", actor.Role)
	}
}

func TestCreateRecordsRepeatOf(t *testing.T) {
	d := draft.Draft{Title: "急停又坏了", Category: "急停故障", Customer: draft.Customer{ID: "cust-wang"}}
	for _, repeatOf := range []string{"GD-20261120-000007", ""} {
		ev, err := ticket.Create("GD-20261123-000001", d, repeatOf, system, t0, "")
		require.NoError(t, err)
		// through the store's encoding and back
		stored, err := json.Marshal(ev)
		require.NoError(t, err)
		var loaded ticket.Event
		require.NoError(t, json.Unmarshal(stored, &loaded))
		var data ticket.CreateData
		require.NoError(t, json.Unmarshal(loaded.Data, &data))
		assert.Equal(t, repeatOf, data.RepeatOf, "the creation event records repeat_of")
		assert.Equal(t, d.Title, data.Draft.Title)
		tk, err := ticket.Fold([]ticket.Event{loaded})
		require.NoError(t, err)
		assert.Equal(t, repeatOf, tk.RepeatOf)
		assert.Equal(t, "急停故障", tk.Category)
		require.Len(t, tk.Sources, 1)
	}
}

// TestOldCreationEventsStillFold: creation events stored before repeats were recorded hold
// the bare draft as data.
func TestOldCreationEventsStillFold(t *testing.T) {
	d := draft.Draft{Title: "3号线急停按钮失灵", Urgency: draft.UrgencyRed, Tags: []string{"急停故障"}, DedupKey: "dk-old"}
	data, err := json.Marshal(d)
	require.NoError(t, err)
	tk, err := ticket.Fold([]ticket.Event{{TicketID: "GD-1", Seq: 1, Action: ticket.ActionCreate, Actor: agent, At: t0, To: ticket.StateNew, Data: data}})
	require.NoError(t, err)
	assert.Equal(t, "3号线急停按钮失灵", tk.Title)
	assert.Equal(t, draft.UrgencyRed, tk.Urgency)
	assert.Equal(t, "dk-old", tk.DedupKey)
	assert.Empty(t, tk.RepeatOf)
}

func TestClosedAt(t *testing.T) {
	h := newHistory(t)
	assert.True(t, h.t.ClosedAt.IsZero())
	h.must(t, pathTo[ticket.StateClosed]...)
	closedAt := h.now
	assert.Equal(t, closedAt, h.t.ClosedAt, "set when the ticket is closed")
	h.must(t, "archive")
	assert.Equal(t, closedAt, h.t.ClosedAt, "kept when it is archived")

	h = newHistory(t)
	h.must(t, "force_close")
	assert.Equal(t, h.now, h.t.ClosedAt, "a force-close closes too")
	h.must(t, "reopen")
	assert.True(t, h.t.ClosedAt.IsZero(), "cleared on reopen")
	folded, err := ticket.Fold(h.events)
	require.NoError(t, err)
	assert.Equal(t, h.t, folded)

	h = newHistory(t)
	h.must(t, "reject", "archive")
	assert.True(t, h.t.ClosedAt.IsZero(), "a rejected ticket was never closed")
}

func TestCustomerKey(t *testing.T) {
	cases := []struct {
		c    draft.Customer
		want string
	}{
		{draft.Customer{ID: "cust-wang", Phone: "13812345678", WechatOpenID: "o1", WecomUserID: "w1"}, "id:cust-wang"},
		{draft.Customer{Phone: " 13812345678 ", WechatOpenID: "o1"}, "phone:13812345678"},
		{draft.Customer{WechatOpenID: "o1", WecomUserID: "w1"}, "wechat_openid:o1"},
		{draft.Customer{WecomUserID: "w1", Name: "王建国"}, "wecom_userid:w1"},
		{draft.Customer{Name: "王建国", Org: "华东仓", ID: "  "}, ""},
		{draft.Customer{ID: "13812345678"}, "id:13812345678"}, // an id never equals a phone
	}
	for _, c := range cases {
		assert.Equal(t, c.want, ticket.CustomerKey(c.c), "%+v", c.c)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// TestAddSourceFillsWhatTheTicketLacks: a conversation's later messages (the phone number and
// address the customer was asked for) fill the ticket's empty fields; nothing it has is
// overwritten; attachments add up.
func TestAddSourceFillsWhatTheTicketLacks(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	first := draft.Draft{Title: "报修：电梯不动了", ThreadKey: "wechat:gzh:o1",
		Customer:    draft.Customer{WechatOpenID: "o1"},
		Attachments: []draft.Attachment{{Kind: "image", URI: "wechat-media:m1"}}}
	ev, err := ticket.Create("GD-20261202-000001", first, "", system, t0, "")
	require.NoError(t, err)
	tk, err := ticket.Apply(ticket.Ticket{}, ev)
	require.NoError(t, err)
	merge := func(d draft.Draft) {
		t.Helper()
		ev, err := ticket.AddSource(tk, d, system, t0.Add(time.Minute), "")
		require.NoError(t, err)
		tk, err = ticket.Apply(tk, ev)
		require.NoError(t, err)
	}
	merge(draft.Draft{Description: "13812345678", Customer: draft.Customer{WechatOpenID: "o1", Phone: "13812345678"}})
	assert.Equal(t, "13812345678", tk.Customer.Phone)
	assert.Empty(t, tk.Location.Address)
	merge(draft.Draft{Description: "苏州工业园区星湖街328号", Category: "电梯故障",
		Location:    draft.Location{Address: "苏州工业园区星湖街328号", City: "苏州", Lat: 31.3, Lon: 120.6},
		Device:      draft.Device{ID: "EL-2023-0042"},
		Attachments: []draft.Attachment{{Kind: "image", URI: "wechat-media:m1"}, {Kind: "voice", URI: "wechat-media:m2"}}})
	assert.Equal(t, draft.Location{Address: "苏州工业园区星湖街328号", City: "苏州", Lat: 31.3, Lon: 120.6}, tk.Location)
	assert.Equal(t, "电梯故障", tk.Category)
	assert.Equal(t, "EL-2023-0042", tk.Device.ID)
	assert.Equal(t, []draft.Attachment{{Kind: "image", URI: "wechat-media:m1"}, {Kind: "voice", URI: "wechat-media:m2"}}, tk.Attachments)

	// What the ticket has stays: a later message with another phone, address or category
	// is on record as a source, and changes none of them.
	merge(draft.Draft{Description: "换个号码 13900000000", Category: "其他",
		Customer: draft.Customer{Phone: "13900000000", Name: "王先生"},
		Location: draft.Location{Address: "别处", Lat: 1, Lon: 1}})
	assert.Equal(t, "13812345678", tk.Customer.Phone)
	assert.Equal(t, "王先生", tk.Customer.Name, "but a name it lacked is filled")

	// So are an email address and the customer's own order of channels, once.
	merge(draft.Draft{Description: "邮件联系", Customer: draft.Customer{Email: "wang@example.com", Channels: []string{"email"}}})
	merge(draft.Draft{Description: "换个邮箱", Customer: draft.Customer{Email: "other@example.com", Channels: []string{"sms"}}})
	assert.Equal(t, "wang@example.com", tk.Customer.Email)
	assert.Equal(t, []string{"email"}, tk.Customer.Channels)
	assert.Equal(t, "苏州工业园区星湖街328号", tk.Location.Address)
	assert.Equal(t, 31.3, tk.Location.Lat)
	assert.Equal(t, "电梯故障", tk.Category)
	assert.Equal(t, "报修：电梯不动了", tk.Title, "the title is the first message's")
	assert.Len(t, tk.Sources, 6)
}

// TestAnEarlierMessageMergedLaterTitlesTheTicket: the pipeline can hand a conversation's
// first message to the core after its second; the ticket still reads as the customer began.
func TestAnEarlierMessageMergedLaterTitlesTheTicket(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	second := draft.Draft{Description: "13812345678", ReceivedAt: t0.Add(time.Minute), Customer: draft.Customer{Phone: "13812345678"}}
	ev, err := ticket.Create("GD-20261202-000001", second, "", system, t0.Add(2*time.Minute), "")
	require.NoError(t, err)
	tk, err := ticket.Apply(ticket.Ticket{}, ev)
	require.NoError(t, err)
	require.Equal(t, "13812345678", tk.Title)

	first := draft.Draft{Title: "", Description: "报修：空调不制冷了\n3号楼", ReceivedAt: t0, Category: "空调故障"}
	ev, err = ticket.AddSource(tk, first, system, t0.Add(3*time.Minute), "")
	require.NoError(t, err)
	tk, err = ticket.Apply(tk, ev)
	require.NoError(t, err)
	assert.Equal(t, "报修：空调不制冷了", tk.Title)
	assert.Equal(t, "报修：空调不制冷了\n3号楼", tk.Description)
	assert.Equal(t, "13812345678", tk.Customer.Phone)
	assert.Equal(t, "空调故障", tk.Category)

	// A later one changes neither; nor does one without a time.
	for _, d := range []draft.Draft{{Description: "谢谢", ReceivedAt: t0.Add(5 * time.Minute)}, {Description: "无时间"}} {
		ev, err = ticket.AddSource(tk, d, system, t0.Add(6*time.Minute), "")
		require.NoError(t, err)
		tk, err = ticket.Apply(tk, ev)
		require.NoError(t, err)
		assert.Equal(t, "报修：空调不制冷了", tk.Title)
	}
}

// Messages of one second (WeChat's CreateTime has seconds) are ordered by their arrival.
func TestMessagesOfOneSecondKeepTheirArrivalOrder(t *testing.T) {
	sent := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	conv := func(text string, arrived time.Duration) draft.Draft {
		return draft.Draft{Description: text, ThreadKey: "wechat:gzh:o1", ThreadWindow: draft.Window(30 * time.Minute),
			OccurredAt: sent, ReceivedAt: sent.Add(arrived)}
	}
	ev, err := ticket.Create("GD-20261202-000001", conv("13812345678", 20*time.Millisecond), "", system, sent, "")
	require.NoError(t, err)
	tk, err := ticket.Apply(ticket.Ticket{}, ev)
	require.NoError(t, err)
	ev, err = ticket.AddSource(tk, conv("报修：空调不制冷了", 10*time.Millisecond), system, sent, "")
	require.NoError(t, err)
	tk, err = ticket.Apply(tk, ev)
	require.NoError(t, err)
	assert.Equal(t, "报修：空调不制冷了", tk.Title)
}

// TestAddSourceBoundsTheTicketsLists: every draft of a thread is within the draft's limits,
// but their union would grow without end; the ticket keeps at most MaxTags tags and
// MaxAttachments attachments, and each draft keeps all of its own in sources.
func TestAddSourceBoundsTheTicketsLists(t *testing.T) {
	h := newHistory(t)
	for i := range 10 {
		d := alarm(draft.UrgencyOrange)
		d.DedupKey = fmt.Sprintf("plant-mqtt/E1/estop/%d", i)
		for j := range draft.MaxTags {
			d.Tags = append(d.Tags, fmt.Sprintf("t%d-%d", i, j))
		}
		for j := range draft.MaxAttachments {
			d.Attachments = append(d.Attachments, draft.Attachment{Kind: "image", URI: fmt.Sprintf("attachment:%d-%d", i, j)})
		}
		ev, err := ticket.AddSource(h.t, d, system, h.now.Add(time.Duration(i+1)*time.Minute), "")
		require.NoError(t, err)
		h.append(t, ev)
	}
	assert.Len(t, h.t.Tags, ticket.MaxTags)
	assert.Len(t, h.t.Attachments, ticket.MaxAttachments)
	last := h.t.Sources[len(h.t.Sources)-1]
	assert.Len(t, last.Tags, draft.MaxTags, "the draft keeps its own")
	assert.Len(t, last.Attachments, draft.MaxAttachments)
}

// A customer who calls again about an open ticket chases it (催单): the ticket counts its calls
// and is tagged 催单 from the second on; a WeChat message in the same thread is no call.
func TestASecondCallChasesTheTicket(t *testing.T) {
	call := func(key string) draft.Draft {
		return draft.Draft{
			Source:   draft.Source{Connector: "hotline", Type: "hotline", Kind: draft.KindCall},
			DedupKey: "hotline/" + key, ThreadKey: "hotline/caller:13812345678:电梯故障",
			Title: "电梯又困人了", Description: "第二次打了", Tags: []string{"情绪激动"},
		}
	}
	ev, err := ticket.Create("GD-20261123-000002", call("a"), "", system, t0, "")
	require.NoError(t, err)
	h := &history{now: t0}
	h.append(t, ev)
	assert.Equal(t, 1, h.t.Calls)
	assert.NotContains(t, h.t.Tags, ticket.TagChased, "one call is no chase")

	h.now = h.now.Add(time.Minute)
	message := alarm(draft.UrgencyBlue)
	message.Source = draft.Source{Connector: "gzh", Type: "wechat.officialaccount", Kind: "text"}
	ev, err = ticket.AddSource(h.t, message, system, h.now, "")
	require.NoError(t, err)
	h.append(t, ev)
	assert.Equal(t, 1, h.t.Calls, "a message is no call")
	assert.NotContains(t, h.t.Tags, ticket.TagChased)

	for i, key := range []string{"b", "c"} {
		h.now = h.now.Add(time.Minute)
		ev, err = ticket.AddSource(h.t, call(key), system, h.now, "")
		require.NoError(t, err)
		h.append(t, ev)
		assert.Equal(t, i+2, h.t.Calls)
		assert.Equal(t, []string{"情绪激动", ticket.TagChased}, h.t.Tags, "tagged once")
	}
	folded, err := ticket.Fold(h.events)
	require.NoError(t, err)
	assert.Equal(t, h.t, folded, "the count is the events'")
}

// A ticket suggests the best knowledge articles of all its drafts: each article once, with the
// best score a draft gave it, at most three, best first, ties by id, whatever order the drafts
// came in; the ticket's JSON shows them, and folding the events gives the same.
func TestTheTicketKeepsTheBestSuggestionsOfItsDrafts(t *testing.T) {
	s := func(id string, score int) draft.Suggestion {
		return draft.Suggestion{ID: id, Title: "文章 " + id, Why: fmt.Sprintf("score %d", score), Score: score}
	}
	first := draft.Draft{Title: "指纹锁没反应", ThreadKey: "hooks/lock:E202405017",
		Suggestions: []draft.Suggestion{s("lock-battery", 3), s("lock-generic", 3)}}
	second := draft.Draft{Title: "补充：固件 2.3.1", ThreadKey: "hooks/lock:E202405017",
		Suggestions: []draft.Suggestion{s("tl-x9-fp-sleep", 9), s("lock-generic", 5), s("a-lock", 3)}}
	third := draft.Draft{Title: "还是不行", ThreadKey: "hooks/lock:E202405017"}

	ev, err := ticket.Create("GD-20261123-000003", first, "", system, t0, "")
	require.NoError(t, err)
	h := &history{now: t0}
	h.append(t, ev)
	assert.Equal(t, first.Suggestions, h.t.Suggestions)
	for _, d := range []draft.Draft{second, third} {
		h.now = h.now.Add(time.Minute)
		ev, err = ticket.AddSource(h.t, d, system, h.now, "")
		require.NoError(t, err)
		h.append(t, ev)
	}
	want := []draft.Suggestion{s("tl-x9-fp-sleep", 9), s("lock-generic", 5), s("a-lock", 3)}
	assert.Equal(t, want, h.t.Suggestions, "lock-battery ties with a-lock at 3 and loses on its id")
	assert.Equal(t, first.Suggestions, h.t.Sources[0].Suggestions, "each draft keeps its own in sources")

	b, err := json.Marshal(h.t)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"suggestions":[{"id":"tl-x9-fp-sleep","title":"文章 tl-x9-fp-sleep","why":"score 9","score":9},`)
	folded, err := ticket.Fold(h.events)
	require.NoError(t, err)
	assert.Equal(t, h.t, folded)

	// The other order gives the same.
	ev, err = ticket.Create("GD-20261123-000004", second, "", system, t0, "")
	require.NoError(t, err)
	other := &history{now: t0}
	other.append(t, ev)
	ev, err = ticket.AddSource(other.t, first, system, t0.Add(time.Minute), "")
	require.NoError(t, err)
	other.append(t, ev)
	assert.Equal(t, want, other.t.Suggestions)

	// A ticket without suggestions leaves the key out, as tickets did before.
	ev, err = ticket.Create("GD-20261123-000005", third, "", system, t0, "")
	require.NoError(t, err)
	none := &history{now: t0}
	none.append(t, ev)
	b, err = json.Marshal(none.t)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "suggestions")
}

// A follow-up's suggestions were matched against its own device: a follow-up that names none
// (or another) adds none to a ticket about a device, while one about the ticket's device does;
// and two drafts that give one article the same score make the same ticket in either order.
func TestSuggestionsOnlyFromDraftsAboutTheTicketsDevice(t *testing.T) {
	first := draft.Draft{Title: "GA22 温度过高停机", Device: draft.Device{ID: "E1", Model: "GA22"}, ThreadKey: "hooks/E1",
		Suggestions: []draft.Suggestion{{ID: "ga22-overheat", Title: "GA22 过热", Why: "model GA22", Score: 5}}}
	noDevice := draft.Draft{Title: "还是温度过高 停机", ThreadKey: "hooks/E1",
		Suggestions: []draft.Suggestion{{ID: "ga37-discharge-overheat", Title: "GA37 排气过热", Why: "keywords 温度过高", Score: 6}}}
	another := noDevice
	another.Device = draft.Device{ID: "E9", Model: "GA37"}
	same := draft.Draft{Title: "E1 又停了", Device: draft.Device{ID: "E1"}, ThreadKey: "hooks/E1",
		Suggestions: []draft.Suggestion{{ID: "ga22-restart", Title: "GA22 重启", Why: "keywords 停", Score: 2}}}
	ev, err := ticket.Create("GD-20261123-000005", first, "", system, t0, "")
	require.NoError(t, err)
	h := &history{now: t0}
	h.append(t, ev)
	for _, d := range []draft.Draft{noDevice, another, same} {
		h.now = h.now.Add(time.Minute)
		ev, err = ticket.AddSource(h.t, d, system, h.now, "")
		require.NoError(t, err)
		h.append(t, ev)
	}
	var ids []string
	for _, s := range h.t.Suggestions {
		ids = append(ids, s.ID)
	}
	assert.Equal(t, []string{"ga22-overheat", "ga22-restart"}, ids)

	a := draft.Draft{Title: "指纹锁没反应", Suggestions: []draft.Suggestion{{ID: "x", Title: "X", Why: "category 门锁故障", Score: 3}}}
	b := draft.Draft{Title: "指纹锁识别不了", Suggestions: []draft.Suggestion{{ID: "x", Title: "X", Why: "keywords 识别不了", Score: 3}}}
	var whys []string
	for _, order := range [][2]draft.Draft{{a, b}, {b, a}} {
		ev, err := ticket.Create("GD-20261123-000006", order[0], "", system, t0, "")
		require.NoError(t, err)
		o := &history{now: t0}
		o.append(t, ev)
		ev, err = ticket.AddSource(o.t, order[1], system, t0.Add(time.Minute), "")
		require.NoError(t, err)
		o.append(t, ev)
		whys = append(whys, o.t.Suggestions[0].Why)
	}
	assert.Equal(t, whys[0], whys[1], "the same in either order")
}

// Tags the core adds at creation (a chronic device's 频繁故障) go on the ticket and into the
// creation event, apart from the draft, which stays as it was sent; only on a create event.
func TestWithTags(t *testing.T) {
	d := alarm(draft.UrgencyOrange, "急停故障")
	at := time.Date(2026, 11, 23, 9, 42, 0, 0, time.UTC)
	ev, err := ticket.Create("GD-1", d, "", system, at, "")
	require.NoError(t, err)
	ev, err = ticket.WithTags(ev, "频繁故障", "急停故障", "", "频繁故障")
	require.NoError(t, err)
	var data ticket.CreateData
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	assert.Equal(t, []string{"频繁故障"}, data.Tags, "once, and not what the draft has")
	assert.Equal(t, d, data.Draft, "the draft as sent")
	tk, err := ticket.Apply(ticket.Ticket{}, ev)
	require.NoError(t, err)
	assert.Equal(t, []string{"急停故障", "频繁故障"}, tk.Tags)
	assert.Equal(t, []string{"急停故障"}, tk.Sources[0].Tags)

	_, err = ticket.WithTags(ticket.Event{Action: ticket.ActionAssign}, "x")
	assert.ErrorIs(t, err, ticket.ErrInvalidData)
}
