package hotline

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/configs/dictionaries"
	"gongdan/draft"
	"gongdan/normalize"
)

// line is one turn of a call as a test writes it: who, what.
type line struct {
	agent bool
	text  string
}

// elevatorCall is a call to a lift maintainer's hotline: the customer gives the number, the
// address and the serial as people say them, and is upset by the end.
var elevatorCall = []line{
	{true, "您好，工号3021，很高兴为您服务，请问有什么可以帮您？"},
	{false, "喂，你好，我们小区三号楼的电梯困人了，里面有两个人"},
	{true, "好的，请问您的地址是？"},
	{false, "地址是南京市玄武区科技路四百零六号，三号楼"},
	{true, "请问您的联系电话？"},
	{false, "我的电话是一八六 幺二三四 五六七八"},
	{true, "好的，您的电话是幺三九，零零零零，零零零零对吗？"}, // the agent gets it wrong: never the customer's number
	{false, "不对，是一八六 幺二三四 五六七八"},
	{true, "设备上有编号吗？"},
	{false, "有的，是E二零二四幺幺零零八"},
	{true, "好的，已经为您登记，我们马上安排师傅过去。"},
	{false, "快点啊，这是第三次打了"},
}

// The customer speaks first: a caller who starts talking before the greeting ends.
var customerFirst = append([]line{{false, "喂？喂？我们厂里的空压机冒烟了！"}}, elevatorCall...)

// aliyunCall writes a call as Aliyun's GetTaskResult: the agent on channel agentCh (or
// everyone on channel 0, mono, when agentCh < 0).
func aliyunCall(t testing.TB, call []line, agentCh int) []byte {
	type sentence struct {
		ChannelId    int
		BeginTime    int64
		EndTime      int64
		Text         string
		EmotionValue float64
		SpeechRate   int
	}
	var ss []sentence
	at := int64(300)
	for _, l := range call {
		ch := 0
		if agentCh >= 0 {
			ch = 1 - agentCh
			if l.agent {
				ch = agentCh
			}
		}
		d := int64(200 * len([]rune(l.text)))
		ss = append(ss, sentence{ChannelId: ch, BeginTime: at, EndTime: at + d, Text: l.text, EmotionValue: 5.2, SpeechRate: 280})
		at += d + 400
	}
	b, err := json.Marshal(map[string]any{
		"TaskId": "8f3c2a10c9e611ee8a4d0b1f2c3d0042", "RequestId": "5D2E8C41-3F0A-4C6B-9E1D-7A8B9C0D0042",
		"StatusCode": 21050000, "StatusText": "SUCCESS", "BizDuration": at,
		"Result": map[string]any{"Sentences": ss},
	})
	require.NoError(t, err)
	return b
}

func testOptions(t testing.TB) callOptions {
	dict, err := normalize.LoadDictionary(bytes.NewReader(dictionaries.Faults))
	require.NoError(t, err)
	e := normalize.DefaultEnricher(dict)
	e.DevicePatterns = []*regexp.Regexp{regexp.MustCompile(`\bE\d{9}\b`), regexp.MustCompile(`SN-\d{4}-\d{4}`)}
	return callOptions{enricher: e, threadWindow: 72 * time.Hour, agitated: 7}
}

func envelopeOf(body []byte, ct string) draft.Envelope {
	return draft.Envelope{ID: "env-1", Connector: "hotline", ConnectorType: TypeHotline, Type: EnvelopeType,
		ReceivedAt: time.Date(2026, 11, 23, 9, 50, 0, 0, time.FixedZone("CST", 8*3600)), ContentType: ct, Payload: body}
}

func draftOf(t *testing.T, body []byte, ct string, o callOptions) draft.Draft {
	t.Helper()
	tr, err := Decode(FormatAuto, ct, body)
	require.NoError(t, err)
	d := draft.Complete(callDraft(envelopeOf(body, ct), tr, o), envelopeOf(body, ct))
	require.NoError(t, d.Validate())
	return d
}

