// Package ocr is the screenshot connector: chat screenshots (WeChat groups, which have no
// API) read by Tesseract, laid out into messages, and the customers' service requests made
// into drafts.
package ocr

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	"gongdan/connectors/intakeauth"
	"gongdan/draft"
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
	// headerUploadedBy names the token an upload came with: who said what.
	headerUploadedBy = "uploaded_by"
)

// Connector takes screenshots by upload and from a folder.
type Connector struct {
	name     string
	env      connectors.Env
	watchDir string
	poll     time.Duration
	group    string
	rule     RequestFilter
	limits   Limits
	langs    []string
	workers  int
	conf     *connectors.Conf
	uploads  bool                 // POST /ingest/{name} is on
	auth     *intakeauth.Verifier // who may upload
	budget   *intakeauth.Budget   // how much each uploader may send

	mu        sync.Mutex
	tesseract *Pool // made on first use
	// The folder's files as the last scan saw them (a file is taken once it is the same in
	// two scans), and the ones taken whose move failed (not taken again while unchanged).
	seen, taken map[string]fileState

	watched atomic.Int64 // files taken from watch_dir
	failed  atomic.Int64 // files moved to failed/
}

func newConnector(conf *connectors.Conf, env connectors.Env) (connectors.Connector, error) {
	c := &Connector{
		name: conf.Name(), env: env,
		watchDir: conf.Path(fieldWatchDir), poll: conf.Duration(fieldPoll), group: conf.String(fieldGroup),
		rule: RequestFilter{Keywords: conf.StringList(fieldKeywords), Every: conf.Bool(fieldEvery), Staff: conf.StringList(fieldStaff),
			Window: conf.Duration(fieldThreadWindow)},
		limits:  Limits{MaxBytes: int64(conf.Int(fieldMaxBytes)), MaxPixels: conf.Int(fieldMaxPixels)},
		langs:   conf.StringList(fieldLanguages),
		workers: conf.Int(fieldWorkers),
		conf:    conf,
		uploads: conf.Bool(fieldUpload),
		auth:    intakeauth.New(conf, env.Now),
		budget:  intakeauth.NewBudget(conf, defaultBudget),
	}
	if conf.Bool(fieldUseDictionary) {
		c.rule.Dictionary = env.Enricher.Dictionary
	}
	return c, nil
}

// Validate checks the tokens and signature, that a whole screenshot fits in a minute's budget,
// and that Tesseract has the configured languages' data.
func (c *Connector) Validate() error {
	errs := []error{c.auth.Validate(c.conf)}
	if b := c.budget.BytesPerMinute(); b < c.limits.MaxBytes {
		key := intakeauth.FieldBudget
		if o := c.conf.Object(intakeauth.FieldBudget); o != nil {
			errs = append(errs, o.Errorf("bytes_per_minute", "%d is less than max_bytes (%d): no screenshot of that size could ever be uploaded", b, c.limits.MaxBytes))
		} else {
			errs = append(errs, c.conf.Errorf(key, "the budget's bytes_per_minute (%d) is less than max_bytes (%d)", b, c.limits.MaxBytes))
		}
	}
	return errors.Join(append(errs, NewPool(1, c.langs...).Languages())...)
}

// OpenIntake names the upload when it authenticates nobody: whoever reaches it makes tickets
// and fills the attachment store. The watched folder is local, and no way in.
func (c *Connector) OpenIntake() []error {
	if !c.uploads || !c.auth.Open() {
		return nil
	}
	return []error{c.conf.Errorf(intakeauth.FieldTokens,
		"POST /ingest/%s takes screenshots from anyone who can reach it: give the uploaders tokens (tokens), sign the uploads (signature), "+
			"or set upload: false when screenshots come only from watch_dir or another connector", c.name)}
}

