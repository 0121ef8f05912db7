// Package ocr is the screenshot connector: chat screenshots (WeChat groups, which have no
// API) read by Tesseract, laid out into messages, and the customers' service requests made
// into drafts.
package ocr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"gongdan/attachments"
	"gongdan/connectors"
	"gongdan/normalize"
	"gongdan/problem"
)

// EnvelopeType is the type of a screenshot's envelope: its payload is the image, byte for byte.
const EnvelopeType = "ocr.screenshot"

// Headers of a screenshot's envelope.
const (
	headerGroup    = "group"
	headerFile     = "file"
	headerSHA256   = "sha256"
	headerWatchDir = "watch_dir"
	headerRefused  = "refused" // refused at the edge, published only to be a dead letter
)

// Connector takes screenshots by upload and from a folder.
type Connector struct {
	name     string
	env      connectors.Env
	watchDir string
	poll     time.Duration
	group    string
	rule     Rule
	limits   Limits
	langs    []string
	workers  int

	mu     sync.Mutex
	engine *Engine // made on first use
	// The folder's files as the last scan saw them (a file is taken once it is the same in
	// two scans), and the ones taken whose move failed (not taken again while unchanged).
	seen, taken map[string]fileState

	watched atomic.Int64 // files taken from watch_dir
	failed  atomic.Int64 // files moved to failed/
}

func newConnector(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
	c := &Connector{
		name: conf.Name(), env: env,
		watchDir: conf.String(fieldWatchDir), poll: conf.Duration(fieldPoll), group: conf.String(fieldGroup),
		rule: Rule{Keywords: conf.StringList(fieldKeywords), Every: conf.Bool(fieldEvery), Staff: conf.StringList(fieldStaff),
			Window: conf.Duration(fieldThreadWindow)},
		limits:  Limits{MaxBytes: int64(conf.Int(fieldMaxBytes)), MaxPixels: conf.Int(fieldMaxPixels)},
		langs:   conf.StringList(fieldLanguages),
		workers: conf.Int(fieldWorkers),
	}
	if conf.Bool(fieldUseDictionary) {
		c.rule.Dictionary = env.Enricher.Dictionary
	}
	return c, nil
}

// Validate checks that Tesseract has the configured languages' data.
func (c *Connector) Validate() error {
	return NewEngine(1, c.langs...).Languages()
}

// ocrEngine is the connector's Tesseract pool, made on first use.
func (c *Connector) ocrEngine() *Engine {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.engine == nil {
		c.engine = NewEngine(c.workers, c.langs...)
	}
	return c.engine
}

