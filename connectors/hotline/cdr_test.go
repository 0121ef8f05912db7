package hotline_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/draft"
	"gongdan/internal/testkit"
)

// withCDR is a hotline whose transcripts are joined to call records: the ASR task was
// submitted with the call id in its callback URL (?call_id=), as join_on reads it by default.
const withCDR = `name: hotline
type: hotline
callback_token: ${HOTLINE_TEST_TOKEN}
cdr:
  mapping:
    call_id: payload.session_id
    caller: payload.caller
    started_at: payload.start_time
    agent_id: string(payload.agent_id)
    recording_url: payload.record_url
cdr_wait: 1s
`

// A call's transcript says no number: the record's caller is the phone.
const quietCall = `{"call_id":"","caller":"","turns":[
 {"speaker":"agent","start_ms":0,"end_ms":3000,"text":"您好，工号3021为您服务"},
 {"speaker":"customer","start_ms":3200,"end_ms":8000,"text":"你好，我家冰箱不制冷了"}]}`

const quietRecord = `{"session_id":"S-42","caller":"13912345678","start_time":"2026-11-23 09:42:00","agent_id":3021,"record_url":"https://pbx.example.cn/r/S-42.wav"}`

type joinRig struct {
	t    *testing.T
	conn connectors.Connector
	rec  *recorder
	stop func()
}

func newJoinRig(t *testing.T, dir string) *joinRig {
	t.Setenv("HOTLINE_TEST_TOKEN", callbackToken)
	rec := &recorder{}
	conn, _ := buildIn(t, withCDR, rec.publish, dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { conn.Run(ctx); close(done) }()
	r := &joinRig{t: t, conn: conn, rec: rec, stop: func() { cancel(); <-done }}
	t.Cleanup(r.stop)
	return r
}

func (r *joinRig) transcript(callID string) {
	r.t.Helper()
	w := send(r.conn, "/ingest/hotline?token="+callbackToken+"&call_id="+callID, "application/json", nil, []byte(quietCall))
	require.Equal(r.t, http.StatusOK, w.Code, "%s", w.Body)
}

func (r *joinRig) record(body string) {
	r.t.Helper()
	w := send(r.conn, "/ingest/hotline/cdr?token="+callbackToken, "application/json", nil, []byte(body))
	require.Equal(r.t, http.StatusOK, w.Code, "%s", w.Body)
	assert.JSONEq(r.t, `{"code":0,"message":"success"}`, w.Body.String())
}

// draft is the draft of the only envelope published.
func (r *joinRig) draft() draft.Draft {
	r.t.Helper()
	require.Equal(r.t, 1, r.rec.count(), "one envelope for the call")
	ds, err := r.conn.Normalizer().Normalize(r.rec.envs[0])
	require.NoError(r.t, err)
	require.Len(r.t, ds, 1)
	return ds[0]
}

func assertJoined(t *testing.T, d draft.Draft) {
	t.Helper()
	assert.Equal(t, "13912345678", d.Customer.Phone, "the record's caller")
	assert.Contains(t, d.Evidence, draft.Evidence{Field: "customer.phone", Text: "13912345678", From: "caller_id"})
	assert.Equal(t, time.Date(2026, 11, 23, 9, 42, 0, 0, time.FixedZone("CST", 8*3600)).Unix(), d.OccurredAt.Unix())
	assert.Equal(t, []draft.Attachment{{Kind: "recording", URI: "https://pbx.example.cn/r/S-42.wav"}}, d.Attachments)
	assert.Equal(t, "我家冰箱不制冷了", d.Title)
}

func TestTheTranscriptFirstThenItsRecord(t *testing.T) {
	r := newJoinRig(t, t.TempDir())
	r.transcript("S-42")
	assert.Zero(t, r.rec.count(), "the transcript waits for its record")
	r.record(quietRecord)
	assertJoined(t, r.draft())
}

func TestTheRecordFirstThenItsTranscript(t *testing.T) {
	r := newJoinRig(t, t.TempDir())
	r.record(quietRecord)
	assert.Zero(t, r.rec.count(), "a record alone makes no ticket")
	r.transcript("S-42")
	assertJoined(t, r.draft())
}

// A record posted twice (the call centre retried) is one; so is a transcript posted twice.
func TestARecordTwiceIsOne(t *testing.T) {
	r := newJoinRig(t, t.TempDir())
	r.record(quietRecord)
	r.record(quietRecord)
	r.transcript("S-42")
	assertJoined(t, r.draft())
}

// Aliyun posts its records as an array and wants {"code":0}: each record is joined to its call.
func TestRecordsPostedAsAnArray(t *testing.T) {
	r := newJoinRig(t, t.TempDir())
	r.transcript("S-41")
	r.transcript("S-42")
	r.record(`[` + quietRecord + `,{"session_id":"S-41","caller":"13700001111","start_time":1795923720,"agent_id":7}]`)
	require.Eventually(t, func() bool { return r.rec.count() == 2 }, 10*time.Second, 10*time.Millisecond)
	phones := map[string]bool{}
	for _, env := range r.rec.envs {
		ds, err := r.conn.Normalizer().Normalize(env)
		require.NoError(t, err)
		phones[ds[0].Customer.Phone] = true
	}
	assert.Equal(t, map[string]bool{"13912345678": true, "13700001111": true}, phones)
}

// A transcript whose record never comes becomes a ticket after cdr_wait, with what it has, and
// the evidence says the record is missing.
func TestARecordThatNeverComes(t *testing.T) {
	r := newJoinRig(t, t.TempDir())
	r.transcript("S-99")
	require.Eventually(t, func() bool { return r.rec.count() == 1 }, 30*time.Second, 20*time.Millisecond, "published after cdr_wait")
	d := r.draft()
	assert.Empty(t, d.Customer.Phone, "no number said, no record")
	assert.Contains(t, d.Evidence, draft.Evidence{Field: "source.external_id",
		Text: "no call record came within cdr_wait: the ticket has what the transcript says", From: "cdr"})
}

// What waits survives a restart: the transcript kept before gongdan stopped is joined to the
// record posted after it started again.
func TestAWaitingTranscriptSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	r := newJoinRig(t, dir)
	r.transcript("S-42")
	r.stop()
	r = newJoinRig(t, dir)
	r.record(quietRecord)
	assertJoined(t, r.draft())
}