// pool is the connector's Tesseract pool, made on first use.
func (c *Connector) pool() *Pool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tesseract == nil {
		c.tesseract = NewPool(c.workers, c.langs...)
	}
	return c.tesseract
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
	if c.tesseract != nil {
		c.tesseract.Close()
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
	var env draft.Envelope
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
func (c *Connector) envelope(b []byte, file, group string, takenAt time.Time, headers map[string]string) (draft.Envelope, error) {
	if takenAt.IsZero() {
		takenAt = c.env.Now()
	}
	env, err := ScreenshotEnvelope(c.name, b, file, group, takenAt.In(c.env.Location), c.limits)
	if err != nil {
		return draft.Envelope{}, err
	}
	if c.env.Attachments != nil {
		if _, _, err := c.env.Attachments.Put(bytes.NewReader(b), c.limits.MaxBytes); err != nil {
			return draft.Envelope{}, fmt.Errorf("ocr: keeping the screenshot: %w", err)
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
func ScreenshotEnvelope(connector string, b []byte, file, group string, takenAt time.Time, lim Limits) (draft.Envelope, error) {
	if err := checkImage(b, lim); err != nil {
		return draft.Envelope{}, err
	}
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	h := shotHeaders(file, group)
	h[headerSHA256] = sha
	ct := "image/png"
	if bytes.HasPrefix(b, []byte{0xFF, 0xD8}) {
		ct = "image/jpeg"
	}
	return draft.Envelope{
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

// headerForwardedBy names who a forwarded screenshot came from, "<connector>:<sender>". Only
// ForwardedScreenshotEnvelope sets it: an upload's and the folder's headers are the connector's
// own (file, group, uploaded_by), never taken from the request.
const headerForwardedBy = "forwarded_by"

// ForwardedScreenshotEnvelope is ScreenshotEnvelope for a picture that another connector
// received from one of its senders and hands on (wechat's screenshots_to): by is who sent it
// there, "<connector>:<sender>" (gzh:oCUST…). Such a picture is the sender's word only, so its
// messages make tickets in that sender's own keys (see RequestFilter.Drafts), never joining or
// pre-empting those of the staff's screenshots. It names no group: the title bar, or the ocr
// connector's group, does.
func ForwardedScreenshotEnvelope(connector, by string, b []byte, file string, takenAt time.Time, lim Limits) (draft.Envelope, error) {
	if strings.TrimSpace(by) == "" {
		return draft.Envelope{}, errors.New("ocr: a forwarded screenshot must name who sent it")
	}
	env, err := ScreenshotEnvelope(connector, b, file, "", takenAt, lim)
	if err != nil {
		return draft.Envelope{}, err
	}
	env.Headers[headerForwardedBy] = by
	return env, nil
}

// StaffScreenshotEnvelope is ScreenshotEnvelope for a picture a member of the organisation
// sent through another connector (a WeCom app's member, by userid): the staff's word, as an
// upload with a token is, so its messages keep the staff's keys and one screenshot uploaded
// and also sent there makes one ticket. by ("<connector>:<userid>") is kept as uploaded_by.
func StaffScreenshotEnvelope(connector, by string, b []byte, file string, takenAt time.Time, lim Limits) (draft.Envelope, error) {
	env, err := ScreenshotEnvelope(connector, b, file, "", takenAt, lim)
	if err != nil {
		return draft.Envelope{}, err
	}
	env.Headers[headerUploadedBy] = by
	return env, nil
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
	return c.env.Publish(ctx, draft.Envelope{
		ID: uuid.NewString(), Connector: c.name, ConnectorType: TypeOCR, Type: EnvelopeType,
		ReceivedAt: takenAt.In(c.env.Location), ContentType: "application/octet-stream", Headers: h, Payload: b,
	})
}

// shotHeaders are the headers a screenshot's envelope names its file and group by.
func shotHeaders(file, group string) map[string]string {
	h := map[string]string{}
	if file != "" {
		h[headerFile] = draft.Clip(filepath.Base(file), 200)
	}
	if group = strings.TrimSpace(group); group != "" {
		h[headerGroup] = draft.Clip(group, 100)
	}
	return h
}

// checkImage is the edge's check: the header says PNG or JPEG of a size within lim.
func checkImage(b []byte, lim Limits) error {
	if lim.MaxBytes > 0 && int64(len(b)) > lim.MaxBytes {
		return &ImageError{fmt.Sprintf("the file is %d bytes, over the limit of %d (max_bytes)", len(b), lim.MaxBytes)}
	}
	_, err := imageConfig(bytes.NewReader(b), lim)
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

// ServeHTTP takes an upload of screenshots. Who sent it and its budget come first; its files
// are written to a temporary folder part by part as they arrive (memory holds one screenshot,
// not the upload) and all checked; only once the whole request is taken are they kept as
// attachments and published, one by one; the answer is 202 only once every one is durable.
func (c *Connector) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if !connectors.PostOnly(rw, r, "upload screenshots with POST") {
		return
	}
	if !c.uploads {
		problem.Write(rw, r, problem.New(http.StatusNotFound, "not-found",
			"this connector takes no uploads (upload: false): its screenshots come from its folder or another connector"))
		return
	}
	c.env.Stats.Received.Add(1)
	u, p := c.upload(rw, r)
	defer u.remove()
	if p != nil {
		c.env.Refuse(rw, r, "ocr upload", p)
		return
	}
	out := accepted{Connector: c.name}
	for _, f := range u.files {
		env, err := c.keep(f, u)
		if err == nil {
			err = c.env.Publish(r.Context(), env)
		}
		if err != nil {
			u.check.Release()
			c.env.NotStored(rw, r, "ocr upload", err, "the screenshots were not all stored; send them again (a screenshot sent twice makes no second ticket)")
			return
		}
		out.Images = append(out.Images, acceptedImage{File: env.Headers[headerFile], EnvelopeID: env.ID, SHA256: env.Headers[headerSHA256]})
	}
	connectors.Accepted(rw, out)
}

// maxImages bounds the screenshots of one upload.
const maxImages = 20

// Bounds of an upload's other parts: its form fields are a group's name and a time.
const (
	maxFieldBytes = 1024
	maxParts      = 2*maxImages + 8
)

// received is an upload read to the end: its files spooled in dir, checked.
type received struct {
	dir     string // "" until the first file
	files   []spooled
	group   string
	takenAt time.Time
	by      string // the token's name, when it came with one
	check   *intakeauth.Check
	release func() // frees the upload's place in the budget
}

// spooled is one file of an upload, on disk until it is kept.
type spooled struct {
	name string // as sent; "" for a body that is the image
	path string
	size int64
}

// remove deletes what the upload left on disk and frees its place; kept files are copies.
func (u *received) remove() {
	if u.dir != "" {
		os.RemoveAll(u.dir)
	}
	if u.release != nil {
		u.release()
	}
}

// keep reads one checked file back, keeps it as an attachment and makes its envelope.
func (c *Connector) keep(f spooled, u *received) (draft.Envelope, error) {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return draft.Envelope{}, err
	}
	var h map[string]string
	if u.by != "" {
		h = map[string]string{headerUploadedBy: u.by}
	}
	return c.envelope(b, f.name, u.group, u.takenAt, h)
}

// upload reads the request's screenshots onto disk and checks them all; a problem is the
// answer instead. Nothing is kept anywhere but the temporary folder (which remove deletes),
// except a file refused for what it is, which goes to the dead letters.
func (c *Connector) upload(rw http.ResponseWriter, r *http.Request) (*received, *problem.Problem) {
	u := &received{}
	check, p := c.auth.Begin(rw, r, r.Header.Get("Idempotency-Key"))
	if p != nil {
		return u, p
	}
	u.check, u.by = check, check.Caller().Token
	max := c.limits.MaxBytes*maxImages + 1<<20
	tooBig := problem.New(http.StatusRequestEntityTooLarge, "payload-too-large", fmt.Sprintf("the request is over %d bytes", max))
	if r.ContentLength > max {
		return u, tooBig
	}
	source := intakeauth.Source(r, check.Caller())
	release, p := c.budget.Admit(rw, source, r.ContentLength, c.env.Now())
	if p != nil {
		return u, p
	}
	u.release = release
	var body io.Reader = c.budget.Paced(rw, http.MaxBytesReader(rw, r.Body, max))
	if r.ContentLength < 0 { // chunked: charged as it is read
		body = c.budget.Meter(rw, source, body, c.env.Now)
	}
	// Every byte goes through the signature's hash as it is read, the parts and what lies
	// between them alike: the body signed is the body as sent.
	body = io.TeeReader(body, check)
	readErr := func(err error) *problem.Problem {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooBig
		}
		if p, ok := intakeauth.IsBudgetError(err); ok {
			return p
		}
		if p, ok := c.budget.ReadTimedOut(err); ok { // a body held back to hold a place
			return p
		}
		return problem.New(http.StatusBadRequest, "bad-request", "reading the request: "+err.Error())
	}
	var refused *spooled // the first file refused for what it is
	var refusal *ImageError
	add := func(name string, part io.Reader) *problem.Problem {
		if len(u.files) == maxImages {
			return problem.New(http.StatusRequestEntityTooLarge, "payload-too-large", fmt.Sprintf("more than %d screenshots in one upload", maxImages))
		}
		shown := name
		if shown == "" {
			shown = fmt.Sprintf("image %d", len(u.files)+1)
		}
		f, err := u.spool(name, part, c.limits.MaxBytes)
		switch {
		case errors.Is(err, errOverMaxBytes):
			return problem.New(http.StatusRequestEntityTooLarge, "payload-too-large",
				fmt.Sprintf("%s: the file is over the limit of %d bytes (max_bytes)", shown, c.limits.MaxBytes))
		case err != nil && errors.Is(err, errSpool):
			return problem.New(http.StatusServiceUnavailable, "unavailable", "the upload could not be written to a temporary file; retry")
		case err != nil:
			return readErr(err)
		case f.size == 0:
			return problem.New(http.StatusBadRequest, "bad-request", shown+" is empty")
		}
		if err := checkFile(f.path, c.limits); err != nil {
			var ie *ImageError
			if !errors.As(err, &ie) {
				return problem.New(http.StatusServiceUnavailable, "unavailable", "the upload could not be read back from its temporary file; retry")
			}
			if refused == nil {
				refused, refusal = &f, ie
			}
			return nil
		}
		u.files = append(u.files, f)
		return nil
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "image/png", "image/jpeg":
		if p := add("", body); p != nil {
			return u, p
		}
		u.group = r.URL.Query().Get(fieldGroup)
	case "multipart/form-data":
		mr := multipart.NewReader(body, params["boundary"])
		for parts := 0; ; parts++ {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return u, readErr(err)
			}
			if parts == maxParts {
				return u, problem.New(http.StatusBadRequest, "bad-request", fmt.Sprintf("more than %d parts in one upload", maxParts))
			}
			if part.FileName() != "" {
				if p := add(part.FileName(), part); p != nil {
					return u, p
				}
				continue
			}
			b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return u, readErr(err)
			}
			if len(b) > maxFieldBytes {
				return u, problem.New(http.StatusBadRequest, "bad-request", fmt.Sprintf("the field %q is over %d bytes", part.FormName(), maxFieldBytes))
			}
			switch part.FormName() {
			case "group":
				u.group = string(b)
			case "taken_at":
				t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
				if err != nil {
					return u, problem.New(http.StatusBadRequest, "bad-request", "taken_at: want an RFC 3339 time such as 2026-01-07T10:30:00+08:00")
				}
				u.takenAt = t
			}
		}
	default:
		return u, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"send screenshots as multipart/form-data (one or more files), or one as image/png or image/jpeg")
	}
	// The rest of the body (the multipart epilogue) is signed too.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return u, readErr(err)
	}
	if p := check.Finish(rw); p != nil {
		return u, p
	}
	if refused != nil {
		// Only now, with the sender proven: a refused file is kept where an operator sees it.
		b, err := os.ReadFile(refused.path)
		if err == nil {
			err = c.deadLetter(r.Context(), b, refused.name, u.group, u.takenAt)
		}
		check.Release()
		if err != nil {
			return u, problem.New(http.StatusServiceUnavailable, "unavailable", "the refused file was not kept: "+err.Error())
		}
		return u, problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type", cmp.Or(refused.name, "the image")+": "+refusal.Reason)
	}
	if len(u.files) == 0 {
		check.Release()
		return u, problem.New(http.StatusBadRequest, "bad-request", "the request has no screenshot in it")
	}
	return u, nil
}

