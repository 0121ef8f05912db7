package intakeauth

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"gongdan/connectors"
	"gongdan/problem"
)

// FieldBudget is the key of an intake's budget.
const FieldBudget = "budget"

const (
	fieldRequestsPerMinute = "requests_per_minute"
	fieldBytesPerMinute    = "bytes_per_minute"
	fieldConcurrent        = "concurrent"
	fieldPerSource         = "concurrent_per_source"
	fieldReadTimeout       = "read_timeout"
)

// Defaults of a budget's fields that connectors need not choose.
const (
	// DefaultConcurrentPerSource lets a sender retry while its first request, stalled, still
	// holds its place, and two phones sharing a token upload at once; it keeps one sender from
	// holding every place.
	DefaultConcurrentPerSource = 2
	// DefaultReadTimeout is the allowance a body has before it must keep up MinBodyRate: a
	// body sent a byte at a time frees its place within it, one arriving at any real uplink's
	// speed (a phone on 3G) gets read_timeout plus the time its size takes at MinBodyRate.
	DefaultReadTimeout = 30 * time.Second
	// MinBodyRate is the slowest a body may arrive, on average, once its read_timeout has
	// passed: 32 KiB/s, a slow 3G uplink. 20 MiB may take 30 s + 640 s.
	MinBodyRate = 32 << 10
)

// BudgetDefaults are a connector's defaults for its budget, and how its docs name requests.
type BudgetDefaults struct {
	RequestsPerMinute int
	BytesPerMinute    int
	Concurrent        int
	// ConcurrentPerSource is how many of Concurrent one source may hold; 0 is
	// DefaultConcurrentPerSource.
	ConcurrentPerSource int
	// ReadTimeout is how long a request's body may take to arrive once admitted; 0 is
	// DefaultReadTimeout.
	ReadTimeout time.Duration
	// What names the requests ("uploads").
	What string
}

func (d BudgetDefaults) complete() BudgetDefaults {
	if d.ConcurrentPerSource == 0 {
		d.ConcurrentPerSource = DefaultConcurrentPerSource
	}
	if d.ReadTimeout == 0 {
		d.ReadTimeout = DefaultReadTimeout
	}
	return d
}

// BudgetField is the key budget, for a connector spec's Fields.
func BudgetField(d BudgetDefaults) connectors.Field {
	d = d.complete()
	return connectors.Field{
		Name: FieldBudget, Kind: connectors.KindObject,
		Description: "How much one source may send: its token's name when it sends one, else its address (an IPv6 one's /64). Each source has a bucket of " +
			"requests and one of bytes, filled again over a minute; a request over what is left is answered 429 with Retry-After, " +
			"one larger than a whole minute's bytes 413. Beyond concurrent " + d.What + " at once, 503 with Retry-After; beyond " +
			"concurrent_per_source at once from one source, 429 with Retry-After. A body must arrive within read_timeout plus the time its size takes at 32 KiB/s; a slower one is cut off (408). " +
			"Nothing of a refused request is kept.",
		Fields: []connectors.Field{
			{Name: fieldRequestsPerMinute, Kind: connectors.KindInt, Default: d.RequestsPerMinute, Min: connectors.Bound(1), Max: connectors.Bound(100_000),
				Description: "The " + d.What + " one source may send a minute (and at once, after a quiet minute)."},
			{Name: fieldBytesPerMinute, Kind: connectors.KindInt, Default: d.BytesPerMinute, Min: connectors.Bound(1 << 20), Max: connectors.Bound(1 << 30),
				Description: "The bytes one source may send a minute (and at once, after a quiet minute); it also bounds one request."},
			{Name: fieldConcurrent, Kind: connectors.KindInt, Default: d.Concurrent, Min: connectors.Bound(1), Max: connectors.Bound(256),
				Description: "The " + d.What + " taken at once, from all sources together: it bounds the memory and temporary disk they hold."},
			{Name: fieldPerSource, Kind: connectors.KindInt, Default: d.ConcurrentPerSource, Min: connectors.Bound(1), Max: connectors.Bound(256),
				Description: "The " + d.What + " one source may have taken at once: a sender whose signature is checked only once its body is in " +
					"(signature) cannot hold every place with bodies it never finishes."},
			{Name: fieldReadTimeout, Kind: connectors.KindDuration, Default: d.ReadTimeout, Min: connectors.Bound(1), Max: connectors.Bound(600),
				Description: "The allowance one of the " + d.What + "' bodies has to arrive once it is taken, beyond the time its size takes at 32 KiB/s (a slow 3G uplink); a slower one is cut off (408) and frees its place."},
		},
	}
}

// maxSources bounds the sources whose buckets are kept: beyond it, the one least recently
// seen is forgotten.
const maxSources = 10_000