// A record that is not one, or that names no call, is refused with the reason; nothing waits.
func TestBadRecordsAreRefused(t *testing.T) {
	r := newJoinRig(t, t.TempDir())
	for _, body := range []string{`{"session_id": `, `[]`, `[1]`, `{"caller":"13912345678"}`, `{"session_id":"S-1","start_time":"yesterday"}`} {
		w := send(r.conn, "/ingest/hotline/cdr?token="+callbackToken, "application/json", nil, []byte(body))
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code, "%s: %s", body, w.Body)
		assert.NotEmpty(t, problemOf(t, w).Detail)
	}
	w := send(r.conn, "/ingest/hotline/cdr", "application/json", nil, []byte(quietRecord))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "records need the token too")
	r.transcript("S-1")
	assert.Zero(t, r.rec.count(), "the transcript waits: no record was taken")
}

// validate says what is wrong with a cdr section, at its line.
func TestCDRConfigMistakesAreLocated(t *testing.T) {
	t.Setenv("HOTLINE_TEST_TOKEN", callbackToken)
	for _, c := range []struct{ item, want string }{
		{"cdr:\n  mapping:\n    caller: payload.caller\n", "call_id is required"},
		{"cdr:\n  mapping:\n    call_id: payload.id\n    colour: payload.c\n", `"colour" is no field of a call record`},
		{"cdr:\n  mapping:\n    call_id: payload.id +\n", "call_id: expression does not compile"},
		{"cdr:\n  mapping:\n    call_id: payload.id\n  join_on: transcript.nope(\n", "join_on: expression does not compile"},
		{"cdr_wait: 5m\n", "only used with a cdr section"},
	} {
		_, err := config.ParseWith("hotline.yaml", []byte(testkit.ConnectorFile("name: hotline\ntype: hotline\ncallback_token: ${HOTLINE_TEST_TOKEN}\n"+c.item)), connectors.Global.Validate)
		if assert.Error(t, err, c.item) {
			assert.Contains(t, err.Error(), c.want)
			assert.Regexp(t, `hotline\.yaml:\d+: `, err.Error())
		}
	}
}