var (
	errOverMaxBytes = errors.New("over max_bytes")
	errSpool        = errors.New("spooling the upload")
)

// spool writes one file of the upload, at most max bytes, into the upload's temporary folder.
func (u *received) spool(name string, r io.Reader, max int64) (spooled, error) {
	if u.dir == "" {
		dir, err := os.MkdirTemp("", "gongdan-upload-")
		if err != nil {
			return spooled{}, fmt.Errorf("%w: %v", errSpool, err)
		}
		u.dir = dir
	}
	f, err := os.CreateTemp(u.dir, "file-")
	if err != nil {
		return spooled{}, fmt.Errorf("%w: %v", errSpool, err)
	}
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // the disk, not the request
			return spooled{}, fmt.Errorf("%w: %v", errSpool, err)
		}
		return spooled{}, err
	}
	if n > max {
		return spooled{}, errOverMaxBytes
	}
	return spooled{name: name, path: f.Name(), size: n}, nil
}

// checkFile is the edge's check of a spooled file: its header says PNG or JPEG within lim.
func checkFile(path string, lim Limits) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = imageConfig(bufio.NewReader(f), lim)
	return err
}

// Normalizer reads the connector's screenshots.
func (c *Connector) Normalizer() draft.Normalizer { return normalizer{c} }