// Budget meters one connector's intake by source. Safe for concurrent use.
type Budget struct {
	requests, bytes int // per minute, and the buckets' sizes
	slots           chan struct{}
	perSource       int           // places one source may hold
	readTimeout     time.Duration // for a body to arrive once admitted

	mu         sync.Mutex
	holding    map[string]int           // places held, by source; only sources holding some
	sources    map[string]*list.Element // of *tracked, in recent: the buckets by source
	recent     *list.List               // the sources, the most recently seen first
	maxSources int
	refused    map[string]int64
}

type buckets struct{ requests, bytes *rate.Limiter }

// tracked is one source's buckets, an element of Budget.recent.
type tracked struct {
	source string
	*buckets
}

// NewBudget reads conf's budget (conf's spec must have BudgetField(d)).
func NewBudget(conf *connectors.Conf, d BudgetDefaults) *Budget {
	d = d.complete()
	b := &Budget{requests: d.RequestsPerMinute, bytes: d.BytesPerMinute, perSource: d.ConcurrentPerSource, readTimeout: d.ReadTimeout,
		holding: map[string]int{}, sources: map[string]*list.Element{}, recent: list.New(), maxSources: maxSources, refused: map[string]int64{}}
	concurrent := d.Concurrent
	if o := conf.Object(FieldBudget); o != nil {
		b.requests, b.bytes, concurrent = o.Int(fieldRequestsPerMinute), o.Int(fieldBytesPerMinute), o.Int(fieldConcurrent)
		b.perSource, b.readTimeout = o.Int(fieldPerSource), o.Duration(fieldReadTimeout)
	}
	b.slots = make(chan struct{}, concurrent)
	return b
}

// BytesPerMinute is the bytes one source may send a minute, and so the largest request.
func (b *Budget) BytesPerMinute() int64 { return int64(b.bytes) }

// Admit takes a request of size bytes (-1: not known yet, see Meter) from source at now: one
// of the source's places and a slot among the concurrent ones, one request and size bytes of
// the source's buckets; the body then has read_timeout to arrive (a read deadline on the
// connection). release frees the places once the request is answered. A problem is the answer
// to give instead (its Retry-After is set on rw).
func (b *Budget) Admit(rw http.ResponseWriter, source string, size int64, now time.Time) (release func(), _ *problem.Problem) {
	if size > int64(b.bytes) {
		return nil, b.refuse("over_size", problem.New(http.StatusRequestEntityTooLarge, "payload-too-large",
			fmt.Sprintf("the request is %d bytes, more than one source may send in a minute (budget.bytes_per_minute %d): send fewer files at once", size, b.bytes)))
	}
	// The source's places first: a source holding all of its own takes none of the others'.
	if !b.hold(source) {
		rw.Header().Set("Retry-After", "1")
		return nil, b.refuse("busy_source", problem.New(http.StatusTooManyRequests, "too-many-requests",
			fmt.Sprintf("%s has %d requests being taken already (budget.concurrent_per_source); retry once one is answered", source, b.perSource)))
	}
	select {
	case b.slots <- struct{}{}:
	default:
		b.unhold(source)
		rw.Header().Set("Retry-After", "1")
		return nil, b.refuse("busy", problem.New(http.StatusServiceUnavailable, "unavailable",
			fmt.Sprintf("%d requests are being taken at once already (budget.concurrent); retry in a moment", cap(b.slots))))
	}
	release = func() {
		<-b.slots
		b.unhold(source)
	}
	bk := b.source(source)
	req := bk.requests.ReserveN(now, 1)
	wait := req.DelayFrom(now)
	var byt *rate.Reservation
	if size > 0 {
		byt = bk.bytes.ReserveN(now, int(size))
		wait = max(wait, byt.DelayFrom(now))
	}
	if wait > 0 {
		req.CancelAt(now)
		if byt != nil {
			byt.CancelAt(now)
		}
		release()
		return nil, b.overBudget(rw, source, wait)
	}
	// The connection's clock, not now: a read deadline is the kernel's. A writer that cannot
	// take one (a test's recorder) is left with the server's own read timeout.
	_ = http.NewResponseController(rw).SetReadDeadline(time.Now().Add(b.readTimeout))
	return release, nil
}

// Paced wraps the body of a request Admit took: as its bytes arrive, the read deadline Admit
// set moves on by the time they take at MinBodyRate, so a body that keeps arriving at a real
// uplink's speed is never cut off, and one held back (to hold a place) is, after read_timeout.
func (b *Budget) Paced(rw http.ResponseWriter, body io.Reader) io.Reader {
	return &paced{r: body, rc: http.NewResponseController(rw), start: time.Now(), allowance: b.readTimeout}
}

