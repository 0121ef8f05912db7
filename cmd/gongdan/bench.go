package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/silenceper/wechat/v2/util"

	"gongdan/config"
	"gongdan/core/ticket"
	"gongdan/logging"
)

const benchUsage = `usage: gongdan bench intake|wechat [--requests N] [--clients N] [--rate R] [--data DIR]

Starts the whole embedded stack (SQLite, embedded NATS JetStream, pipeline, connector, HTTP
server) on a scratch data directory, sends N requests over loopback HTTP and reports, from
each request's start to its answer and to its ticket's commit in the store:
  - throughput with --clients concurrent closed-loop clients (default), or
  - latency percentiles at a fixed open-loop --rate (requests/s).
intake: JSON drafts to a webhook connector (answered 202).
wechat: WeChat official account callbacks in safe mode (AES-encrypted, signature and
        msg_signature checked, answered "success"), each a text message of its own customer.
The load generator runs in the same process and shares the CPU with the server; the WeChat
callbacks are encrypted before the clock starts.`

// benchCmd is `gongdan bench intake` and `gongdan bench wechat`.
func benchCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "intake" && args[0] != "wechat") {
		return usageError("%s", benchUsage)
	}
	kind := args[0]
	fs := newFlagSet("bench "+kind, stderr)
	requests := fs.Int("requests", 20000, "requests to send")
	clients := fs.Int("clients", 64, "concurrent clients (closed loop)")
	rate := fs.Float64("rate", 0, "send at this many requests/s (open loop) instead")
	dataDir := fs.String("data", "", "data directory (default: a new temporary one, removed after)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{2, err}
	}
	if *requests < 1 || *clients < 1 || *rate < 0 {
		return usageError("%s", benchUsage)
	}
	dir := *dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "gongdan-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	cfg, err := config.Parse("bench.yaml", []byte(`
server: {http: 127.0.0.1:0, tokens: [{token: bench-admin-token-0123456789, actor: admin-1, role: admin}]}
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
connectors:
  - {name: hooks, type: webhook}
  - {name: gzh, type: wechat.officialaccount, app_id: `+benchWXAppID+`, token: `+benchWXToken+`, encoding_aes_key: `+benchWXAESKey+`}
