package hotline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"gongdan/connectors"
)

// This file is the part of the hotline that asks ASR vendors for results instead of waiting
// for them to be posted: iFlytek's getResult once its completion notice came, and the task
// APIs of Tencent (DescribeTaskStatus) and Aliyun (GetTaskResult) for the task ids a call
// centre hands over at /ingest/{name}/tasks. Each task is kept on disk from the moment it is
// taken (synced before it is answered) until its result is published, so that a crash at any
// point costs at most a second request to the vendor, never a lost or a second ticket:
//
//   - the envelope id and the time the task came are fixed when it is taken, so the result
//     published twice (a crash after the bus took it, before the task was marked done) is the
//     same envelope with the same dedup key (vendor, task, that day);
//   - the vendor's answer is kept before it is published, so a bus that is down costs no
//     further call to the vendor;
//   - a call is counted on disk before it is made: a vendor's budget (iFlytek's 100 getResult
//     calls an order) holds across restarts.

// EnvelopeTypeGaveUp is the type of the envelope published when the connector gives up on an
// ASR task (the vendor's call budget or retention ran out, or the vendor refused the request
// for good): it makes no draft, and so becomes a dead letter that names the task and why.
const EnvelopeTypeGaveUp = "hotline.asr.gave_up"

// ErrGaveUp is the normalizer's error for an EnvelopeTypeGaveUp envelope.
var ErrGaveUp = errors.New("gave up fetching an ASR result")

// taskState is where a kept task stands.
type taskState string

const (
	taskPending taskState = "pending" // ask the vendor at NextAt
	taskFetched taskState = "fetched" // the vendor's answer is in Body: publish it
	taskGaveUp  taskState = "gave_up" // publish the failure (Reason), then forget the task
	taskDone    taskState = "done"    // published; kept until the vendor forgets it, so a repeat is ignored
)

// asrTask is one task the connector asks a vendor about, as kept on disk.
type asrTask struct {
	Vendor Format `json:"vendor"`
	TaskID string `json:"task_id"`
	// Query is what join_on reads as query: the callback URL's query (iFlytek's notice) or
	// the call id handed over with the task id.
	Query map[string]string `json:"query,omitempty"`
	// EnvelopeID and ReceivedAt are the envelope's, fixed when the task was taken.
	EnvelopeID string    `json:"envelope_id"`
	ReceivedAt time.Time `json:"received_at"`
	State      taskState `json:"state"`
	// Calls counts the requests made to the vendor about the task, each counted before it
	// was made.
	Calls  int       `json:"calls"`
	NextAt time.Time `json:"next_at"`
	// LastAnswer is what the vendor said last when it was no result (still processing, a
	// rate limit), for the reason given when the connector gives up.
	LastAnswer string `json:"last_answer,omitempty"`
	// Body is the vendor's answer to publish (state fetched).
	Body []byte `json:"body,omitempty"`
	// Reason and GaveUpID are the failure's (state gave_up).
	Reason   string `json:"reason,omitempty"`
	GaveUpID string `json:"gave_up_id,omitempty"`
}

// gaveUp is the payload of an EnvelopeTypeGaveUp envelope.
type gaveUp struct {
	Vendor     Format            `json:"vendor"`
	TaskID     string            `json:"task_id"`
	Query      map[string]string `json:"query,omitempty"`
	Calls      int               `json:"calls"`
	ReceivedAt time.Time         `json:"received_at"`
	Reason     string            `json:"reason"`
}

// askError is a vendor's refusal of a request (as opposed to an answer about the task):
// permanent ones end the task, the others are asked again after a back-off.
type askError struct {
	permanent bool
	msg       string
}

func (e *askError) Error() string { return e.msg }

func transient(format string, args ...any) error {
	return &askError{msg: fmt.Sprintf(format, args...)}
}

func permanent(format string, args ...any) error {
	return &askError{permanent: true, msg: fmt.Sprintf(format, args...)}
}

// pollVendor is what the poller knows of one vendor: how to ask it, how fast, how often and
// for how long.
type pollVendor struct {
	format Format
	// name, api, taskWord and configKey are for messages: "iFlytek", "getResult", "order",
	// "iflytek".
	name, api, taskWord, configKey string
	// ask requests the task's result: the vendor's answer as it would be posted to
	// /ingest/{name}, or an *askError (any other error is taken as transient).
	ask     func(ctx context.Context, taskID string) ([]byte, error)
	limiter *rate.Limiter
	// retention is how long after a task came the vendor still answers about it.
	retention time.Duration
	// maxCalls is the vendor's budget of calls a task (0: none).
	maxCalls int
	// interval is the first back-off; it doubles, with jitter, up to maxDelay.
	interval, maxDelay time.Duration
	// perDay: the vendor reuses task ids across days (Tencent), so a task is one per day.
	perDay bool
	// close releases the vendor's client.
	close func()
}