// The customer's words make the fields, spoken numbers as digits; the agent's wrong read-back of
// the number is never the customer's; the whole call is kept turn by turn.
func TestACallBecomesADraftFromWhatTheCustomerSaid(t *testing.T) {
	o := testOptions(t)
	o.roles.AgentChannel = new(int) // the agent on channel 0
	d := draftOf(t, aliyunCall(t, elevatorCall, 0), "application/json", o)

	assert.Equal(t, "我们小区3号楼的电梯困人了，里面有两个人", d.Title, "the first thing the customer said, numbers as digits")
	assert.Equal(t, "18612345678", d.Customer.Phone)
	assert.Equal(t, "E202411008", d.Device.ID)
	assert.Contains(t, d.Location.Address, "科技路406号")
	assert.Equal(t, draft.UrgencyRed, d.Urgency, "困人 is a safety risk")
	assert.Contains(t, d.Tags, TagAgitated, "第三次打了")
	assert.NotContains(t, d.Description, "工号", "the agent's words are not the description")
	assert.NotContains(t, d.Description, "13900000000")
	require.Len(t, d.Turns, len(elevatorCall))
	for i, l := range elevatorCall {
		assert.Equal(t, map[bool]string{true: draft.RoleAgent, false: draft.RoleCustomer}[l.agent], d.Turns[i].Role, "turn %d %s", i, l.text)
		assert.Equal(t, l.text, d.Turns[i].Text, "a turn is kept as said")
	}
	assert.Equal(t, "aliyun/8f3c2a10c9e611ee8a4d0b1f2c3d0042", d.DedupKey, "Aliyun task ids are unique: no day")
	assert.Equal(t, "caller:18612345678"+suffix(d.Category), d.ThreadKey)
	assert.Equal(t, draft.Window(72*time.Hour), d.ThreadWindow)
	assert.Equal(t, "call", d.Source.Kind)
	evidence := map[string]draft.Evidence{}
	for _, e := range d.Evidence {
		evidence[e.Field] = e
	}
	assert.Equal(t, "roles:config", evidence["turns"].From)
	assert.Equal(t, "customer", evidence["customer.phone"].From)
	assert.Equal(t, "一八六 幺二三四 五六七八", evidence["customer.phone"].Text, "the evidence quotes what was said")
}

func suffix(category string) string {
	if category == "" {
		return ""
	}
	return ":" + category
}

// Agent on channel 0, on channel 1, configured or not, or a mono recording with no mapping:
// the same draft, roles and all. A customer who speaks first still gets the customer's role.
func TestRolesWhicheverChannelTheAgentIsOn(t *testing.T) {
	for _, call := range map[string][]line{"agent first": elevatorCall, "customer first": customerFirst} {
		o := testOptions(t)
		want := draftOf(t, aliyunCall(t, call, 0), "application/json", withChannel(o, 0))
		for _, c := range []struct {
			name    string
			agentCh int
			o       callOptions
		}{
			{"channel 1, configured", 1, withChannel(o, 1)},
			{"channel 0, found by cues", 0, o},
			{"channel 1, found by cues", 1, o},
			{"mono, no mapping", -1, o},
		} {
			got := draftOf(t, aliyunCall(t, call, c.agentCh), "application/json", c.o)
			for i := range want.Turns {
				assert.Equal(t, want.Turns[i].Role, got.Turns[i].Role, "%s: turn %d %q", c.name, i, got.Turns[i].Text)
			}
			assert.Equal(t, want.Title, got.Title, c.name)
			assert.Equal(t, want.Description, got.Description, c.name)
			assert.Equal(t, want.Customer, got.Customer, c.name)
			assert.Equal(t, want.Device, got.Device, c.name)
			assert.Equal(t, want.Location, got.Location, c.name)
			assert.Equal(t, want.Urgency, got.Urgency, c.name)
			assert.Equal(t, want.ThreadKey, got.ThreadKey, c.name)
		}
	}
}

func withChannel(o callOptions, ch int) callOptions {
	o.roles.AgentChannel = &ch
	return o
}

// Without a number said, the caller id is the phone, and the evidence says so.
func TestCallerIDWhenNoNumberIsSaid(t *testing.T) {
	body := []byte(`{"call_id":"CC-1","caller":"+86 186-1234-5678","started_at":"2026-11-23T09:42:00+08:00","turns":[
	 {"speaker":"agent","start_ms":0,"end_ms":3000,"text":"您好，工号3021为您服务"},
	 {"speaker":"customer","start_ms":3200,"end_ms":8000,"text":"你好，我家冰箱不制冷了"}]}`)
	d := draftOf(t, body, "application/json", testOptions(t))
	assert.Equal(t, "18612345678", d.Customer.Phone)
	assert.Contains(t, d.Evidence, draft.Evidence{Field: "customer.phone", Text: "+86 186-1234-5678", From: "caller_id"})
	assert.Equal(t, "call/CC-1", d.DedupKey)
	assert.Equal(t, "我家冰箱不制冷了", d.Title)
	assert.NotContains(t, d.Tags, TagAgitated, "a calm caller")
}

