package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/silenceper/wechat/v2/util"
)

// Client is the load generator's HTTP/1.1 client, made to take as little of the CPU it
// shares with the server under test as it can, as wrk does: keep-alive connections used one
// request at a time, each request written from bytes prepared before the clock starts, each
// answer read by net/http's own parser on the calling goroutine. net/http's Transport spends
// two more goroutines per connection and several hand-offs per request; on two cores that is
// CPU and run-queue room taken from the server, which WeChat's own servers would not take.
type Client struct {
	addr string
	idle chan *clientConn
}

type clientConn struct {
	c net.Conn
	r *bufio.Reader
}

// NewClient is a client of the server at addr (host:port) that keeps up to maxIdle
// connections open.
func NewClient(addr string, maxIdle int) *Client {
	return &Client{addr: addr, idle: make(chan *clientConn, maxIdle)}
}

// Do sends one prepared request and returns the answer's status. A connection that fails
// or that the server asks to close is dropped; the next request dials a new one.
func (c *Client) Do(req []byte) (int, error) {
	var bc *clientConn
	select {
	case bc = <-c.idle:
	default:
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return 0, err
		}
		bc = &clientConn{c: conn, r: bufio.NewReaderSize(conn, 4<<10)}
	}
	if _, err := bc.c.Write(req); err != nil {
		bc.c.Close()
		return 0, err
	}
	resp, err := http.ReadResponse(bc.r, nil)
	if err != nil {
		bc.c.Close()
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		bc.c.Close()
		return resp.StatusCode, err
	}
	select {
	case c.idle <- bc:
	default:
		bc.c.Close()
	}
	return resp.StatusCode, nil
}

// Close closes the idle connections.
func (c *Client) Close() {
	for {
		select {
		case bc := <-c.idle:
			bc.c.Close()
		default:
			return
		}
	}
}

