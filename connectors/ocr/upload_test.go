package ocr

// Attacks on the upload (issue 17): without credentials, with a wrong token, too large, half
// good, too often, and so large that holding it in memory would be the attack. Each fails on the
// upload as it was before it had tokens, budgets and a spool: it took anyone's upload, kept the
// good files of a refused one, and held every file of an upload in memory at once.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/attachments"
	"gongdan/config"
	"gongdan/connectors"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/problem"
)

const (
	uploadToken  = "phones-token-0123456789"
	uploadSecret = "uploads-secret-0123456789"
)

// uploadNow is the server's clock in these tests.
var uploadNow = time.Date(2026, 1, 7, 10, 30, 0, 0, time.UTC)

// uploadRig is one ocr connector built from config as the server builds it, with an attachment
// store of its own and a publish that records what reaches the bus.
type uploadRig struct {
	conn  *Connector
	stats *connectors.Stats
	store string // the attachment store's directory
	clock *testkit.Clock

	mu        sync.Mutex
	published []draft.Envelope
	// onPublish, when set, sees each envelope instead of it being kept.
	onPublish func(draft.Envelope)
}

func newUploadRig(t *testing.T, item string) *uploadRig {
	t.Helper()
	cfg, err := config.ParseWith("gongdan.yaml", []byte(testkit.ConnectorFile("name: groups\ntype: ocr\n"+item)), connectors.Global.Validate)
	require.NoError(t, err)
	rig := &uploadRig{stats: &connectors.Stats{}, store: filepath.Join(t.TempDir(), "attachments"), clock: testkit.NewClock(uploadNow)}
	conn, _, err := connectors.Global.Build(cfg.File, cfg.Connectors[0], connectors.Env{
		Publish:     rig.publish,
		Stats:       rig.stats,
		Logger:      slog.New(slog.DiscardHandler),
		Now:         rig.clock.Now,
		Location:    time.UTC,
		Attachments: attachments.New(rig.store),
	})
	require.NoError(t, err)
	rig.conn = conn.(*Connector)
	return rig
}

func (rig *uploadRig) publish(_ context.Context, env draft.Envelope) error {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	if rig.onPublish != nil {
		rig.onPublish(env)
		return nil
	}
	rig.published = append(rig.published, env)
	return nil
}

// kept lists the files in the attachment store.
func (rig *uploadRig) kept(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(rig.store, func(path string, d os.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return filepath.SkipAll
		}
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	require.NoError(t, err)
	return files
}

func (rig *uploadRig) serve(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	rig.conn.ServeHTTP(w, req)
	return w
}

// pngOf is a PNG of w×h pixels padded to size bytes (the edge reads only its header; what
// follows the end chunk is ignored by decoders): any size of screenshot, cheaply.
func pngOf(t testing.TB, w, h, size int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.Gray{Y: 1})
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	if size > b.Len() {
		b.Write(make([]byte, size-b.Len()))
	}
	return b.Bytes()
}

// multipartBody is an upload of files (name → content) and form fields.
func multipartBody(t testing.TB, files [][2]string, fields map[string]string) (body []byte, contentType string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	for _, f := range files {
		fw, err := mw.CreateFormFile("file", f[0])
		require.NoError(t, err)
		_, err = fw.Write([]byte(f[1]))
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return b.Bytes(), mw.FormDataContentType()
}

func uploadRequest(body []byte, contentType string, headers ...string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/ingest/groups", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

func problemIn(t *testing.T, w *httptest.ResponseRecorder) problem.Problem {
	t.Helper()
	var p problem.Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), "body: %s", w.Body)
	for _, s := range []string{uploadToken, uploadSecret} {
		assert.NotContains(t, w.Body.String(), s)
	}
	return p
}

const withToken = "tokens: [{name: phones, token: " + uploadToken + "}]\n"