// poller keeps the tasks and asks the vendors about them until each is published or given up.
type poller struct {
	dir     string
	vendors map[Format]*pollVendor
	now     func() time.Time
	loc     *time.Location
	// publish publishes a fetched answer; publishGaveUp a failure. Both return only once the
	// envelope is durable.
	publish       func(ctx context.Context, t asrTask) error
	publishGaveUp func(ctx context.Context, t asrTask) error
	// gaveUpHook reports a task given up (logged, counted, the last error).
	gaveUpHook func(t asrTask)
	// warn reports a failure that will be tried again.
	warn    func(msg string, t asrTask, err error)
	workers int

	mu     sync.Mutex
	loaded bool
	tasks  map[string]*asrTask // by file name
	busy   map[string]bool
	wake   chan struct{}

	gaveUpCount atomic.Int64
}

func newPoller(stateDir string, now func() time.Time, loc *time.Location) *poller {
	p := &poller{vendors: map[Format]*pollVendor{}, now: now, loc: loc, workers: 8,
		tasks: map[string]*asrTask{}, busy: map[string]bool{}, wake: make(chan struct{}, 1)}
	if stateDir != "" {
		p.dir = filepath.Join(stateDir, "asr-tasks")
	}
	if p.loc == nil {
		p.loc = time.Local
	}
	return p
}

// name is a task's file name: vendor, a hash of the task id and, for a vendor that reuses ids
// across days, the day it came.
func (p *poller) name(t asrTask) string {
	id := t.TaskID
	if v := p.vendors[t.Vendor]; v != nil && v.perDay {
		id += "/" + t.ReceivedAt.In(p.loc).Format("2006-01-02")
	}
	return string(t.Vendor) + "-" + fileKey(id)
}

// add keeps a new task on disk (synced) and wakes the poller; known is true when the task
// was kept already (a vendor's repeated notice, a task handed over twice), which changes
// nothing.
func (p *poller) add(t asrTask) (known bool, err error) {
	if p.dir == "" {
		return false, errors.New("hotline: no state directory to keep ASR tasks in")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.load(); err != nil {
		return false, err
	}
	name := p.name(t)
	if _, ok := p.tasks[name]; ok {
		return true, nil
	}
	t.State = taskPending
	if err := p.write(name, t); err != nil {
		return false, err
	}
	p.tasks[name] = &t
	p.poke()
	return false, nil
}

func (p *poller) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// load reads the kept tasks once; called with mu held.
func (p *poller) load() error {
	if p.loaded {
		return nil
	}
	entries, err := os.ReadDir(p.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue // a temporary file a crash left
		}
		b, err := os.ReadFile(filepath.Join(p.dir, e.Name()))
		if err != nil {
			return err
		}
		var t asrTask
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("hotline: %s in %s is unreadable: %v", e.Name(), p.dir, err)
		}
		if t.State == taskFetched || t.State == taskGaveUp {
			t.NextAt = time.Time{} // publish at once what a stop left unpublished
		}
		p.tasks[name] = &t
	}
	p.loaded = true
	return nil
}

func (p *poller) write(name string, t asrTask) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return connectors.WriteFileAtomic(p.dir, name+".json", b)
}

