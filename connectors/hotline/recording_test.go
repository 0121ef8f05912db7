package hotline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/attachments"
	"gongdan/config"
	"gongdan/connectors"
	"gongdan/draft"
	"gongdan/internal/testkit"
)

// recordingRig is a hotline keeping recordings, with a PBX that serves them.
type recordingRig struct {
	t    *testing.T
	conn connectors.Connector
	rec  *recorder

	store  *attachments.Store
	pbx    *httptest.Server
	served atomic.Int64
	stop   func()
}

// newRecordingRig builds the hotline with a recordings section (extra keys in it) on the
// state and attachment directories given; the PBX answers what serve says.
func newRecordingRig(t *testing.T, stateDir, storeDir, extra string, serve http.HandlerFunc, run bool) *recordingRig {
	t.Setenv("HOTLINE_TEST_TOKEN", callbackToken)
	r := &recordingRig{t: t, rec: &recorder{}, store: attachments.New(storeDir)}
	r.pbx = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.served.Add(1); serve(w, req) }))
	t.Cleanup(r.pbx.Close)
	item := "name: hotline\ntype: hotline\ncallback_token: ${HOTLINE_TEST_TOKEN}\nrecordings:\n  hosts: [127.0.0.1]\n  give_up_after: 2s\n" + extra
	if strings.HasPrefix(extra, "cdr:") {
		item = "name: hotline\ntype: hotline\ncallback_token: ${HOTLINE_TEST_TOKEN}\nrecordings:\n  hosts: [127.0.0.1]\n" + extra
	}
	cfg, err := config.ParseWith("hotline.yaml", []byte(testkit.ConnectorFile(item)), connectors.Global.Validate)
	require.NoError(t, err)
	var n atomic.Int64
	conn, _, err := connectors.Global.Build(cfg.File, cfg.Connectors[0], connectors.Env{
		Publish: r.rec.publish, Stats: &connectors.Stats{}, Location: shanghai, StateDir: stateDir, Attachments: r.store,
		Logger: slog.New(slog.DiscardHandler), Now: time.Now,
		NewID: func() string { return fmt.Sprintf("env-%s-%d", t.Name(), n.Add(1)) },
	})
	require.NoError(t, err)
	r.conn, r.stop = conn, func() {}
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { conn.Run(ctx); close(done) }()
		r.stop = func() { cancel(); <-done }
		t.Cleanup(r.stop)
	}
	return r
}

// call posts a generic call whose recording is at path on the PBX (or at url when it has a
// scheme).
func (r *recordingRig) call(path string) {
	r.t.Helper()
	link := path
	if !strings.Contains(path, "://") {
		link = r.pbx.URL + path
	}
	body := fmt.Sprintf(`{"call_id":"CC-%s","recording_url":%q,"turns":[
	 {"speaker":"agent","start_ms":0,"end_ms":3000,"text":"您好，工号3021为您服务"},
	 {"speaker":"customer","start_ms":3200,"end_ms":8000,"text":"你好，我家冰箱不制冷了，电话13912345678"}]}`, strings.Trim(path, "/"), link)
	w := send(r.conn, "/ingest/hotline?token="+callbackToken, "application/json", nil, []byte(body))
	require.Equal(r.t, http.StatusOK, w.Code, "%s", w.Body)
}

// published waits for the one envelope and returns its draft.
func (r *recordingRig) published() draft.Draft {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return r.rec.count() == 1 }, 30*time.Second, 10*time.Millisecond)
	ds, err := r.conn.Normalizer().Normalize(r.rec.envs[0])
	require.NoError(r.t, err)
	return ds[0]
}

func wav(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "RIFF....WAVEfmt a recording") }

func whyNot(d draft.Draft) string {
	for _, e := range d.Evidence {
		if e.Field == "attachments" {
			return e.Text
		}
	}
	return ""
}

