package hotline_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors/hotline"
	"gongdan/draft"
)

const order = "DKHJQ2026112309420911230942556FEF00042"

// processingThenDone answers an order still processing n times, then its result.
func processingThenDone(t *testing.T, n int) func(string, int) answer {
	return func(id string, call int) answer {
		if call <= n {
			return answer{200, iflytekBody(t, "iflytek/get-result-processing.json", id)}
		}
		return answer{200, iflytekBody(t, "iflytek/get-result-two-roles.json", id)}
	}
}

// iFlytek's notice is answered once the order is kept; the connector then asks getResult
// (signed: the fake checks signa on every request), waits while the order is processing, and
// publishes the result as the envelope the same getResult body posted to /ingest would make.
func TestIflytekNoticeFetchesTheResult(t *testing.T) {
	f := newFakes(t)
	f.iflytek.setScript(processingThenDone(t, 2))
	r := buildRig(t, f.item(""), t.TempDir(), nil).start()
	r.notice(order, "")

	env := r.await(1)[0]
	r.settled()
	assert.Equal(t, 3, f.iflytek.callsFor(order), "two answers of processing, then the result")
	assert.Zero(t, f.iflytek.bad(), "every request was signed")
	assert.Equal(t, hotline.EnvelopeType, env.Type)
	assert.Equal(t, "application/json", env.ContentType)
	assert.JSONEq(t, iflytekBody(t, "iflytek/get-result-two-roles.json", order), string(env.Payload))
	d := r.normalize(env)
	assert.Equal(t, "iflytek/"+order, d.DedupKey)

	// The same body posted directly makes the same draft.
	w := r.post("/ingest/hotline?token="+callbackToken, "application/json", string(env.Payload))
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	posted := r.await(2)[1]
	p := r.normalize(posted)
	assert.Equal(t, d.DedupKey, p.DedupKey)
	assert.Equal(t, d.Title, p.Title)
	assert.Equal(t, d.Description, p.Description)
	assert.Equal(t, d.Turns, p.Turns)
	assert.Equal(t, d.Customer, p.Customer)
	assert.Equal(t, map[string]int{"done": 1}, r.states(), "the order is remembered, done")
	r.noSecrets()
}

// iFlytek may post the notice as a form and call back more than once: the order is fetched and
// published once.
func TestARepeatedNoticeIsOneOrder(t *testing.T) {
	f := newFakes(t)
	f.iflytek.setScript(processingThenDone(t, 0))
	r := buildRig(t, f.item(""), t.TempDir(), nil).start()
	w := r.post("/ingest/hotline?token="+callbackToken, "application/x-www-form-urlencoded", "orderId="+order+"&status=1")
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	assert.Contains(t, w.Body.String(), order)
	r.await(1)
	r.settled()
	r.notice(order, "")
	r.notice(order, "")
	r.settled()
	assert.Equal(t, 1, r.rec.count())
	assert.Equal(t, 1, f.iflytek.callsFor(order))
}

// A notice that names no order, or a failed order, is handled as it says: refused, or fetched
// for its reason (a dead letter with iFlytek's failType).
func TestIflytekNoticesThatAreNotResults(t *testing.T) {
	f := newFakes(t)
	f.iflytek.setScript(func(id string, _ int) answer {
		return answer{200, iflytekBody(t, "iflytek/get-result-failed.json", id)}
	})
	r := buildRig(t, f.item(""), t.TempDir(), nil).start()
	w := r.get("/ingest/hotline?token=" + callbackToken + "&orderId=&status=1")
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code, "%s", w.Body)
	w = r.get("/ingest/hotline?orderId=" + order + "&status=1")
	assert.Equal(t, http.StatusUnauthorized, w.Code, "a notice needs the callback URL's token")
	w = r.get("/ingest/hotline?token=" + callbackToken + "&orderId=" + order + "&status=1&resultType=translate")
	assert.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	assert.Contains(t, w.Body.String(), "ignored")
	assert.Zero(t, f.iflytek.callsFor(order), "a translation holds no transcript")

	w = r.get("/ingest/hotline?token=" + callbackToken + "&orderId=" + order + "&status=-1")
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	env := r.await(1)[0]
	_, err := r.conn.Normalizer().Normalize(env)
	require.ErrorIs(t, err, hotline.ErrVendorFailed)
	assert.Contains(t, err.Error(), "静音文件")
}