func (p *poller) remove(name string) error {
	if err := os.Remove(filepath.Join(p.dir, name+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return connectors.SyncDir(p.dir)
}

// run asks the vendors about the due tasks, a few at a time, until ctx ends; a task being
// asked about when it ends is asked again after a restart.
func (p *poller) run(ctx context.Context) {
	p.mu.Lock()
	err := p.load()
	p.mu.Unlock()
	for err != nil {
		p.warn("the kept ASR tasks could not be read; trying again", asrTask{}, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		p.mu.Lock()
		err = p.load()
		p.mu.Unlock()
	}
	work := make(chan asrTask)
	var wg sync.WaitGroup
	for range p.workers {
		wg.Go(func() {
			for t := range work {
				name := p.name(t)
				t, keep := p.attempt(ctx, name, t)
				p.settle(name, t, keep)
			}
		})
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	for {
		due, next := p.due(p.now())
		for i, t := range due {
			select {
			case work <- t:
			case <-ctx.Done():
				for _, t := range due[i:] {
					p.settle(p.name(t), t, true)
				}
				return
			}
		}
		d := time.Hour
		if !next.IsZero() {
			d = max(next.Sub(p.now()), time.Millisecond)
		}
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-p.wake:
			timer.Stop()
		}
	}
}

// due takes the tasks due at now (marked busy: copies go to the workers) and says when the
// next one is due (zero: none waits).
func (p *poller) due(now time.Time) (due []asrTask, next time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, t := range p.tasks {
		if p.busy[name] {
			continue
		}
		at := t.NextAt
		if t.State == taskDone {
			at = p.expiry(*t)
		}
		if !at.After(now) {
			p.busy[name] = true
			due = append(due, *t)
			continue
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return due, next
}

// settle puts a worker's task back (or forgets it) and wakes the loop.
func (p *poller) settle(name string, t asrTask, keep bool) {
	p.mu.Lock()
	delete(p.busy, name)
	if keep {
		p.tasks[name] = &t
	} else {
		delete(p.tasks, name)
	}
	p.mu.Unlock()
	p.poke()
}

// expiry is when the vendor forgets a task: from then on a repeat of it cannot be fetched
// again, so a done task's record is no longer needed.
func (p *poller) expiry(t asrTask) time.Time {
	if v := p.vendors[t.Vendor]; v != nil {
		return t.ReceivedAt.Add(v.retention)
	}
	return t.ReceivedAt
}

// attempt moves one task on by a step: asks the vendor, publishes what it answered, gives up,
// or forgets a done task. keep is false when the task is forgotten.
func (p *poller) attempt(ctx context.Context, name string, t asrTask) (_ asrTask, keep bool) {
	v := p.vendors[t.Vendor]
	if v == nil {
		// Kept under a config that named the vendor; it is no longer configured.
		t.NextAt = p.now().Add(time.Hour)
		p.warn("an ASR task waits for its vendor to be configured again", t, fmt.Errorf("%s is not configured", t.Vendor))
		return t, true
	}
	switch t.State {
	case taskDone:
		if err := p.remove(name); err != nil {
			p.warn("a finished ASR task's record could not be removed", t, err)
			t.NextAt = p.now().Add(time.Minute)
			return t, true
		}
		return t, false
	case taskPending:
		return p.ask(ctx, v, name, t)
	case taskFetched:
		return p.deliver(ctx, v, name, t)
	case taskGaveUp:
		return p.deliverGaveUp(ctx, v, name, t)
	}
	p.warn("an ASR task in an unknown state is dropped", t, fmt.Errorf("state %q", t.State))
	return t, false
}

// ask asks the vendor once, after the checks of its budget and retention, and acts on the
// answer.
func (p *poller) ask(ctx context.Context, v *pollVendor, name string, t asrTask) (asrTask, bool) {
	deadline := t.ReceivedAt.Add(v.retention)
	last := ""
	if t.LastAnswer != "" {
		last = "; the last answer: " + t.LastAnswer
	}
	switch {
	case v.maxCalls > 0 && t.Calls >= v.maxCalls:
		return p.giveUp(ctx, v, name, t, fmt.Sprintf("%s %s %s: no result after %d %s calls, all %s allows a %s%s",
			v.name, v.taskWord, t.TaskID, t.Calls, v.api, v.name, v.taskWord, last))
	case !p.now().Before(deadline):
		return p.giveUp(ctx, v, name, t, fmt.Sprintf("%s %s %s: no result within %s of its coming, as long as %s keeps results (%d %s calls)%s",
			v.name, v.taskWord, t.TaskID, v.retention, v.name, t.Calls, v.api, last))
	}
	if err := v.limiter.Wait(ctx); err != nil {
		return t, true // stopping
	}
	t.Calls++
	t.NextAt = p.now().Add(backoff(t.Calls, v.interval, v.maxDelay))
	if t.NextAt.After(deadline) {
		t.NextAt = deadline
	}
	if err := p.write(name, t); err != nil {
		t.Calls--
		t.NextAt = p.now().Add(v.interval)
		p.warn("an ASR task's call could not be counted on disk; not asking the vendor yet", t, err)
		return t, true
	}
	body, err := v.ask(ctx, t.TaskID)
	if ctx.Err() != nil {
		return t, true // asked again after a restart, counted
	}
	if err != nil {
		var ae *askError
		if errors.As(err, &ae) && ae.permanent {
			return p.giveUp(ctx, v, name, t, fmt.Sprintf("%s %s %s: %s", v.name, v.taskWord, t.TaskID, ae.msg))
		}
		t.LastAnswer = clip(err.Error(), 512)
		p.warn("an ASR vendor did not answer; asking again later", t, err)
		return t, true
	}
	tr, err := Decode(v.format, "application/json", body)
	switch {
	case errors.Is(err, ErrNotFinished):
		t.LastAnswer = clip(err.Error(), 512)
		return t, true
	case err != nil && !errors.Is(err, ErrVendorFailed) && !errors.Is(err, ErrEmptyTranscript):
		return p.giveUp(ctx, v, name, t, fmt.Sprintf("%s %s %s: the %s answer is no result: %v", v.name, v.taskWord, t.TaskID, v.api, err))
	case tr.TaskID != "" && tr.TaskID != t.TaskID:
		return p.giveUp(ctx, v, name, t, fmt.Sprintf("%s %s %s: %s answered about another %s, %s", v.name, v.taskWord, t.TaskID, v.api, v.taskWord, clip(tr.TaskID, 128)))
	}
	// A result, or the vendor's failure (a dead letter with its reason): kept, then published.
	t.State, t.Body, t.LastAnswer = taskFetched, body, ""
	if err := p.write(name, t); err != nil {
		// Not kept: the vendor is asked again (the call is counted).
		t.State, t.Body = taskPending, nil
		p.warn("an ASR result could not be kept; asking the vendor again later", t, err)
		return t, true
	}
	return p.deliver(ctx, v, name, t)
}

// deliver publishes a fetched answer and marks the task done; a publish that fails is tried
// again after the interval, without asking the vendor again.
func (p *poller) deliver(ctx context.Context, v *pollVendor, name string, t asrTask) (asrTask, bool) {
	if err := p.publish(ctx, t); err != nil {
		if ctx.Err() == nil {
			p.warn("an ASR result was not published; trying again", t, err)
		}
		t.NextAt = p.now().Add(v.interval)
		return t, true
	}
	done := t
	done.State, done.Body, done.NextAt = taskDone, nil, time.Time{}
	if err := p.write(name, done); err != nil {
		// Published again later: the same envelope, the same key, one ticket.
		p.warn("a published ASR result's task could not be marked done", t, err)
		t.NextAt = p.now().Add(v.interval)
		return t, true
	}
	return done, true
}

// giveUp keeps the failure, then publishes it.
func (p *poller) giveUp(ctx context.Context, v *pollVendor, name string, t asrTask, reason string) (asrTask, bool) {
	t.State, t.Reason, t.Body = taskGaveUp, clip(reason, maxField), nil
	if t.GaveUpID == "" {
		t.GaveUpID = t.EnvelopeID + "-gave-up"
	}
	if err := p.write(name, t); err != nil {
		p.warn("an ASR task given up could not be kept so; trying again", t, err)
		t.State = taskPending
		t.NextAt = p.now().Add(v.interval)
		return t, true
	}
	p.gaveUpCount.Add(1)
	p.gaveUpHook(t)
	return p.deliverGaveUp(ctx, v, name, t)
}

// deliverGaveUp publishes a failure, then forgets the task: the same task handed over again
// (once the cause is fixed) is asked about anew.
func (p *poller) deliverGaveUp(ctx context.Context, v *pollVendor, name string, t asrTask) (asrTask, bool) {
	if err := p.publishGaveUp(ctx, t); err != nil {
		if ctx.Err() == nil {
			p.warn("an ASR task given up was not published; trying again", t, err)
		}
		t.NextAt = p.now().Add(v.interval)
		return t, true
	}
	if err := p.remove(name); err != nil {
		p.warn("an ASR task given up could not be forgotten", t, err)
		t.NextAt = p.now().Add(v.interval)
		return t, true
	}
	return t, false
}

// backoff is the wait after the n-th call: interval doubled n-1 times, at most maxDelay, with
// jitter (between half of it and all of it), so that many tasks taken at once spread out.
func backoff(n int, interval, maxDelay time.Duration) time.Duration {
	d := interval
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d/2 + rand.N(d/2+1)
}

// TaskCounts is what GET /api/v1/connectors shows of the ASR tasks.
type TaskCounts struct {
	// Waiting counts the tasks being asked about, by vendor.
	Waiting map[string]int `json:"waiting"`
	// Publishing counts the results (and failures) fetched but not yet on the bus.
	Publishing int `json:"publishing,omitempty"`
	// GaveUp counts the tasks given up since gongdan started (each a dead letter).
	GaveUp int64 `json:"gave_up"`
}

func (p *poller) counts() *TaskCounts {
	c := &TaskCounts{Waiting: map[string]int{}, GaveUp: p.gaveUpCount.Load()}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.tasks {
		switch t.State {
		case taskPending:
			c.Waiting[string(t.Vendor)]++
		case taskFetched, taskGaveUp:
			c.Publishing++
		}
	}
	return c
}

func (p *poller) close() {
	for _, v := range p.vendors {
		if v.close != nil {
			v.close()
		}
	}
}