type normalizer struct{ c *Connector }

// Normalize reads the screenshot and makes the drafts of its requests and follow-ups. An
// image that cannot be read is an error: a dead letter, with the reason.
func (n normalizer) Normalize(env draft.Envelope) ([]draft.Draft, error) {
	_, drafts, err := n.c.Read(context.Background(), env)
	return drafts, err
}

// Read reads a screenshot's envelope: the page it shows and the drafts it makes.
func (c *Connector) Read(ctx context.Context, env draft.Envelope) (Page, []draft.Draft, error) {
	page, err := c.pool().Read(ctx, env.Payload, c.limits, env.ReceivedAt, c.rule.Staff...)
	if err != nil {
		return Page{}, nil, fmt.Errorf("ocr: %s: %w", firstNonEmpty(env.Headers[headerFile], "the screenshot"), err)
	}
	sha := env.Headers[headerSHA256]
	if len(sha) != 64 {
		sum := sha256.Sum256(env.Payload)
		sha = hex.EncodeToString(sum[:])
	}
	group := firstNonEmpty(page.Title, env.Headers[headerGroup], c.group, c.name)
	shot := draft.Attachment{Kind: "image", URI: attachments.URI(sha), SHA256: sha}
	return page, c.rule.Drafts(page, group, env, shot), nil
}