// The probe uploaded with no credentials at all. With tokens configured, an upload without one
// or with a wrong one is answered 401 and nothing of it is kept; the right one is taken, and
// its envelopes name who uploaded them.
func TestAnUploadWithoutTheTokenIsRefused(t *testing.T) {
	rig := newUploadRig(t, withToken)
	shot := string(pngOf(t, 64, 64, 0))
	body, ct := multipartBody(t, [][2]string{{"a.png", shot}}, nil)
	for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Bearer " + uploadToken[:10], uploadToken} {
		req := uploadRequest(body, ct)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := rig.serve(req)
		require.Equal(t, http.StatusUnauthorized, w.Code, "Authorization %q: %s", auth, w.Body)
		assert.Equal(t, "/problems/unauthorized", problemIn(t, w).Type)
		assert.Contains(t, w.Header().Get("WWW-Authenticate"), "Bearer")
	}
	assert.Empty(t, rig.published)
	assert.Empty(t, rig.kept(t))
	assert.Equal(t, int64(4), rig.stats.Rejected.Load())

	w := rig.serve(uploadRequest(body, ct, "Authorization", "Bearer "+uploadToken))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	require.Len(t, rig.published, 1)
	assert.Equal(t, "phones", rig.published[0].Headers[headerUploadedBy])
	assert.Len(t, rig.kept(t), 1)
	st := rig.conn.Details().(Status)
	assert.Equal(t, int64(1), st.RefusedByReason["missing"])
	assert.Equal(t, int64(3), st.RefusedByReason["bad_token"])
}

// Too large: a file over max_bytes in an upload whose first file is good, a single image over
// it, a request whose declared length is over what an upload may be. 413, and nothing kept in
// the attachment store (the probe found the good files of a refused upload there).
func TestAnOversizedUploadKeepsNothing(t *testing.T) {
	rig := newUploadRig(t, withToken+"max_bytes: 65536\n")
	good := string(pngOf(t, 64, 64, 0))
	big := string(pngOf(t, 64, 64, 65537))
	auth := []string{"Authorization", "Bearer " + uploadToken}

	body, ct := multipartBody(t, [][2]string{{"good.png", good}, {"big.png", big}}, nil)
	w := rig.serve(uploadRequest(body, ct, auth...))
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
	assert.Contains(t, problemIn(t, w).Detail, "big.png: the file is over the limit of 65536 bytes (max_bytes)")

	w = rig.serve(uploadRequest([]byte(big), "image/png", auth...))
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())

	req := uploadRequest([]byte(good), "image/png", auth...)
	req.ContentLength = 20*65536 + 1<<20 + 1
	w = rig.serve(req)
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())

	var files [][2]string
	for i := range maxImages + 1 {
		files = append(files, [2]string{fmt.Sprintf("%d.png", i), good})
	}
	body, ct = multipartBody(t, files, nil)
	w = rig.serve(uploadRequest(body, ct, auth...))
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
	assert.Contains(t, problemIn(t, w).Detail, "more than 20 screenshots")

	assert.Empty(t, rig.published)
	assert.Empty(t, rig.kept(t), "nothing of a refused upload is kept")
}

// One good file and one that is no image: the upload is refused (415) and neither is kept in
// the attachment store; the bad one goes to the dead letters with the reason, as before.
func TestAHalfGoodUploadKeepsNeither(t *testing.T) {
	rig := newUploadRig(t, withToken)
	body, ct := multipartBody(t, [][2]string{{"good.png", string(pngOf(t, 64, 64, 0))}, {"notes.png", "these are not pixels"}}, nil)
	w := rig.serve(uploadRequest(body, ct, "Authorization", "Bearer "+uploadToken))
	require.Equal(t, http.StatusUnsupportedMediaType, w.Code, w.Body.String())
	assert.Contains(t, problemIn(t, w).Detail, "notes.png: not a PNG or JPEG image")
	assert.Empty(t, rig.kept(t), "neither file is kept")
	require.Len(t, rig.published, 1, "only the refused file, for the dead letters")
	assert.Equal(t, "true", rig.published[0].Headers[headerRefused])
	assert.Equal(t, "notes.png", rig.published[0].Headers[headerFile])

	// Empty files and uploads without files are refused too, keeping nothing.
	body, ct = multipartBody(t, [][2]string{{"good.png", string(pngOf(t, 64, 64, 0))}, {"empty.png", ""}}, nil)
	w = rig.serve(uploadRequest(body, ct, "Authorization", "Bearer "+uploadToken))
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Empty(t, rig.kept(t))
}