`))
	if err != nil {
		return err
	}
	cfg.ResolvePaths(dir)
	ctx := context.Background()
	log, err := logging.New(stderr, "text", "warn") // masked as the server's own log is
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	st, err := openStack(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer st.close(context.Background())
	if err := st.start(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: st.api}
	go srv.Serve(ln)
	defer srv.Close()
	host := ln.Addr().String()
	// The requests, prepared before the clock starts, and one more, the warm-up.
	reqs := make([][]byte, *requests+1)
	keyPrefix, keyBase, wantStatus := `"hooks/bench-`, 0, http.StatusAccepted
	if kind == "wechat" {
		keyPrefix, keyBase, wantStatus = `"gzh/msg/`, 1, http.StatusOK // MsgIds start at 1
		if err := benchWeChatCalls(reqs, host, "/wechat/gzh", time.Now()); err != nil {
			return err
		}
	} else {
		for i := range reqs {
			body := fmt.Sprintf(`{"title":"冷库压缩机停机 %d","description":"华东仓 3 号冷库压缩机停机，温度上升，联系人 13812345678","urgency":"orange"}`, i)
			reqs[i] = benchRequest(host, "/ingest/hooks", "application/json", body, fmt.Sprintf("Idempotency-Key: bench-%d", i))
		}
	}
	warmReq := reqs[*requests]
	reqs = reqs[:*requests]

	// Each request's start time by its key; the commit time comes from the engine's
	// committed-event stream.
	sent := make([]time.Time, *requests)
	done := make([]time.Time, *requests)
	var committed atomic.Int64
	allDone := make(chan struct{})
	sub := st.engine.Subscribe(1 << 20)
	defer sub.Close()
	go func() {
		for ev := range sub.C {
			if ev.Action != ticket.ActionCreate {
				continue
			}
			// The request's number from its dedup key, found without decoding the event:
			// the load generator shares the CPU with the server and should take little of it.
			if i, ok := benchRequestNumber(ev.Data, keyPrefix); ok && i-keyBase >= 0 && i-keyBase < len(done) {
				i -= keyBase
				done[i] = time.Now()
				if committed.Add(1) == int64(len(done)) {
					close(allDone)
				}
			}
		}
	}()

	client := newBenchClient(host, 1024)
	defer client.close()
	var failures atomic.Int64
	answered := make([]time.Time, *requests)
	post := func(i int) {
		status, err := client.do(reqs[i])
		answered[i] = time.Now()
		if err != nil || status != wantStatus {
			failures.Add(1)
		}
	}

	// Warm up: one request through to its ticket, so that the run measures intake, not the
	// bus's start-up (its consumers are held idle for a moment after they are created).
	warm := st.engine.Subscribe(16)
	if _, err := client.do(warmReq); err != nil {
		return err
	}
	select {
	case <-warm.C:
	case <-time.After(time.Minute):
		return errors.New("bench: the warm-up request made no ticket in a minute")
	}
	warm.Close()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cpuBefore := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	if *rate > 0 {
		interval := time.Duration(float64(time.Second) / *rate)
		for i := range *requests {
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
		for range *clients {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= *requests {
						return
					}
					sent[i] = time.Now()
					post(i)
				}
			})
		}
	}
	wg.Wait()
	accepted := time.Since(start)
	if n := failures.Load(); n > 0 {
		return fmt.Errorf("bench: %d requests were not accepted", n)
	}
	select {
	case <-allDone:
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("bench: only %d of %d tickets after 5 minutes", committed.Load(), *requests)
	}
	cpu := processCPU() - cpuBefore
	last := slices.MaxFunc(done, func(a, b time.Time) int { return a.Compare(b) })
	elapsed := last.Sub(start)

	lat := make([]time.Duration, len(done))
	ans := make([]time.Duration, len(done))
	for i := range done {
		lat[i] = done[i].Sub(sent[i])
		ans[i] = answered[i].Sub(sent[i])
	}
	slices.Sort(lat)
	slices.Sort(ans)
	pctOf := func(lat []time.Duration, p float64) time.Duration {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	pct := func(p float64) time.Duration { return pctOf(lat, p) }
	mode := fmt.Sprintf("%d closed-loop clients", *clients)
	if *rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f requests/s", *rate)
	}
	var b bytes.Buffer
	what, answer := "webhook intake", "202s"
	if kind == "wechat" {
		what, answer = "WeChat safe-mode callbacks", `"success"es`
	}
	fmt.Fprintf(&b, "%s → ticket, embedded stack, %s, %d requests\n", what, mode, *requests)
	fmt.Fprintf(&b, "  all %s after   %v (%.0f requests/s)\n", answer, accepted.Round(time.Millisecond), float64(*requests)/accepted.Seconds())
	fmt.Fprintf(&b, "  all tickets after %v (%.0f tickets/s)\n", elapsed.Round(time.Millisecond), float64(*requests)/elapsed.Seconds())
	// CPU per ticket varies less than the rate on a VM whose disk and neighbours vary.
	fmt.Fprintf(&b, "  CPU (user+system, load generator included): %v, %v per ticket\n",
		cpu.Round(time.Millisecond), (cpu / time.Duration(*requests)).Round(time.Microsecond))
	fmt.Fprintf(&b, "  request start → answer:           p50 %v  p90 %v  p99 %v  max %v\n",
		pctOf(ans, 0.50).Round(10*time.Microsecond), pctOf(ans, 0.90).Round(10*time.Microsecond), pctOf(ans, 0.99).Round(10*time.Microsecond), ans[len(ans)-1].Round(10*time.Microsecond))
	fmt.Fprintf(&b, "  request start → ticket committed: p50 %v  p90 %v  p99 %v  max %v\n",
		pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	if n, sum, ok := histogramTotals(reg, "gongdan_engine_batch_size"); ok && n > 0 {
		// Each commit costs the store a transaction and an fsync whatever its size: how many
		// tickets share one tells much of the CPU per ticket.
		fmt.Fprintf(&b, "  engine commits: %d (%.0f/s), %.1f requests each on average\n", n, float64(n)/elapsed.Seconds(), sum/float64(n))
	}
	if fi, err := dirSize(dir); err == nil {
		fmt.Fprintf(&b, "  data directory: %.1f MiB\n", float64(fi)/(1<<20))
	}
	_, err = stdout.Write(b.Bytes())
	return err
}

// histogramTotals is the count and sum of the histogram name in reg (all its series).
func histogramTotals(reg prometheus.Gatherer, name string) (uint64, float64, bool) {
	mfs, err := reg.Gather()
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

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRequestNumber finds the dedup key <key>N ("hooks/bench-N", "gzh/msg/N") in a creation
// event's data.
func benchRequestNumber(data []byte, key string) (int, bool) {
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

func dirSize(dir string) (int64, error) {
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

// The bench's WeChat account (an in-process server only).
const (
	benchWXAppID  = "wx2c2769f8efd9abc2"
	benchWXToken  = "benchtoken"
	benchWXAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// benchWeChatCalls fills calls with callbacks to path on host, encrypted and signed as WeChat
// does in safe mode: callback i a text message with MsgId i+1 from customer i (so the dedup key
// gzh/msg/<i+1> finds it), with a nonce of its own.
func benchWeChatCalls(calls [][]byte, host, path string, at time.Time) error {
	ts := strconv.FormatInt(at.Unix(), 10)
	for i := range calls {
		plain := fmt.Sprintf("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oBench%08d]]></FromUserName>"+
			"<CreateTime>%s</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[华东仓3号冷库压缩机停机，温度上升，联系人13812345678]]></Content><MsgId>%d</MsgId></xml>", i, ts, i+1)
		enc, err := util.EncryptMsg([]byte(fmt.Sprintf("%016d", i)), []byte(plain), benchWXAppID, benchWXAESKey)
		if err != nil {
			return err
		}
		nonce := strconv.Itoa(1000000 + i)
		q := neturl.Values{"signature": {util.Signature(benchWXToken, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
			"openid": {fmt.Sprintf("oBench%08d", i)}, "encrypt_type": {"aes"}, "msg_signature": {util.Signature(benchWXToken, ts, nonce, string(enc))}}
		calls[i] = benchRequest(host, path+"?"+q.Encode(), "text/xml",
			"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA["+string(enc)+"]]></Encrypt></xml>")
	}
	return nil
}