// When iFlytek never finishes, keeps refusing, or has forgotten the order, the connector gives
// up: a dead letter that names the order and why, visible in the last error, never a ticket.
func TestIflytekGivesUp(t *testing.T) {
	for _, c := range []struct {
		name      string
		maxCalls  int
		retention string
		script    func(*testing.T) func(string, int) answer
		calls     int
		want      []string
	}{
		{"the 100 calls an order are spent (3 here)", 3, "", func(t *testing.T) func(string, int) answer { return processingThenDone(t, 1000) },
			3, []string{order, "no result after 3 getResult calls", "processing"}},
		{"the order is past iFlytek's retention", 0, "50ms", func(t *testing.T) func(string, int) answer { return processingThenDone(t, 1000) },
			-1, []string{order, "no result within 50ms", "as long as iFlytek keeps results"}},
		{"iFlytek refuses the app", 0, "", func(*testing.T) func(string, int) answer {
			return func(string, int) answer { return answer{200, `{"code":"26601","descInfo":"非法应用信息"}`} }
		}, 1, []string{order, "非法应用信息 (code 26601)", "check iflytek.app_id"}},
		{"getResult answers what is no result", 0, "", func(*testing.T) func(string, int) answer {
			return func(string, int) answer { return answer{200, `{"hello": "world"}`} }
		}, 1, []string{order, "the getResult answer is no result"}},
		{"getResult is not found", 0, "", func(*testing.T) func(string, int) answer {
			return func(string, int) answer { return answer{404, `no such page`} }
		}, 1, []string{order, "HTTP 404"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakes(t)
			f.iflytek.setScript(c.script(t))
			r := buildRig(t, f.item(""), t.TempDir(), nil)
			limits(t, r, c.maxCalls, c.retention)
			r.start()
			r.notice(order, "")
			env := r.await(1)[0]
			r.settled()
			assert.Equal(t, hotline.EnvelopeTypeGaveUp, env.Type)
			_, err := r.conn.Normalizer().Normalize(env)
			require.ErrorIs(t, err, hotline.ErrGaveUp)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
				assert.Contains(t, r.stats.Snapshot("hotline", "hotline").LastError, w, "the last error says it too")
			}
			if c.calls >= 0 {
				assert.Equal(t, c.calls, f.iflytek.callsFor(order))
			}
			assert.Empty(t, r.states(), "a task given up is forgotten: it may be handed over again")
			assert.EqualValues(t, 1, r.conn.(interface{ Details() any }).Details().(hotline.Refusals).Tasks.GaveUp)
			r.noSecrets()
		})
	}
}

// Transient failures (iFlytek's own fault, its rate limit, a 502 from a proxy) are asked
// again after a back-off; the order is published once.
func TestIflytekTransientFailuresAreAskedAgain(t *testing.T) {
	f := newFakes(t)
	f.iflytek.setScript(func(id string, n int) answer {
		switch n {
		case 1:
			return answer{502, `<html>bad gateway</html>`}
		case 2:
			return answer{200, `{"code":"26603","descInfo":"接口访问频率受限"}`}
		case 3:
			return answer{200, `{"code":"26600","descInfo":"转写业务通用错误"}`}
		}
		return answer{200, iflytekBody(t, "iflytek/get-result-two-roles.json", id)}
	})
	r := buildRig(t, f.item(""), t.TempDir(), nil).start()
	r.notice(order, "")
	env := r.await(1)[0]
	r.settled()
	assert.Equal(t, hotline.EnvelopeType, env.Type)
	assert.Equal(t, 4, f.iflytek.callsFor(order))
	assert.Equal(t, 1, r.rec.count())
}