type paced struct {
	r         io.Reader
	rc        *http.ResponseController
	start     time.Time
	allowance time.Duration
	n         int64
	set       time.Time // the deadline set last
}

func (p *paced) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.n += int64(n)
		deadline := p.start.Add(p.allowance + time.Duration(p.n)*time.Second/MinBodyRate)
		// At most once a second of deadline: a syscall per small read is not needed.
		if deadline.Sub(p.set) >= time.Second {
			p.set = deadline
			_ = p.rc.SetReadDeadline(deadline)
		}
	}
	return n, err
}

// hold takes one of source's places, unless it holds all it may.
func (b *Budget) hold(source string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holding[source] >= b.perSource {
		return false
	}
	b.holding[source]++
	return true
}

func (b *Budget) unhold(source string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holding[source]--; b.holding[source] <= 0 {
		delete(b.holding, source)
	}
}

// ReadTimedOut is the answer to a request whose body did not arrive within read_timeout (err
// is the read's error, a deadline exceeded), and whether it is one.
func (b *Budget) ReadTimedOut(err error) (*problem.Problem, bool) {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, false
	}
	return b.refuse("read_timeout", problem.New(http.StatusRequestTimeout, "bad-request",
		fmt.Sprintf("the body did not arrive within %s (budget.read_timeout) plus its size at 32 KiB/s: send it faster, or fewer files at once", b.readTimeout))), true
}

// Meter charges what is read through r to source's bytes, for a request whose size was not
// known when it was admitted (chunked). Once the bucket is empty, reads fail with a
// *BudgetError (its Retry-After set on rw).
func (b *Budget) Meter(rw http.ResponseWriter, source string, r io.Reader, now func() time.Time) io.Reader {
	return &meter{b: b, rw: rw, source: source, r: r, now: now}
}

// BudgetError is a read refused by Meter: Problem is the answer to give.
type BudgetError struct{ Problem *problem.Problem }

func (e *BudgetError) Error() string { return e.Problem.Detail }

type meter struct {
	b      *Budget
	rw     http.ResponseWriter
	source string
	r      io.Reader
	now    func() time.Time
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if n > 0 {
		now := m.now()
		res := m.b.source(m.source).bytes.ReserveN(now, n)
		if !res.OK() { // more at once than the whole bucket: not with reads of a few KiB
			return n, &BudgetError{m.b.refuse("over_size", problem.New(http.StatusRequestEntityTooLarge, "payload-too-large",
				fmt.Sprintf("more than one source may send in a minute (budget.bytes_per_minute %d)", m.b.bytes)))}
		}
		if wait := res.DelayFrom(now); wait > 0 {
			res.CancelAt(now)
			return n, &BudgetError{m.b.overBudget(m.rw, m.source, wait)}
		}
	}
	return n, err
}

// Refused counts the requests refused, by reason: over_rate, over_size, busy, busy_source,
// read_timeout. For a connector's Details.
func (b *Budget) Refused() map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.refused)
}

func (b *Budget) overBudget(rw http.ResponseWriter, source string, wait time.Duration) *problem.Problem {
	secs := int64(math.Ceil(wait.Seconds()))
	rw.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	return b.refuse("over_rate", problem.New(http.StatusTooManyRequests, "too-many-requests",
		fmt.Sprintf("%s is over its budget of %d requests and %d bytes a minute (budget); retry in %d s", source, b.requests, b.bytes, max(secs, 1))))
}

func (b *Budget) refuse(reason string, p *problem.Problem) *problem.Problem {
	b.mu.Lock()
	b.refused[reason]++
	b.mu.Unlock()
	return p
}

// source is source's buckets, made full when new. When maxSources are kept already, the one
// seen least recently is forgotten: it has had the longest to fill again, whereas forgetting
// any other (an attacker's, in use) would hand its sender a full bucket. In constant time, for a
// flood of new sources is when it runs most.
func (b *Budget) source(source string) *buckets {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.sources[source]; ok {
		b.recent.MoveToFront(e)
		return e.Value.(*tracked).buckets
	}
	for b.recent.Len() >= b.maxSources {
		oldest := b.recent.Back()
		delete(b.sources, oldest.Value.(*tracked).source)
		b.recent.Remove(oldest)
	}
	bk := &buckets{
		requests: rate.NewLimiter(rate.Limit(float64(b.requests)/60), b.requests),
		bytes:    rate.NewLimiter(rate.Limit(float64(b.bytes)/60), b.bytes),
	}
	b.sources[source] = b.recent.PushFront(&tracked{source: source, buckets: bk})
	return bk
}

// IsBudgetError reports whether err is a read refused by Meter, with its problem.
func IsBudgetError(err error) (*problem.Problem, bool) {
	var be *BudgetError
	if errors.As(err, &be) {
		return be.Problem, true
	}
	return nil, false
}