// A transcript sent again after it was joined (its 200 was lost) is joined again and makes no
// second ticket: both drafts have one key, whatever the record added.
func TestATranscriptSentAgainAfterItsJoinIsOneCall(t *testing.T) {
	r := newJoinRig(t, t.TempDir())
	r.transcript("S-42")
	r.record(quietRecord)
	r.transcript("S-42")
	require.Equal(t, 2, r.rec.count(), "joined twice: the record is kept for another transcript of the call")
	keys := map[string]bool{}
	for _, env := range r.rec.envs {
		ds, err := r.conn.Normalizer().Normalize(env)
		require.NoError(t, err)
		assertJoined(t, ds[0])
		keys[ds[0].DedupKey] = true
	}
	assert.Len(t, keys, 1, "one call, one key: %v", keys)
}

// Two transcripts of one call (a call centre that records each participant apart) both wait
// for the record, and both are published with it.
func TestTwoTranscriptsOfOneCall(t *testing.T) {
	r := newJoinRig(t, t.TempDir())
	other := strings.Replace(quietCall, "我家冰箱不制冷了", "我家洗衣机漏水了", 1)
	for _, body := range []string{quietCall, other} {
		w := send(r.conn, "/ingest/hotline?token="+callbackToken+"&call_id=S-42", "application/json", nil, []byte(body))
		require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	}
	assert.Zero(t, r.rec.count())
	r.record(quietRecord)
	require.Equal(t, 2, r.rec.count())
	titles := map[string]bool{}
	for _, env := range r.rec.envs {
		ds, err := r.conn.Normalizer().Normalize(env)
		require.NoError(t, err)
		titles[ds[0].Title] = true
		assert.Equal(t, "13912345678", ds[0].Customer.Phone)
	}
	assert.Equal(t, map[string]bool{"我家冰箱不制冷了": true, "我家洗衣机漏水了": true}, titles)
}

// The same waiting transcript published with its record and (after a crash) alone has one key:
// nothing the record says (its start, a day before) goes into it.
func TestJoinedAndAloneHaveOneKey(t *testing.T) {
	r := newJoinRig(t, t.TempDir())
	r.transcript("S-42")
	r.record(`{"session_id":"S-42","caller":"13912345678","start_time":"2026-11-22 23:59:00","agent_id":3021}`)
	require.Equal(t, 1, r.rec.count())
	joined := r.rec.envs[0]
	alone := joined
	alone.Headers = map[string]string{"cdr_missing": "true"}
	a, err := r.conn.Normalizer().Normalize(joined)
	require.NoError(t, err)
	b, err := r.conn.Normalizer().Normalize(alone)
	require.NoError(t, err)
	assert.Equal(t, a[0].DedupKey, b[0].DedupKey)
	assert.NotEqual(t, a[0].Customer.Phone, b[0].Customer.Phone, "the record did change the draft")
}

// FreeSWITCH's mod_json_cdr posts a record per leg, mapped to one call id: the legs' fields
// are merged, the first's winning, and the transcript is joined to the whole.
func TestTheLegsOfACallAreOneRecord(t *testing.T) {
	r := newJoinRig(t, t.TempDir())
	r.record(`{"session_id":"S-42","caller":"13912345678","start_time":"2026-11-23 09:42:00"}`)                              // the customer's leg
	r.record(`{"session_id":"S-42","caller":"4008001234","agent_id":3021,"record_url":"https://pbx.example.cn/r/S-42.wav"}`) // the agent's
	r.transcript("S-42")
	assertJoined(t, r.draft())
}