// A source over its uploads a minute is answered 429 with Retry-After, and taken again once
// its budget has filled up; another token is not held up by it.
func TestUploadRateBudget(t *testing.T) {
	rig := newUploadRig(t, "tokens:\n  - {name: phones, token: "+uploadToken+"}\n  - {name: scanner, token: scanner-token-0123456789}\n"+
		"budget: {requests_per_minute: 2}\n")
	body, ct := multipartBody(t, [][2]string{{"a.png", string(pngOf(t, 64, 64, 0))}}, nil)
	send := func(token string) *httptest.ResponseRecorder {
		return rig.serve(uploadRequest(body, ct, "Authorization", "Bearer "+token))
	}
	require.Equal(t, http.StatusAccepted, send(uploadToken).Code)
	require.Equal(t, http.StatusAccepted, send(uploadToken).Code)
	w := send(uploadToken)
	require.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
	assert.Equal(t, "30", w.Header().Get("Retry-After"))
	p := problemIn(t, w)
	assert.Equal(t, "/problems/too-many-requests", p.Type)
	assert.Contains(t, p.Detail, "token phones is over its budget")
	require.Equal(t, http.StatusAccepted, send("scanner-token-0123456789").Code, "a budget per source")
	rig.clock.Advance(30 * time.Second)
	require.Equal(t, http.StatusAccepted, send(uploadToken).Code)
	assert.Len(t, rig.published, 4)
	assert.Equal(t, int64(1), rig.conn.Details().(Status).RefusedByReason["over_rate"])

	// Bytes: a minute's budget of 1 MiB takes one upload of 700 KiB, not two.
	rig = newUploadRig(t, withToken+"max_bytes: 1048576\nbudget: {bytes_per_minute: 1048576}\n")
	body, ct = multipartBody(t, [][2]string{{"a.png", string(pngOf(t, 64, 64, 700<<10))}}, nil)
	require.Equal(t, http.StatusAccepted, send(uploadToken).Code)
	w = send(uploadToken)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Len(t, rig.kept(t), 1)
}

// Uploads at once are bounded: while one is being received, the next is answered 503.
func TestConcurrentUploadsAreBounded(t *testing.T) {
	rig := newUploadRig(t, withToken+"budget: {concurrent: 1}\n")
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	first := httptest.NewRequest(http.MethodPost, "/ingest/groups", pr)
	first.Header.Set("Content-Type", mw.FormDataContentType())
	first.Header.Set("Authorization", "Bearer "+uploadToken)
	done := make(chan int)
	go func() { done <- rig.serve(first).Code }()
	// The pipe's first write returns once the handler reads the body: it holds its place.
	fw, err := mw.CreateFormFile("file", "slow.png")
	require.NoError(t, err)
	_, err = fw.Write(pngOf(t, 64, 64, 0))
	require.NoError(t, err)

	body, ct := multipartBody(t, [][2]string{{"a.png", string(pngOf(t, 64, 64, 0))}}, nil)
	w := rig.serve(uploadRequest(body, ct, "Authorization", "Bearer "+uploadToken))
	require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	assert.Equal(t, "1", w.Header().Get("Retry-After"))

	require.NoError(t, mw.Close())
	require.NoError(t, pw.Close())
	assert.Equal(t, http.StatusAccepted, <-done)
	require.Equal(t, http.StatusAccepted, rig.serve(uploadRequest(body, ct, "Authorization", "Bearer "+uploadToken)).Code, "its place is free again")
}