// Tencent reuses task ids across days: a call that reuses one is another call, while the same
// result sent again, on another day or in Tencent's other shape (its callback), is the one call.
func TestTencentTaskIDsAreKeyedByTheirCall(t *testing.T) {
	o := testOptions(t)
	key := func(file, ct string, shift time.Duration, edit func(*Transcript)) string {
		body, err := os.ReadFile(filepath.Join("testdata", "tencent", file))
		require.NoError(t, err)
		tr, err := Decode(FormatAuto, ct, body)
		require.NoError(t, err)
		if edit != nil {
			edit(&tr)
		}
		env := envelopeOf(body, ct)
		env.ReceivedAt = env.ReceivedAt.Add(shift)
		return callDraft(env, tr, o).DedupKey
	}
	first := key("describe-task-status-hotline.json", "application/json", 0, nil)
	assert.Regexp(t, `^tencent/\d+/[0-9a-f]{16}$`, first)
	assert.Equal(t, first, key("describe-task-status-hotline.json", "application/json", 0, nil), "sent twice")
	assert.Equal(t, first, key("describe-task-status-hotline.json", "application/json", 20*time.Hour, nil), "sent again after midnight")
	assert.Equal(t, first, key("callback-detail.form", "application/x-www-form-urlencoded", time.Hour, nil), "its callback")
	assert.NotEqual(t, first, key("describe-task-status-hotline.json", "application/json", 72*time.Hour, func(tr *Transcript) {
		tr.Turns[1].Text = "你好，我家空调不制冷了"
	}), "another call with the task id again")
}

// Every vendor's sample of a hotline call makes a draft from the customer's words.
func TestEveryVendorsCallMakesADraft(t *testing.T) {
	for _, f := range []string{"aliyun/hotline-two-channel.json", "tencent/describe-task-status-hotline.json",
		"tencent/callback-detail.form", "iflytek/get-result-two-roles.json", "generic/call.json"} {
		body, err := os.ReadFile(filepath.Join("testdata", f))
		require.NoError(t, err)
		ct := "application/json"
		if filepath.Ext(f) == ".form" {
			ct = "application/x-www-form-urlencoded"
		}
		d := draftOf(t, body, ct, testOptions(t))
		assert.NotEmpty(t, d.Title, f)
		assert.NotContains(t, d.Title, "工号", "%s: the title is not the agent's greeting", f)
		assert.NotEmpty(t, d.Turns, f)
		roles := map[string]int{}
		for _, tu := range d.Turns {
			roles[tu.Role]++
		}
		assert.Positive(t, roles[draft.RoleAgent], "%s: %v", f, roles)
		assert.Positive(t, roles[draft.RoleCustomer], "%s: %v", f, roles)
		// Every sample is the same call, as each vendor delivers it.
		assert.Equal(t, "我们厂里3号线的急停按钮失灵了，按下去没反应。", d.Title, f)
		assert.Equal(t, "18612345678", d.Customer.Phone, f)
		assert.Equal(t, "SN-0427-0019", d.Device.ID, "%s: said SN零四二七杠零零幺九", f)
		assert.Equal(t, "苏州工业园区星湖街328号", d.Location.Address, f)
	}
}

// agent_channel speaks of Aliyun's channels only, agent_speaker of diarized speakers only: a
// connector with format auto that takes both keeps each to its own vendors, and an id the call
// does not have leaves the roles to the words.
func TestRoleKeysSpeakOfTheirOwnVendors(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "iflytek", "get-result-two-roles.json"))
	require.NoError(t, err)
	tr, err := Decode(FormatAuto, "application/json", body)
	require.NoError(t, err)
	zero, nine := 0, 9
	for _, rc := range []RoleConfig{{AgentChannel: &zero}, {AgentSpeaker: &nine}, {}} {
		r := decideRoles(tr, rc)
		assert.Equal(t, "cues", r.How, "%+v", rc)
		assert.Equal(t, RoleAgent, r.Turns[0].Role, "%+v: %s", rc, r.Turns[0].Text)
	}
	// iFlytek's rl is 1 and 2 here: agent_speaker 1 is honoured, and so is a wrong 2 (the
	// config is the operator's word).
	one, two := 1, 2
	r := decideRoles(tr, RoleConfig{AgentSpeaker: &one})
	assert.Equal(t, "config", r.How)
	assert.Equal(t, RoleAgent, r.Turns[0].Role)
	r = decideRoles(tr, RoleConfig{AgentSpeaker: &two})
	assert.Equal(t, "config", r.How)
	assert.Equal(t, RoleCustomer, r.Turns[0].Role)
}