// Run watches the folder, when there is one, until ctx is done.
func (c *Connector) Run(ctx context.Context) error {
	if c.watchDir == "" {
		<-ctx.Done()
		return nil
	}
	for _, d := range []string{c.watchDir, filepath.Join(c.watchDir, "done"), filepath.Join(c.watchDir, "failed")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("ocr: watch_dir: %v", err)
		}
	}
	t := time.NewTicker(c.poll)
	defer t.Stop()
	for {
		if err := c.scan(ctx); err != nil && ctx.Err() == nil {
			c.env.Stats.Fail(c.env.Now(), err)
			c.env.Logger.Warn("ocr: watch_dir", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Close frees the Tesseract clients.
func (c *Connector) Close(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.engine != nil {
		c.engine.Close()
	}
	return nil
}

// settle is how long a file must be unchanged before it is taken: a copy in progress is not.
const settle = time.Second

// fileState is what a scan saw of a file.
type fileState struct {
	size int64
	mod  time.Time
}

// scan takes the screenshots in the folder: each published and moved to done/, or moved to
// failed/ with the reason beside it. A file is taken when two scans saw it the same and it
// has not changed for settle: a copy in progress, even one that pauses, is not. It is moved
// only after its envelope is durable, so a crash in between publishes it again at the next
// start; its messages' keys make no second ticket. A file that cannot be read or moved is
// logged and skipped, and the scan goes on with the others; only a bus that does not take
// an envelope stops it (the next scan tries again).
func (c *Connector) scan(ctx context.Context) error {
	entries, err := os.ReadDir(c.watchDir)
	if err != nil {
		return err
	}
	seen := map[string]fileState{}
	defer func() { c.seen = seen }()
	for _, e := range entries {
		if ctx.Err() != nil {
			return nil
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(c.watchDir, e.Name())
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		now := fileState{size: info.Size(), mod: info.ModTime()}
		seen[e.Name()] = now
		if prev, ok := c.seen[e.Name()]; !ok || prev != now || c.env.Now().Sub(now.mod) < settle {
			continue // new or still changing: the next scan looks again
		}
		if prev, ok := c.taken[e.Name()]; ok && prev == now {
			continue // published already; its move failed and was logged
		}
		if err := c.take(ctx, path, info.ModTime()); err != nil {
			if errors.Is(err, errNotPublished) {
				return err
			}
			c.env.Stats.Fail(c.env.Now(), err)
			c.env.Logger.Warn("ocr: watch_dir", "file", e.Name(), "err", err)
		}
		if _, err := os.Lstat(path); err == nil { // still there: taken, its move failed
			if c.taken == nil {
				c.taken = map[string]fileState{}
			}
			c.taken[e.Name()] = now
		}
	}
	return nil
}

// errNotPublished wraps a publish the bus did not confirm.
var errNotPublished = errors.New("not taken: the bus did not confirm it")

// take publishes one file of the folder and moves it, or moves it to failed/ with why.
func (c *Connector) take(ctx context.Context, path string, mod time.Time) error {
	name := filepath.Base(path)
	b, err := readLimited(path, c.limits.MaxBytes)
	var env normalize.Envelope
	if err == nil {
		env, err = c.envelope(b, name, "", mod, map[string]string{headerWatchDir: "true"})
	}
	var ie *ImageError
	if errors.As(err, &ie) {
		c.env.Stats.Received.Add(1)
		c.env.Stats.Rejected.Add(1)
		c.failed.Add(1)
		c.env.Stats.Fail(c.env.Now(), fmt.Errorf("%s: %v", name, err))
		c.env.Logger.Warn("ocr: screenshot refused", "file", name, "reason", err)
		if b != nil {
			if err := c.deadLetter(ctx, b, name, "", mod); err != nil {
				return fmt.Errorf("%s %w: %v", name, errNotPublished, err) // left in place: tried again
			}
		}
		return moveInto(path, filepath.Join(c.watchDir, "failed"), []byte(err.Error()+"\n"))
	} else if err != nil {
		return err // unreadable now; tried again at the next scan
	}
	if err := c.env.Publish(ctx, env); err != nil {
		return fmt.Errorf("%s %w: %v", name, errNotPublished, err) // left in place: tried again
	}
	c.env.Stats.Received.Add(1)
	c.watched.Add(1)
	return moveInto(path, filepath.Join(c.watchDir, "done"), nil)
}

// readLimited reads a file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &ImageError{fmt.Sprintf("the file is over the limit of %d bytes (max_bytes)", max)}
	}
	return b, nil
}

// moveInto moves path into dir under a name not taken there, with note (when given) written
// beside it as <name>.error.txt.
func moveInto(path, dir string, note []byte) error {
	base := filepath.Base(path)
	dst := filepath.Join(dir, base)
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
		ext := filepath.Ext(base)
		dst = filepath.Join(dir, fmt.Sprintf("%s-%d%s", strings.TrimSuffix(base, ext), i, ext))
	}
	if note != nil {
		if err := os.WriteFile(dst+".error.txt", note, 0o640); err != nil {
			return err
		}
	}
	return os.Rename(path, dst)
}

// envelope checks a screenshot at the edge, keeps it as an attachment, and makes its
// envelope (see ScreenshotEnvelope).
func (c *Connector) envelope(b []byte, file, group string, takenAt time.Time, headers map[string]string) (normalize.Envelope, error) {
	if takenAt.IsZero() {
		takenAt = c.env.Now()
	}
	env, err := ScreenshotEnvelope(c.name, b, file, group, takenAt.In(c.env.Location), c.limits)
	if err != nil {
		return normalize.Envelope{}, err
	}
	if c.env.Attachments != nil {
		if _, _, err := c.env.Attachments.Put(bytes.NewReader(b), c.limits.MaxBytes); err != nil {
			return normalize.Envelope{}, fmt.Errorf("ocr: keeping the screenshot: %w", err)
		}
	}
	for k, v := range headers {
		env.Headers[k] = v
	}
	return env, nil
}

// ScreenshotEnvelope is the envelope of a screenshot for the ocr connector named connector,
// taken at takenAt: checked at the edge (its header: PNG or JPEG, within lim; the pixels are
// decoded in the pipeline). Each sending is an envelope of its own (id): what makes a
// screenshot sent twice one ticket is its messages' keys, which do not depend on the picture.
// Other connectors hand their images to an ocr connector with it (wechat's screenshots_to);
// the picture must be in the attachment store already.
func ScreenshotEnvelope(connector string, b []byte, file, group string, takenAt time.Time, lim Limits) (normalize.Envelope, error) {
	if err := checkImage(b, lim); err != nil {
		return normalize.Envelope{}, err
	}
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	h := shotHeaders(file, group)
	h[headerSHA256] = sha
	ct := "image/png"
	if bytes.HasPrefix(b, []byte{0xFF, 0xD8}) {
		ct = "image/jpeg"
	}
	return normalize.Envelope{
		ID:            uuid.NewString(),
		Connector:     connector,
		ConnectorType: TypeOCR,
		Type:          EnvelopeType,
		ReceivedAt:    takenAt,
		DedupKey:      "shot-" + sha,
		ContentType:   ct,
		Headers:       h,
		Payload:       b,
	}, nil
}

// deadLetter publishes a file refused at the edge for not being a PNG or JPEG (within
// max_bytes: larger ones are not stored anywhere), without the edge's check: the pipeline
// cannot read it either, and keeps it in the dead letters with the reason, where an operator
// sees what was sent and by which file.
func (c *Connector) deadLetter(ctx context.Context, b []byte, file, group string, takenAt time.Time) error {
	if takenAt.IsZero() {
		takenAt = c.env.Now()
	}
	h := shotHeaders(file, group)
	h[headerRefused] = "true"
	return c.env.Publish(ctx, normalize.Envelope{
		ID: uuid.NewString(), Connector: c.name, ConnectorType: TypeOCR, Type: EnvelopeType,
		ReceivedAt: takenAt.In(c.env.Location), ContentType: "application/octet-stream", Headers: h, Payload: b,
	})
}

// shotHeaders are the headers a screenshot's envelope names its file and group by.
func shotHeaders(file, group string) map[string]string {
	h := map[string]string{}
	if file != "" {
		h[headerFile] = normalize.Clip(filepath.Base(file), 200)
	}
	if group = strings.TrimSpace(group); group != "" {
		h[headerGroup] = normalize.Clip(group, 100)
	}
	return h
}

// checkImage is the edge's check: the header says PNG or JPEG of a size within lim.
func checkImage(b []byte, lim Limits) error {
	if lim.MaxBytes > 0 && int64(len(b)) > lim.MaxBytes {
		return &ImageError{fmt.Sprintf("the file is %d bytes, over the limit of %d (max_bytes)", len(b), lim.MaxBytes)}
	}
	_, err := imageConfig(b, lim)
	return err
}

// accepted is the 202 answer: one entry per image.
type accepted struct {
	Connector string          `json:"connector"`
	Images    []acceptedImage `json:"images"`
}

type acceptedImage struct {
	File       string `json:"file,omitempty"`
	EnvelopeID string `json:"envelope_id"`
	SHA256     string `json:"sha256"`
}

// ServeHTTP takes an upload of screenshots: all of them are checked before any is taken, and
// the answer is 202 only once every one is durable.
func (c *Connector) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		problem.Write(rw, r, problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "upload screenshots with POST"))
		return
	}
	c.env.Stats.Received.Add(1)
	envs, p := c.upload(rw, r)
	if p != nil {
		c.env.Refuse(rw, r, "ocr upload", p)
		return
	}
	out := accepted{Connector: c.name}
	for _, env := range envs {
		if err := c.env.Publish(r.Context(), env); err != nil {
			c.env.NotStored(rw, r, "ocr upload", err, "the screenshots were not all stored; send them again (a screenshot sent twice makes no second ticket)")
			return
		}
		out.Images = append(out.Images, acceptedImage{File: env.Headers[headerFile], EnvelopeID: env.ID, SHA256: env.Headers[headerSHA256]})
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusAccepted)
	json.NewEncoder(rw).Encode(out)
}