// Request is an HTTP/1.1 POST of body to target (path and query) on host, as bytes
// ready to write; header lines are "Name: value".
func Request(host, target, contentType, body string, header ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %s\r\n", target, host, contentType, strconv.Itoa(len(body)))
	for _, h := range header {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

// WeChatAccount is the official account whose callbacks WeChatCalls signs and encrypts.
type WeChatAccount struct {
	AppID, Token, EncodingAESKey string
}

// WeChatCalls fills calls with callbacks to path on host, encrypted and signed as WeChat does
// in safe mode: callback i a text message with MsgId i+1 from customer i (so the dedup key
// <connector>/msg/<i+1> finds it), with a nonce of its own.
func WeChatCalls(calls [][]byte, host, path string, at time.Time, account WeChatAccount) error {
	ts := strconv.FormatInt(at.Unix(), 10)
	for i := range calls {
		plain := fmt.Sprintf("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oBench%08d]]></FromUserName>"+
			"<CreateTime>%s</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[华东仓3号冷库压缩机停机，温度上升，联系人13812345678]]></Content><MsgId>%d</MsgId></xml>", i, ts, i+1)
		enc, err := util.EncryptMsg([]byte(fmt.Sprintf("%016d", i)), []byte(plain), account.AppID, account.EncodingAESKey)
		if err != nil {
			return err
		}
		nonce := strconv.Itoa(1000000 + i)
		q := neturl.Values{"signature": {util.Signature(account.Token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
			"openid": {fmt.Sprintf("oBench%08d", i)}, "encrypt_type": {"aes"}, "msg_signature": {util.Signature(account.Token, ts, nonce, string(enc))}}
		calls[i] = Request(host, path+"?"+q.Encode(), "text/xml",
			"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA["+string(enc)+"]]></Encrypt></xml>")
	}
	return nil
}

// RequestNumber finds the dedup key <key>N ("hooks/bench-N", "gzh/msg/N") in a creation
// event's data, without decoding it: the load generator shares the CPU with the server and
// should take little of it.
func RequestNumber(data []byte, key string) (int, bool) {
	at := bytes.Index(data, []byte(key))
	if at < 0 {
		return 0, false
	}
	n, digits := 0, 0
	for _, c := range data[at+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	return n, digits > 0
}

// Commits records when the work of each request was done — its ticket committed — as the
// one goroutine that watches the server for it marks them.
type Commits struct {
	at  []time.Time
	n   atomic.Int64
	all chan struct{} // closed when every request is done
}

// NewCommits is for requests 0 to n-1.
func NewCommits(n int) *Commits {
	return &Commits{at: make([]time.Time, n), all: make(chan struct{})}
}

// Mark records request i as done now; a number out of range is not ours and is ignored.
func (c *Commits) Mark(i int) {
	if i < 0 || i >= len(c.at) {
		return
	}
	c.at[i] = time.Now()
	if c.n.Add(1) == int64(len(c.at)) {
		close(c.all)
	}
}

// HTTPLoad is one run of prepared requests through a Client.
type HTTPLoad struct {
	Client     *Client
	Requests   [][]byte // request i is marked done in Commits as i
	WantStatus int      // the answer that counts as accepted
	Clients    int      // concurrent closed-loop clients
	Rate       float64  // when above 0: requests/s, open loop, instead of Clients
	Commits    *Commits
	// CommitWait bounds the wait for the last request to be done after the last answer.
	CommitWait time.Duration
}

// HTTPResult is what RunHTTP measured, from each request's start (when it was due, open
// loop) to its answer and to its work being done.
type HTTPResult struct {
	Requests int
	Clients  int
	Rate     float64
	Answered time.Duration // from the start to the last answer
	Done     time.Duration // from the start to the last request done
	// CPU is this process's, the load generator included.
	CPU      time.Duration
	ToAnswer []time.Duration // sorted
	ToDone   []time.Duration // sorted
}

// RunHTTP sends the requests and waits for each to be answered and done.
func RunHTTP(l HTTPLoad) (*HTTPResult, error) {
	n := len(l.Requests)
	sent := make([]time.Time, n)
	answered := make([]time.Time, n)
	var failures atomic.Int64
	post := func(i int) {
		status, err := l.Client.Do(l.Requests[i])
		answered[i] = time.Now()
		if err != nil || status != l.WantStatus {
			failures.Add(1)
		}
	}
	cpuBefore := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	if l.Rate > 0 {
		interval := time.Duration(float64(time.Second) / l.Rate)
		for i := range n {
			// A request's time starts when it is due, not when it goes out: a load generator
			// that falls behind counts its own lateness against the server.
			sent[i] = start.Add(time.Duration(i) * interval)
			if d := time.Until(sent[i]); d > 0 {
				time.Sleep(d)
			}
			wg.Go(func() { post(i) })
		}
	} else {
		var next atomic.Int64
		for range l.Clients {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					sent[i] = time.Now()
					post(i)
				}
			})
		}
	}
	wg.Wait()
	r := &HTTPResult{Requests: n, Clients: l.Clients, Rate: l.Rate, Answered: time.Since(start)}
	if f := failures.Load(); f > 0 {
		return nil, fmt.Errorf("bench: %d requests were not accepted", f)
	}
	select {
	case <-l.Commits.all:
	case <-time.After(l.CommitWait):
		return nil, fmt.Errorf("bench: only %d of %d tickets after %v", l.Commits.n.Load(), n, l.CommitWait)
	}
	r.CPU = processCPU() - cpuBefore
	done := l.Commits.at
	r.Done = slices.MaxFunc(done, func(a, b time.Time) int { return a.Compare(b) }).Sub(start)
	r.ToDone = make([]time.Duration, n)
	r.ToAnswer = make([]time.Duration, n)
	for i := range done {
		r.ToDone[i] = done[i].Sub(sent[i])
		r.ToAnswer[i] = answered[i].Sub(sent[i])
	}
	slices.Sort(r.ToDone)
	slices.Sort(r.ToAnswer)
	return r, nil
}

// Text is the report: what was sent ("webhook intake"), what its answers are called
// ("202s"), and what was measured.
func (r *HTTPResult) Text(what, answers string) string {
	pct := func(lat []time.Duration, p float64) time.Duration {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(10 * time.Microsecond)
	}
	mode := fmt.Sprintf("%d closed-loop clients", r.Clients)
	if r.Rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f requests/s", r.Rate)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s → ticket, embedded stack, %s, %d requests\n", what, mode, r.Requests)
	fmt.Fprintf(&b, "  all %s after   %v (%.0f requests/s)\n", answers, r.Answered.Round(time.Millisecond), float64(r.Requests)/r.Answered.Seconds())
	fmt.Fprintf(&b, "  all tickets after %v (%.0f tickets/s)\n", r.Done.Round(time.Millisecond), float64(r.Requests)/r.Done.Seconds())
	// CPU per ticket varies less than the rate on a VM whose disk and neighbours vary.
	fmt.Fprintf(&b, "  CPU (user+system, load generator included): %v, %v per ticket\n",
		r.CPU.Round(time.Millisecond), (r.CPU / time.Duration(r.Requests)).Round(time.Microsecond))
	for _, l := range []struct {
		what string
		lat  []time.Duration
	}{{"answer:          ", r.ToAnswer}, {"ticket committed:", r.ToDone}} {
		fmt.Fprintf(&b, "  request start → %s p50 %v  p90 %v  p99 %v  max %v\n",
			l.what, pct(l.lat, 0.50), pct(l.lat, 0.90), pct(l.lat, 0.99), l.lat[len(l.lat)-1].Round(10*time.Microsecond))
	}
	return b.String()
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// HistogramTotals is the count and sum of the histogram name in g (all its series).
func HistogramTotals(g prometheus.Gatherer, name string) (uint64, float64, bool) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, 0, false
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var n uint64
		var sum float64
		for _, m := range mf.GetMetric() {
			n += m.GetHistogram().GetSampleCount()
			sum += m.GetHistogram().GetSampleSum()
		}
		return n, sum, true
	}
	return 0, 0, false
}

// DirSize is the size of the files under dir; a file removed meanwhile counts nothing.
func DirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	return n, err
}