// Sample makes the envelope of a screenshot, for dry runs (gongdan normalize, gongdan ocr).
func (c *Connector) Sample(payload []byte, headers map[string]string) ([]draft.Envelope, error) {
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
	return []draft.Envelope{env}, nil
}

// Status is what GET /api/v1/connectors shows of the folder and the uploads.
type Status struct {
	WatchDir string `json:"watch_dir,omitempty"`
	Taken    int64  `json:"files_taken"`
	Failed   int64  `json:"files_failed"`
	// RefusedByReason counts the uploads refused for who sent them or how much: missing,
	// bad_token, bad_signature, stale_timestamp, replayed, …; over_rate, over_size, busy,
	// busy_source, read_timeout.
	RefusedByReason map[string]int64 `json:"refused_by_reason,omitempty"`
}

// Details reports the folder's counts and the uploads refused at the door.
func (c *Connector) Details() any {
	refused := c.auth.Refused()
	for k, n := range c.budget.Refused() {
		refused[k] += n
	}
	if len(refused) == 0 {
		refused = nil
	}
	return Status{WatchDir: c.watchDir, Taken: c.watched.Load(), Failed: c.failed.Load(), RefusedByReason: refused}
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
	_ connectors.HTTPReceiver = (*Connector)(nil)
	_ connectors.DryRunner    = (*Connector)(nil)
	_ connectors.Detailer     = (*Connector)(nil)
	_ connectors.OpenIntake   = (*Connector)(nil)
)