// maxImages bounds the screenshots of one upload.
const maxImages = 20

// upload reads the request's screenshots into envelopes; a problem is the answer instead.
func (c *Connector) upload(rw http.ResponseWriter, r *http.Request) ([]normalize.Envelope, *problem.Problem) {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	max := c.limits.MaxBytes*maxImages + 1<<20
	body := http.MaxBytesReader(rw, r.Body, max)
	tooBig := func(err error) *problem.Problem {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return problem.New(http.StatusRequestEntityTooLarge, "payload-too-large", fmt.Sprintf("the request is over %d bytes", max))
		}
		return problem.New(http.StatusBadRequest, "bad-request", "reading the request: "+err.Error())
	}
	type file struct {
		name string
		data []byte
	}
	var files []file
	group, takenAt := "", time.Time{}
	switch mt {
	case "image/png", "image/jpeg":
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, tooBig(err)
		}
		files = append(files, file{data: b})
		group = r.URL.Query().Get(fieldGroup)
	case "multipart/form-data":
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, tooBig(err)
			}
			b, err := io.ReadAll(io.LimitReader(part, c.limits.MaxBytes+1))
			if err != nil {
				return nil, tooBig(err)
			}
			switch {
			case part.FileName() != "":
				if len(files) == maxImages {
					return nil, problem.New(http.StatusRequestEntityTooLarge, "payload-too-large", fmt.Sprintf("more than %d screenshots in one upload", maxImages))
				}
				files = append(files, file{name: part.FileName(), data: b})
			case part.FormName() == "group":
				group = string(b)
			case part.FormName() == "taken_at":
				t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
				if err != nil {
					return nil, problem.New(http.StatusBadRequest, "bad-request", "taken_at: want an RFC 3339 time such as 2026-01-07T10:30:00+08:00")
				}
				takenAt = t
			}
		}
	default:
		return nil, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"send screenshots as multipart/form-data (one or more files), or one as image/png or image/jpeg")
	}
	if len(files) == 0 {
		return nil, problem.New(http.StatusBadRequest, "bad-request", "the request has no screenshot in it")
	}
	envs := make([]normalize.Envelope, 0, len(files))
	for i, f := range files {
		name := f.name
		if name == "" {
			name = fmt.Sprintf("image %d", i+1)
		}
		if len(f.data) == 0 {
			return nil, problem.New(http.StatusBadRequest, "bad-request", name+" is empty")
		}
		env, err := c.envelope(f.data, f.name, group, takenAt, nil)
		var ie *ImageError
		switch {
		case errors.As(err, &ie) && strings.Contains(ie.Reason, "bytes, over"):
			return nil, problem.New(http.StatusRequestEntityTooLarge, "payload-too-large", name+": "+ie.Reason)
		case errors.As(err, &ie):
			if err := c.deadLetter(r.Context(), f.data, f.name, group, takenAt); err != nil {
				return nil, problem.New(http.StatusServiceUnavailable, "unavailable", "the refused file was not kept: "+err.Error())
			}
			return nil, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type", name+": "+ie.Reason)
		case err != nil:
			return nil, problem.New(http.StatusServiceUnavailable, "unavailable", err.Error())
		}
		envs = append(envs, env)
	}
	return envs, nil
}