// The probe's four uploads at once took 2.47 GB of memory: every file of an upload was held in
// memory until the last was read. Now files are spooled to disk as they arrive and read back
// one at a time to be published: an upload of 20 files of 4 MiB, streamed, never has more than a
// few of them in memory. The live heap is measured (after a collection) at each publish, when
// the upload is wholly received.
func TestALargeUploadIsStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 80 MiB")
	}
	rig := newUploadRig(t, withToken+"budget: {bytes_per_minute: 1073741824}\n")
	const files, size = 20, 4 << 20
	shot := pngOf(t, 64, 64, size)
	var peak uint64
	var published int
	rig.onPublish = func(env draft.Envelope) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
		published++
		runtime.KeepAlive(env) // its screenshot counts: it is in memory while published
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for i := range files {
			fw, err := mw.CreateFormFile("file", fmt.Sprintf("%02d.png", i))
			if err == nil {
				_, err = fw.Write(shot)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	req := httptest.NewRequest(http.MethodPost, "/ingest/groups", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+uploadToken)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	w := rig.serve(req)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	require.Equal(t, files, published)
	runtime.KeepAlive(shot) // in the baseline: live until here
	growth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("live heap at publish: %d MiB over the %d MiB before, for an upload of %d MiB", growth>>20, before.HeapAlloc>>20, files*size>>20)
	assert.Less(t, growth, int64(files*size/4), "the upload was held in memory")
}

// A signed upload: the signature covers the body as sent, multipart and all, with a timestamp;
// the same upload again is refused (409), a changed one (401). A file refused for what it is
// goes to the dead letters only once the signature is checked: a forged upload leaves nothing.
func TestSignedUploads(t *testing.T) {
	rig := newUploadRig(t, "signature: {secret: "+uploadSecret+"}\n")
	body, ct := multipartBody(t, [][2]string{{"a.png", string(pngOf(t, 64, 64, 0))}}, map[string]string{"group": "售后群"})
	sign := func(body []byte) []string {
		ts := strconv.FormatInt(uploadNow.Unix(), 10)
		m := hmac.New(sha256.New, []byte(uploadSecret))
		m.Write([]byte(ts + ".." + string(body)))
		return []string{"X-Gongdan-Timestamp", ts, "X-Signature-256", hex.EncodeToString(m.Sum(nil))}
	}
	w := rig.serve(uploadRequest(body, ct, sign(body)...))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	w = rig.serve(uploadRequest(body, ct, sign(body)...))
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	assert.Equal(t, "/problems/replayed", problemIn(t, w).Type)

	changed := bytes.Replace(body, []byte("售后群"), []byte("财务群"), 1)
	w = rig.serve(uploadRequest(changed, ct, sign(body)...))
	require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())

	bad, ct := multipartBody(t, [][2]string{{"notes.png", "these are not pixels"}}, nil)
	w = rig.serve(uploadRequest(bad, ct, sign(body)...))
	require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
	require.Len(t, rig.published, 1, "the forged upload's file is not a dead letter")
	w = rig.serve(uploadRequest(bad, ct, sign(bad)...))
	require.Equal(t, http.StatusUnsupportedMediaType, w.Code, w.Body.String())
	require.Len(t, rig.published, 2, "a signed upload's refused file is")
	assert.Len(t, rig.kept(t), 1)
}