// Killed while the order was processing, the connector resumes it from its state directory
// after a restart and publishes it once.
func TestAnOrderSurvivesARestart(t *testing.T) {
	f := newFakes(t)
	f.iflytek.setScript(processingThenDone(t, 1000))
	dir := t.TempDir()
	r := buildRig(t, f.item(""), dir, nil).start()
	r.notice(order, "")
	require.Eventually(t, func() bool { return f.iflytek.callsFor(order) >= 2 }, deadline, tick)
	r.stop()
	assert.Zero(t, r.rec.count())
	assert.Equal(t, map[string]int{"pending": 1}, r.states())

	f.iflytek.setScript(processingThenDone(t, 0))
	r2 := buildRig(t, f.item(""), dir, nil).start()
	env := r2.await(1)[0]
	r2.settled()
	assert.Equal(t, 1, r2.rec.count(), "one envelope for the order")
	assert.Equal(t, "iflytek/"+order, r2.normalize(env).DedupKey)
	assert.Equal(t, map[string]int{"done": 1}, r2.states())
}

// A result fetched while the bus is down is kept, not fetched again: after a restart it is
// published from the state directory, with no further getResult.
func TestAFetchedResultWaitsForTheBus(t *testing.T) {
	f := newFakes(t)
	f.iflytek.setScript(processingThenDone(t, 0))
	dir := t.TempDir()
	down := buildRig(t, f.item(""), dir, func(context.Context, draft.Envelope) error { return errors.New("bus down") }).start()
	down.notice(order, "")
	require.Eventually(t, func() bool { return down.states()["fetched"] == 1 }, deadline, tick)
	down.stop()

	r := buildRig(t, f.item(""), dir, nil).start()
	r.await(1)
	r.settled()
	assert.Equal(t, 1, f.iflytek.callsFor(order), "fetched once")
	assert.Equal(t, 1, r.rec.count())
}

// The bus took the result but its answer was lost (a crash between the two): the result is
// published again as the same envelope, with the same id and dedup key, so the bus and the core
// make one ticket of it.
func TestALostAckPublishesTheSameEnvelopeAgain(t *testing.T) {
	f := newFakes(t)
	f.iflytek.setScript(processingThenDone(t, 0))
	rec := &recorder{}
	first := true
	r := buildRig(t, f.item(""), t.TempDir(), func(ctx context.Context, env draft.Envelope) error {
		rec.publish(ctx, env)
		if first {
			first = false
			return errors.New("the ack was lost")
		}
		return nil
	}).start()
	r.notice(order, "")
	require.Eventually(t, func() bool { return rec.count() == 2 }, deadline, tick)
	r.settled()
	assert.Equal(t, rec.envs[0].ID, rec.envs[1].ID)
	assert.Equal(t, rec.envs[0].ReceivedAt, rec.envs[1].ReceivedAt)
	assert.Equal(t, r.normalize(rec.envs[0]).DedupKey, r.normalize(rec.envs[1]).DedupKey)
	assert.Equal(t, 1, f.iflytek.callsFor(order))
}

// With a cdr section the fetched result goes through the same join as a posted transcript: the
// callback URL's call_id (given to iFlytek with the upload) joins it to its call record.
func TestAFetchedResultIsJoinedToItsRecord(t *testing.T) {
	f := newFakes(t)
	f.iflytek.setScript(processingThenDone(t, 0))
	r := buildRig(t, f.item("cdr:\n  mapping:\n    call_id: payload.session_id\n    caller: payload.caller\ncdr_wait: 1h\n"), t.TempDir(), nil).start()
	r.notice(order, "&call_id=S-42")
	r.settled()
	assert.Zero(t, r.rec.count(), "the transcript waits for its record")
	w := r.post("/ingest/hotline/cdr?token="+callbackToken, "application/json", `{"session_id":"S-42","caller":"13912345678"}`)
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	env := r.await(1)[0]
	assert.Contains(t, env.Headers["cdr"], "13912345678")
	d := r.normalize(env)
	assert.Equal(t, "iflytek/"+order, d.DedupKey)
	assert.Contains(t, d.Evidence, draft.Evidence{Field: "source.external_id", Text: "call record S-42 (agent )", From: "cdr"})
}
