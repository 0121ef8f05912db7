package hotline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"gongdan/attachments"
	"gongdan/connectors"
	"gongdan/draft"
)

// Headers of a call's envelope about its recording.
const (
	headerRecording       = "recording"        // the SHA-256 of the recording kept in the attachment store
	headerRecordingFailed = "recording_failed" // why it was not kept
)

// recorder keeps calls' recordings in the attachment store before their envelopes are
// published: the envelope waits on disk (synced before the vendor is answered, so nothing
// blocks intake), the recording is fetched with a bound on its size and time, and the
// envelope is published with the kept file's SHA-256 — or, when the recording cannot be had
// by give_up_after, without it and with the reason. Recordings are fetched only from the
// hosts config lists: a vendor's body names the URL, and gongdan must not fetch whatever a
// body names.
type recorder struct {
	hosts   []string
	max     int64
	timeout time.Duration
	giveUp  time.Duration
	dir     string
	store   *attachments.Store
	client  *resty.Client

	mu   sync.Mutex
	wake chan struct{}
}

// waitingRecording is an envelope waiting for its recording, as kept on disk.
type waitingRecording struct {
	Envelope draft.Envelope `json:"envelope"`
	URL      string         `json:"url"`
	Tries    int            `json:"tries"`
	LastErr  string         `json:"last_error,omitempty"`
}

func newRecorder(c *connectors.Conf, stateDir string, store *attachments.Store) *recorder {
	r := &recorder{hosts: c.StringList(fieldRecordingHosts), max: int64(c.Int(fieldRecordingMaxBytes)),
		timeout: c.Duration(fieldRecordingTimeout), giveUp: c.Duration(fieldRecordingGiveUp), store: store, wake: make(chan struct{}, 1)}
	if stateDir != "" {
		r.dir = filepath.Join(stateDir, "recordings")
	}
	r.client = resty.New().SetTimeout(r.timeout).SetRedirectPolicy(resty.NoRedirectPolicy()).SetDoNotParseResponse(true)
	return r
}

// allowed reports whether u is an http(s) URL on one of the listed hosts (a host, or
// ".example.com" for its subdomains).
func (r *recorder) allowed(u string) bool {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.User != nil {
		return false
	}
	host := strings.ToLower(p.Hostname())
	for _, h := range r.hosts {
		h = strings.ToLower(h)
		if host == h || strings.HasPrefix(h, ".") && strings.HasSuffix(host, h) {
			return true
		}
	}
	return false
}

// deliver publishes env now, or, when its recording is to be kept, keeps it on disk until the
// recording is (or cannot be) fetched. Either way, once it returns nil env is durable.
func (h *Hotline) deliver(ctx context.Context, env draft.Envelope, recordingURL string) error {
	r := h.rec
	if r == nil || r.store == nil || r.dir == "" || recordingURL == "" {
		return h.env.Publish(ctx, env)
	}
	if !r.allowed(recordingURL) {
		env.Headers = withHeader(env.Headers, headerRecordingFailed, "its host is not in recordings.hosts")
		return h.env.Publish(ctx, env)
	}
	b, err := json.Marshal(waitingRecording{Envelope: env, URL: recordingURL})
	if err != nil {
		return err
	}
	r.mu.Lock()
	err = connectors.WriteFileAtomic(r.dir, "f-"+fileKey(env.ID)+".json", b)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// recordingOf is the recording URL of an envelope's call: the transcript's, else its record's.
func recordingOf(t Transcript, c *CDR) string {
	if t.RecordingURL != "" || c == nil {
		return t.RecordingURL
	}
	return c.RecordingURL
}

func withHeader(h map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(h)+1)
	for a, b := range h {
		out[a] = b
	}
	out[k] = v
	return out
}

// run fetches the waiting recordings, one at a time, until ctx ends.
func (r *recorder) run(ctx context.Context, now func() time.Time, publish connectors.PublishFunc, failed func(error)) {
	for {
		next, err := r.sweep(ctx, now, publish)
		if err != nil {
			failed(err)
			next = now().Add(time.Second)
		}
		d := time.Hour
		if !next.IsZero() {
			d = max(next.Sub(now()), 10*time.Millisecond)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-r.wake:
			t.Stop()
		}
	}
}

// sweep tries each waiting recording once and says when to try again (zero: nothing waits).
func (r *recorder) sweep(ctx context.Context, now func() time.Time, publish connectors.PublishFunc) (time.Time, error) {
	entries, err := os.ReadDir(r.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "f-") && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var next time.Time
	for _, name := range names {
		if ctx.Err() != nil {
			return next, nil
		}
		path := filepath.Join(r.dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			return next, err
		}
		var w waitingRecording
		if err := json.Unmarshal(b, &w); err != nil {
			return next, fmt.Errorf("hotline: %s is unreadable: %v", path, err)
		}
		sha, why, again := r.fetch(ctx, w.URL)
		env := w.Envelope
		switch {
		case sha != "":
			env.Headers = withHeader(env.Headers, headerRecording, sha)
		case again && now().Sub(env.ReceivedAt) < r.giveUp:
			// Tried again later, backing off: 1 s, 2 s, 4 s, … at most a minute.
			w.Tries++
			w.LastErr = why
			if b, err := json.Marshal(w); err == nil {
				r.mu.Lock()
				err = connectors.WriteFileAtomic(r.dir, name, b)
				r.mu.Unlock()
				if err != nil {
					return next, err
				}
			}
			at := now().Add(min(time.Second<<min(w.Tries, 6), time.Minute))
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		default:
			env.Headers = withHeader(env.Headers, headerRecordingFailed, why)
		}
		if err := publish(ctx, env); err != nil {
			return next, err
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return next, err
		}
		if err := connectors.SyncDir(r.dir); err != nil {
			return next, err
		}
	}
	return next, nil
}

// fetch keeps the recording at u in the store: its SHA-256, or why not and whether trying
// again may help.
func (r *recorder) fetch(ctx context.Context, u string) (sha, why string, again bool) {
	resp, err := r.client.R().SetContext(ctx).Get(u)
	if errors.Is(err, resty.ErrAutoRedirectDisabled) {
		// Where a redirect leads is not what config allows: never followed, never retried.
		return "", "the recording's server redirected elsewhere", false
	}
	if err != nil {
		return "", "fetching the recording: " + oneLine(err), true
	}
	body := resp.RawBody()
	defer body.Close()
	switch code := resp.StatusCode(); {
	case code >= 500 || code == 429:
		return "", fmt.Sprintf("the recording's server answered %d", code), true
	case code != 200:
		return "", fmt.Sprintf("the recording's server answered %d", code), false
	}
	sha, _, err = r.store.Put(body, r.max)
	switch {
	case errors.Is(err, attachments.ErrTooLarge):
		return "", fmt.Sprintf("the recording is over recordings.max_bytes (%d)", r.max), false
	case err != nil:
		return "", "keeping the recording: " + oneLine(err), true
	}
	return sha, "", false
}

// noteRecording puts the kept recording among a call's attachments, or says why it is not.
func noteRecording(d draft.Draft, env draft.Envelope) draft.Draft {
	if sha := env.Headers[headerRecording]; sha != "" {
		d.Attachments = append([]draft.Attachment{{Kind: "recording", URI: attachments.URI(sha), SHA256: sha}}, d.Attachments...)
	} else if why := env.Headers[headerRecordingFailed]; why != "" && len(d.Evidence) < draft.MaxEvidence {
		d.Evidence = append(d.Evidence, draft.Evidence{Field: "attachments", Text: "the recording was not kept: " + why, From: "recording"})
	}
	return d
}