// An upload that authenticates nobody says so, at its tokens key; one with tokens or a
// signature, or with uploads off, opens no way in. With uploads off, the endpoint is not there.
func TestUploadOpenIntake(t *testing.T) {
	errs := newUploadRig(t, "").conn.OpenIntake()
	require.Len(t, errs, 1)
	var ce *config.Error
	require.ErrorAs(t, errs[0], &ce)
	assert.Equal(t, "connectors[0].tokens", ce.Path)
	assert.Contains(t, ce.Msg, "POST /ingest/groups takes screenshots from anyone")
	for _, item := range []string{withToken, "signature: {secret: " + uploadSecret + "}\n", "upload: false\n"} {
		assert.Empty(t, newUploadRig(t, item).conn.OpenIntake(), item)
	}
	rig := newUploadRig(t, "upload: false\n")
	body, ct := multipartBody(t, [][2]string{{"a.png", string(pngOf(t, 64, 64, 0))}}, nil)
	w := rig.serve(uploadRequest(body, ct))
	require.Equal(t, http.StatusNotFound, w.Code)
	assert.Contains(t, problemIn(t, w).Detail, "upload: false")
	assert.Empty(t, rig.published)
}

// Config mistakes are said at their line: a budget that could never take one screenshot.
func TestUploadConfigErrors(t *testing.T) {
	_, err := config.ParseWith("gongdan.yaml", []byte("connectors:\n  - name: groups\n    type: ocr\n    max_bytes: 4194304\n    budget:\n      bytes_per_minute: 2097152\n"), connectors.Global.Validate)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gongdan.yaml:6")
	assert.Contains(t, err.Error(), "connectors[0].budget.bytes_per_minute: 2097152 is less than max_bytes (4194304)")
}

// signUpload signs an upload's body as a sender does (mode timestamp, no idempotency key).
func signUpload(body []byte) []string {
	ts := strconv.FormatInt(uploadNow.Unix(), 10)
	m := hmac.New(sha256.New, []byte(uploadSecret))
	m.Write([]byte(ts + ".." + string(body)))
	return []string{"X-Gongdan-Timestamp", ts, "X-Signature-256", hex.EncodeToString(m.Sum(nil))}
}

// stall starts an upload from remote whose body never ends, as an attacker's without the
// secret: its signature is checked only once the body is in. It returns once the upload holds
// its place (the handler is reading its body), and a func that ends the body and waits for
// the answer.
func (rig *uploadRig) stall(t *testing.T, remote string) (finish func() int) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req := httptest.NewRequest(http.MethodPost, "/ingest/groups", pr)
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-Gongdan-Timestamp", strconv.FormatInt(uploadNow.Unix(), 10))
	req.Header.Set("X-Signature-256", strings.Repeat("00", 32))
	done := make(chan int, 1)
	go func() { done <- rig.serve(req).Code }()
	fw, err := mw.CreateFormFile("file", "slow.png")
	require.NoError(t, err)
	_, err = fw.Write(pngOf(t, 64, 64, 0)) // returns once the handler reads: past the budget
	require.NoError(t, err)
	return func() int {
		mw.Close()
		pw.Close()
		return <-done
	}
}

// In signature mode an upload's place is taken before its body, whose signature is checked
// only at its end: one sender holding bodies open held every place (budget.concurrent), and
// nobody else could upload. Now one source holds at most concurrent_per_source (2): its next
// upload is answered 429 with Retry-After while another source still gets a place.
func TestOneSourceCannotHoldEveryUploadPlace(t *testing.T) {
	rig := newUploadRig(t, "signature: {secret: "+uploadSecret+"}\n") // concurrent 4, 2 per source
	const attacker = "203.0.113.9:40001"
	first, second := rig.stall(t, attacker), rig.stall(t, attacker)

	body, ct := multipartBody(t, [][2]string{{"a.png", string(pngOf(t, 64, 64, 0))}}, map[string]string{"group": "售后群"})
	req := uploadRequest(body, ct, signUpload(body)...)
	req.RemoteAddr = "203.0.113.9:40002"
	w := rig.serve(req)
	require.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	assert.Contains(t, problemIn(t, w).Detail, "address 203.0.113.9 has 2 requests being taken already (budget.concurrent_per_source)")

	other, otherCT := multipartBody(t, [][2]string{{"b.png", string(pngOf(t, 64, 64, 0))}}, map[string]string{"group": "维修群"})
	req = uploadRequest(other, otherCT, signUpload(other)...)
	req.RemoteAddr = "198.51.100.4:50000"
	w = rig.serve(req)
	require.Equal(t, http.StatusAccepted, w.Code, "another source gets a place: %s", w.Body)

	assert.Equal(t, http.StatusUnauthorized, first(), "the bodies without a valid signature, once ended, are refused")
	assert.Equal(t, http.StatusUnauthorized, second())
	req = uploadRequest(body, ct, signUpload(body)...)
	req.RemoteAddr = "203.0.113.9:40003"
	w = rig.serve(req)
	require.Equal(t, http.StatusAccepted, w.Code, "its places are free again: %s", w.Body)
	assert.Equal(t, int64(1), rig.conn.Details().(Status).RefusedByReason["busy_source"])
}