// Review findings: roles the body gives are kept when one turn has none; a polite caller's 请问
// does not make them the agent; a call-back's record gives the callee, not the company's line;
// a caller id with a trunk 0 is the mobile number.
func TestRolesAndNumbersTheReviewFound(t *testing.T) {
	o := testOptions(t)
	partial := []byte(`{"call_id":"CC-9","turns":[
	 {"speaker":"agent","start_ms":0,"end_ms":1000,"text":"您好"},
	 {"speaker":"customer","start_ms":1000,"end_ms":5000,"text":"请问你们几点能来修空调，电话一三八零零一二三四五六"},
	 {"speaker":"3","start_ms":5000,"end_ms":6000,"text":"好的"}]}`)
	d := draftOf(t, partial, "application/json", o)
	assert.Equal(t, []string{draft.RoleAgent, draft.RoleCustomer, draft.RoleCustomer}, []string{d.Turns[0].Role, d.Turns[1].Role, d.Turns[2].Role})
	assert.Equal(t, "13800123456", d.Customer.Phone)

	// Two speakers; the agent greets without a job number, the caller asks politely twice.
	polite := aliyunCall(t, []line{
		{true, "您好，售后服务热线"},
		{false, "请问是售后吗？我家空调坏了"},
		{true, "是的，您说"},
		{false, "请问今天能来吗？我的电话是一三八零零一二三四五六"},
		{true, "好的，您的地址是？"},
		{false, "南京市玄武区科技路四百零六号"},
	}, 0)
	d = draftOf(t, polite, "application/json", o)
	assert.Equal(t, draft.RoleAgent, d.Turns[0].Role)
	assert.Equal(t, draft.RoleCustomer, d.Turns[1].Role, "请问 from a caller")
	assert.Equal(t, "13800123456", d.Customer.Phone)

	// A call-back: the record's caller is the company's line, the callee the customer.
	callback := Transcript{Vendor: FormatGeneric, CallID: "CB-1", Turns: []Turn{
		{Role: RoleAgent, Text: "您好，这里是售后，回访一下您的空调", EndMS: 1000},
		{Role: RoleCustomer, StartMS: 1000, EndMS: 3000, Text: "修好了，谢谢"}}}
	oc := o
	rec := &CDR{CallID: "CB-1", Caller: "02161234567", Callee: "13912345678", Direction: "outbound"}
	d = callDraft(envelopeOf(nil, "application/json"), withRecord(callback, rec, &oc), oc)
	assert.Equal(t, "13912345678", d.Customer.Phone, "the callee of a call-back")
	rec.Direction = "inbound"
	d = callDraft(envelopeOf(nil, "application/json"), withRecord(callback, rec, &oc), oc)
	assert.Equal(t, "021-61234567", d.Customer.Phone)

	// A caller id with a trunk 0.
	callback.Caller = "018612345678"
	d = callDraft(envelopeOf(nil, "application/json"), callback, o)
	assert.Equal(t, "18612345678", d.Customer.Phone)
}

// agitatedFirst is every rune a word of agitatedWords can begin with, read from the regexp:
// a turn without one is not searched.
func TestAgitatedFirst(t *testing.T) {
	re, err := syntax.Parse(agitatedWords.String(), syntax.Perl)
	require.NoError(t, err)
	var first func(re *syntax.Regexp) []rune
	first = func(re *syntax.Regexp) []rune {
		switch re.Op {
		case syntax.OpLiteral:
			return re.Rune[:1]
		case syntax.OpCharClass:
			var rs []rune
			for i := 0; i < len(re.Rune); i += 2 {
				for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
					rs = append(rs, r)
				}
			}
			return rs
		case syntax.OpConcat, syntax.OpCapture, syntax.OpPlus:
			return first(re.Sub[0])
		case syntax.OpAlternate:
			var rs []rune
			for _, sub := range re.Sub {
				rs = append(rs, first(sub)...)
			}
			return rs
		}
		t.Fatalf("a word of agitatedWords begins with %v (op %v): extend the test", re, re.Op)
		return nil
	}
	want := first(re)
	slices.Sort(want)
	got := []rune(agitatedFirst)
	slices.Sort(got)
	assert.Equal(t, string(slices.Compact(want)), string(slices.Compact(got)))

	for _, text := range []string{"我要投诉", "这是第三次打了", "打了3次", "12345", "还没人来", "你好"} {
		assert.Equal(t, agitatedWords.FindString(text), agitatedWord(text), text)
	}
}