// The vendor is answered at once; the recording is then kept in the store and the ticket's
// attachments name it, before the vendor's link.
func TestARecordingIsKeptWithItsCall(t *testing.T) {
	r := newRecordingRig(t, t.TempDir(), t.TempDir(), "", wav, true)
	r.call("/r/1.wav")
	d := r.published()
	require.Len(t, d.Attachments, 2)
	kept := d.Attachments[0]
	assert.Equal(t, "recording", kept.Kind)
	assert.Equal(t, attachments.URI(kept.SHA256), kept.URI)
	f, err := r.store.Open(kept.SHA256)
	require.NoError(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, "RIFF....WAVEfmt a recording", string(b))
	assert.Equal(t, r.pbx.URL+"/r/1.wav", d.Attachments[1].URI, "the vendor's link too")
	assert.Equal(t, "13912345678", d.Customer.Phone)
}

// A link to a host not listed is never fetched; the call becomes a ticket at once, saying so.
func TestARecordingOfAnotherHostIsNotFetched(t *testing.T) {
	r := newRecordingRig(t, t.TempDir(), t.TempDir(), "", wav, true)
	r.call("http://169.254.169.254/latest/meta-data")
	d := r.published()
	assert.Contains(t, whyNot(d), "not in recordings.hosts")
	assert.Zero(t, r.served.Load())
	assert.Len(t, d.Attachments, 1)
}

// A recording that cannot be had — gone, too large, its server failing past give_up_after —
// leaves the ticket with the link and the reason; nothing is lost.
func TestARecordingThatCannotBeHad(t *testing.T) {
	for _, c := range []struct {
		name, extra string
		serve       http.HandlerFunc
		why         string
	}{
		{"gone", "", func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) }, "answered 404"},
		{"too large", "  max_bytes: 10\n", wav, "over recordings.max_bytes"},
		{"failing", "", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }, "answered 502"},
		{"redirected", "", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://169.254.169.254/", http.StatusFound)
		}, "redirected elsewhere"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRecordingRig(t, t.TempDir(), t.TempDir(), c.extra, c.serve, true)
			r.call("/r/2.wav")
			d := r.published()
			assert.Contains(t, whyNot(d), c.why)
			assert.Len(t, d.Attachments, 1, "the vendor's link only")
		})
	}
}

// A call waiting for its recording when gongdan stops is fetched and published after it
// starts again.
func TestAWaitingRecordingSurvivesARestart(t *testing.T) {
	state, store := t.TempDir(), t.TempDir()
	r := newRecordingRig(t, state, store, "", wav, false) // not running: nothing is fetched
	r.call("/r/3.wav")
	assert.Zero(t, r.rec.count())
	r2 := newRecordingRig(t, state, store, "", wav, true)
	// The new PBX has another port: the waiting call's link names the first, still serving.
	d := r2.published()
	assert.NotEmpty(t, d.Attachments[0].SHA256)
	assert.Equal(t, int64(1), r.served.Load())
}

// With call records, the record's link is the recording when the transcript has none: kept
// once the transcript is joined to its record.
func TestTheRecordsRecordingIsKept(t *testing.T) {
	const cdr = "cdr:\n  mapping:\n    call_id: payload.session_id\n    caller: payload.caller\n    recording_url: payload.record_url\n"
	r := newRecordingRig(t, t.TempDir(), t.TempDir(), cdr, wav, true)
	w := send(r.conn, "/ingest/hotline?token="+callbackToken+"&call_id=S-5", "application/json", nil, []byte(quietCall))
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	w = send(r.conn, "/ingest/hotline/cdr?token="+callbackToken, "application/json", nil,
		[]byte(fmt.Sprintf(`{"session_id":"S-5","caller":"13912345678","record_url":%q}`, r.pbx.URL+"/r/5.wav")))
	require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
	d := r.published()
	require.NotEmpty(t, d.Attachments)
	assert.Equal(t, attachments.URI(d.Attachments[0].SHA256), d.Attachments[0].URI)
	assert.Equal(t, "13912345678", d.Customer.Phone)
}