// A body sent a byte at a time held its place for as long as the server's read timeout (60 s)
// allowed, and 4 such uploads held them all. Now a body has budget.read_timeout to arrive: a
// stalled one is cut off (408) and its place is free for the next upload.
func TestASlowUploadBodyFreesItsPlace(t *testing.T) {
	rig := newUploadRig(t, "signature: {secret: "+uploadSecret+"}\nbudget: {concurrent: 1, read_timeout: 1s}\n")
	srv := httptest.NewServer(rig.conn)
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	shot := pngOf(t, 64, 64, 0)
	_, err = fmt.Fprintf(conn, "POST /ingest/groups HTTP/1.1\r\nHost: gongdan\r\nContent-Type: image/png\r\nContent-Length: %d\r\n"+
		"X-Gongdan-Timestamp: %d\r\nX-Signature-256: %s\r\n\r\n%s", len(shot)+1, uploadNow.Unix(), strings.Repeat("00", 32), shot)
	require.NoError(t, err) // and the last byte never comes
	// Not a timing assertion: a bound on the wait, so that a server that never cuts the body
	// off fails the test instead of hanging it.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Minute)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the stalled upload is answered")
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)

	body, ct := multipartBody(t, [][2]string{{"a.png", string(shot)}}, nil)
	req := uploadRequest(body, ct, signUpload(body)...)
	req.RequestURI, req.URL = "", mustParseURL(t, srv.URL+"/ingest/groups")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode, "the place is free again")
	assert.Equal(t, int64(1), rig.conn.Details().(Status).RefusedByReason["read_timeout"])
	assert.Len(t, rig.kept(t), 1, "only the good upload's file is kept")
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// TestASteadyUploadOutlastsItsReadTimeout: read_timeout is an allowance, not a cap: a body that
// keeps arriving at a real uplink's speed (here ~200 KiB/s, in pieces, for longer than the
// 1 s allowance) is taken whole; only one held back is cut off (the test above).
func TestASteadyUploadOutlastsItsReadTimeout(t *testing.T) {
	rig := newUploadRig(t, "signature: {secret: "+uploadSecret+"}\nbudget: {concurrent: 1, read_timeout: 1s}\n")
	srv := httptest.NewServer(rig.conn)
	t.Cleanup(srv.Close)

	body, ct := multipartBody(t, [][2]string{{"a.png", string(pngOf(t, 64, 64, 400<<10))}}, nil)
	sig := signUpload(body)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /ingest/groups HTTP/1.1\r\nHost: gongdan\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s: %s\r\n%s: %s\r\n\r\n",
		ct, len(body), sig[0], sig[1], sig[2], sig[3])
	require.NoError(t, err)
	const piece = 64 << 10
	for off := 0; off < len(body); off += piece {
		_, err := conn.Write(body[off:min(off+piece, len(body))])
		require.NoError(t, err)
		time.Sleep(300 * time.Millisecond) // the pace of the sender, not a bound on the answer
	}
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Minute)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode, "a body that keeps coming is not cut off")
	assert.Len(t, rig.kept(t), 1)
}