// Normalizer reads the connector's screenshots.
func (c *Connector) Normalizer() normalize.Normalizer { return normalizer{c} }

type normalizer struct{ c *Connector }

// Normalize reads the screenshot and makes the drafts of its requests and follow-ups. An
// image that cannot be read is an error: a dead letter, with the reason.
func (n normalizer) Normalize(env normalize.Envelope) ([]normalize.Draft, error) {
	_, drafts, err := n.c.Read(context.Background(), env)
	return drafts, err
}

// Read reads a screenshot's envelope: the page it shows and the drafts it makes.
func (c *Connector) Read(ctx context.Context, env normalize.Envelope) (Page, []normalize.Draft, error) {
	page, err := c.ocrEngine().Read(ctx, env.Payload, c.limits, env.ReceivedAt)
	if err != nil {
		return Page{}, nil, fmt.Errorf("ocr: %s: %w", firstNonEmpty(env.Headers[headerFile], "the screenshot"), err)
	}
	sha := env.Headers[headerSHA256]
	if len(sha) != 64 {
		sum := sha256.Sum256(env.Payload)
		sha = hex.EncodeToString(sum[:])
	}
	group := firstNonEmpty(page.Title, env.Headers[headerGroup], c.group, c.name)
	shot := normalize.Attachment{Kind: "image", URI: attachments.URI(sha), SHA256: sha}
	return page, c.rule.Drafts(page, group, env, shot), nil
}

// Sample makes the envelope of a screenshot, for dry runs (gongdan normalize, gongdan ocr).
func (c *Connector) Sample(payload []byte, headers map[string]string) ([]normalize.Envelope, error) {
	var takenAt time.Time
	if s := headers["taken_at"]; s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, fmt.Errorf("taken_at: %v", err)
		}
		takenAt = t
	}
	env, err := c.envelope(payload, headers[headerFile], headers[headerGroup], takenAt, nil)
	if err != nil {
		return nil, err
	}
	return []normalize.Envelope{env}, nil
}

// Status is what GET /api/v1/connectors shows of the folder.
type Status struct {
	WatchDir string `json:"watch_dir,omitempty"`
	Taken    int64  `json:"files_taken"`
	Failed   int64  `json:"files_failed"`
}

// Details reports the folder's counts.
func (c *Connector) Details() any {
	return Status{WatchDir: c.watchDir, Taken: c.watched.Load(), Failed: c.failed.Load()}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

// Interface guards.
var (
	_ connectors.HTTPReceiver       = (*Connector)(nil)
	_ connectors.NormalizerProvider = (*Connector)(nil)
	_ connectors.Sampler            = (*Connector)(nil)
	_ connectors.Detailer           = (*Connector)(nil)
)
