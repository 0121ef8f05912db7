package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/core/ticket"
	"gongdan/internal/bench"
	"gongdan/logging"
)

const benchUsage = `usage: gongdan bench intake|wechat|hotline [--requests N] [--clients N] [--rate R] [--data DIR]

Starts the whole embedded stack (SQLite, embedded NATS JetStream, pipeline, connector, HTTP
server) on a scratch data directory, sends N requests over loopback HTTP and reports, from
each request's start to its answer and to its ticket's commit in the store:
  - throughput with --clients concurrent closed-loop clients (default), or
  - latency percentiles at a fixed open-loop --rate (requests/s).
intake: JSON drafts to a webhook connector (answered 202).
wechat: WeChat official account callbacks in safe mode (AES-encrypted, signature and
        msg_signature checked, answered "success"), each a text message of its own customer.
hotline: Aliyun GetTaskResult bodies of ten-minute calls (120 turns, some 20 KB), each its
        own caller, to a hotline connector with a callback token (answered 200).
The load generator runs in the same process and shares the CPU with the server; the WeChat
callbacks are encrypted before the clock starts.`

// benchCmd is `gongdan bench intake` and `gongdan bench wechat`.
func benchCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "intake" && args[0] != "wechat" && args[0] != "hotline") {
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
	cfg, err := config.ParseWith("bench.yaml", []byte(`
server: {http: 127.0.0.1:0, tokens: [{token: bench-admin-token-0123456789, actor: admin-1, role: admin}]}
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
connectors:
  - {name: hooks, type: webhook}
  - {name: gzh, type: wechat.officialaccount, app_id: `+benchWXAccount.AppID+`, token: `+benchWXAccount.Token+`, encoding_aes_key: `+benchWXAccount.EncodingAESKey+`}
  - {name: hotline, type: hotline, callback_token: `+benchHotlineToken+`, agent_channel: 0}
normalize:
  device_patterns: ['\bE\d{9}\b']
`), connectors.Global.Validate)
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
	switch kind {
	case "wechat":
		keyPrefix, keyBase, wantStatus = `"gzh/msg/`, 1, http.StatusOK // MsgIds start at 1
		if err := bench.WeChatCalls(reqs, host, "/wechat/gzh", time.Now(), benchWXAccount); err != nil {
			return err
		}
	case "hotline":
		keyPrefix, wantStatus = `"hotline/aliyun/bench-`, http.StatusOK
		for i := range reqs {
			reqs[i] = bench.Request(host, "/ingest/hotline?token="+benchHotlineToken, "application/json", benchCall(i))
		}
	default:
		for i := range reqs {
			body := fmt.Sprintf(`{"title":"冷库压缩机停机 %d","description":"华东仓 3 号冷库压缩机停机，温度上升，联系人 13812345678","urgency":"orange"}`, i)
			reqs[i] = bench.Request(host, "/ingest/hooks", "application/json", body, fmt.Sprintf("Idempotency-Key: bench-%d", i))
		}
	}
	warmReq := reqs[*requests]
	reqs = reqs[:*requests]

	// The commit time of each request comes from the engine's committed-event stream.
	commits := bench.NewCommits(*requests)
	sub := st.engine.Subscribe(1 << 20)
	defer sub.Close()
	go func() {
		for ev := range sub.C {
			if ev.Action != ticket.ActionCreate {
				continue
			}
			if i, ok := bench.RequestNumber(ev.Data, keyPrefix); ok {
				commits.Mark(i - keyBase)
			}
		}
	}()

	client := bench.NewClient(host, 1024)
	defer client.Close()

	// Warm up: one request through to its ticket, so that the run measures intake, not the
	// bus's start-up (its consumers are held idle for a moment after they are created).
	warm := st.engine.Subscribe(16)
	if _, err := client.Do(warmReq); err != nil {
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
	res, err := bench.RunHTTP(bench.HTTPLoad{Client: client, Requests: reqs, WantStatus: wantStatus,
		Clients: *clients, Rate: *rate, Commits: commits, CommitWait: 5 * time.Minute})
	if err != nil {
		return err
	}
	what, answers := "webhook intake", "202s"
	switch kind {
	case "wechat":
		what, answers = "WeChat safe-mode callbacks", `"success"es`
	case "hotline":
		what, answers = "hotline calls (Aliyun results, 120 turns)", "200s"
	}
	var b strings.Builder
	b.WriteString(res.Text(what, answers))
	if n, sum, ok := bench.HistogramTotals(reg, "gongdan_engine_batch_size"); ok && n > 0 {
		// Each commit costs the store a transaction and an fsync whatever its size: how many
		// tickets share one tells much of the CPU per ticket.
		fmt.Fprintf(&b, "  engine commits: %d (%.0f/s), %.1f requests each on average\n", n, float64(n)/res.Done.Seconds(), sum/float64(n))
	}
	if size, err := bench.DirSize(dir); err == nil {
		fmt.Fprintf(&b, "  data directory: %.1f MiB\n", float64(size)/(1<<20))
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// benchHotlineToken is the bench's hotline callback token (an in-process server only).
const benchHotlineToken = "bench-callback-0123456789"

// benchCall is Aliyun's GetTaskResult of call i: ten minutes, 120 turns, the agent on channel 0,
// the customer (caller 139… + i) giving the number, address and serial as people say them.
func benchCall(i int) string {
	turns := []string{
		"您好，工号3021，很高兴为您服务，请问有什么可以帮您？",
		"喂，你好，我们小区三号楼的电梯困人了，里面有两个人",
		"好的，请问您的地址是？",
		"地址是南京市玄武区科技路四百零六号，三号楼",
		"请问您的联系电话？",
		"我的电话是" + spokenDigits(fmt.Sprintf("139%08d", i)),
		"设备上有编号吗？",
		"有的，是E" + spokenDigits(fmt.Sprintf("2024%05d", i%100000)),
		"好的，已经为您登记，我们马上安排师傅过去。",
		"快点啊，这是第三次打了",
	}
	type sentence struct {
		ChannelId          int
		BeginTime, EndTime int64
		Text               string
		EmotionValue       float64
		SpeechRate         int
	}
	var ss []sentence
	at := int64(300)
	for r := range 12 {
		for k, t := range turns {
			ch := 1
			if k%2 == 0 {
				ch = 0
			}
			if r > 0 && k == 0 {
				t = "还有其他问题吗？"
			}
			ss = append(ss, sentence{ChannelId: ch, BeginTime: at, EndTime: at + 4000, Text: t, EmotionValue: 5.5, SpeechRate: 260})
			at += 4600
		}
	}
	b, _ := json.Marshal(map[string]any{"TaskId": fmt.Sprintf("bench-%d", i), "StatusCode": 21050000, "StatusText": "SUCCESS",
		"BizDuration": at, "Result": map[string]any{"Sentences": ss}})
	return string(b)
}

// spokenDigits says a digit string as a caller does: 幺 for 1, 洞 for 0 now and then.
func spokenDigits(s string) string {
	var b strings.Builder
	for i, c := range s {
		w := []string{"零", "幺", "二", "三", "四", "五", "六", "七", "八", "九"}[c-'0']
		if c == '0' && i%3 == 0 {
			w = "洞"
		}
		b.WriteString(w)
	}
	return b.String()
}

// The bench's WeChat account (an in-process server only).
var benchWXAccount = bench.WeChatAccount{
	AppID: "wx2c2769f8efd9abc2", Token: "benchtoken", EncodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
}

const benchMQTTUsage = `usage: gongdan bench mqtt [--broker URL] [--devices N] [--rate R] [--duration D] [--breach-ratio X]
                          [--gongdan URL --token T [--connector NAME] | --baseline] [--json] [...]

Publishes device telemetry to an MQTT broker ({"temp":…,"humidity":…,"voltage":…,"ts":<Unix ms>,
"seq":…} on --topic, one topic per device E2026…) from --publishers clients at --rate messages/s
in all (0: as fast as the broker acknowledges) for --duration, and reports the publish rate and
PUBACK latency. The publishers write MQTT 3.1.1 packets by hand on plain TCP connections
(--publisher raw: a few µs of CPU a message, so that the load generator leaves the cores to what
it measures; tcp:// and QoS 1); --publisher paho uses the Eclipse paho client instead, for
comparison and for other brokers and QoS levels. A --breach-ratio share of the devices goes
above 85 °C at some point in the first half of the run and stays there; the others stay around
40–70 °C.

Then, with --token (or --gongdan), it measures the gongdan under test: the delta of its
connector's counters on /metrics (waiting up to --drain for received to stop growing), the
gateway's throughput from the first publish to the last message received, and, following the
event stream, for each breaching device the time from its first breaching message to its ticket.
With --baseline it runs a plain QoS 1 subscriber on the topic filter in this process instead —
the broker alone — and reports what it received.

The password may come from GONGDAN_BENCH_MQTT_PASSWORD and the API token from
GONGDAN_BENCH_TOKEN; neither is ever printed.`

// benchMQTTCmd is `gongdan bench mqtt`.
func benchMQTTCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench mqtt", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, benchMQTTUsage); fs.PrintDefaults() }
	o := bench.DefaultMQTTOptions()
	fs.StringVar(&o.Broker, "broker", o.Broker, "MQTT broker URL")
	fs.StringVar(&o.Topic, "topic", o.Topic, "topic of a device's telemetry; {device} is replaced by its serial")
	qos := fs.Int("qos", int(o.QoS), "QoS of the publishes (and of the baseline subscription)")
	fs.IntVar(&o.Devices, "devices", o.Devices, "devices to simulate")
	fs.IntVar(&o.FirstDevice, "first-device", o.FirstDevice, "number in the first device's serial (E2026 + 7 digits); -1: a random block, so that runs against the same gongdan do not share devices")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "messages/s in all, paced; 0 = as fast as the broker acknowledges")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long to publish")
	fs.Int64Var(&o.Messages, "messages", o.Messages, "stop after this many messages in all (0: when --duration is over)")
	fs.Float64Var(&o.BreachRatio, "breach-ratio", o.BreachRatio, "share of the devices whose temperature goes above 85 and stays there")
	fs.IntVar(&o.Publishers, "publishers", o.Publishers, "MQTT clients publishing in parallel; the devices are split among them")
	fs.IntVar(&o.Inflight, "inflight", o.Inflight, "unacknowledged publishes per publisher")
	fs.Var(&o.Publisher, "publisher", "MQTT client that publishes: raw (hand-written MQTT 3.1.1 packets, a few µs of CPU a message; tcp:// and QoS 1, else paho is used) or paho (the Eclipse client, as a gateway would use; for comparison)")
	fs.StringVar(&o.Username, "username", o.Username, "MQTT user name")
	// Secrets come from the environment after parsing, never as flag defaults: -h prints those.
	fs.StringVar(&o.Password, "password", "", "MQTT password (default $GONGDAN_BENCH_MQTT_PASSWORD)")
	gongdan := fs.String("gongdan", "http://127.0.0.1:8080", "base URL of the gongdan under test (measured with --token, or when given)")
	fs.StringVar(&o.Token, "token", "", "API token of a staff role, to follow gongdan's event stream; an admin token also reads /metrics of a gongdan on another host (default $GONGDAN_BENCH_TOKEN)")
	fs.StringVar(&o.Connector, "connector", o.Connector, "name of gongdan's MQTT connector, as on /metrics")
	fs.DurationVar(&o.Drain, "drain", o.Drain, "after publishing, wait at most this long for the receiving side to catch up")
	fs.BoolVar(&o.Baseline, "baseline", o.Baseline, "measure a plain QoS 1 subscriber in this process (the broker alone) instead of gongdan")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (load generator and subscriber) to this file")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return usageError("bench mqtt: unexpected argument %q\n\n%s", fs.Arg(0), benchMQTTUsage)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["password"] {
		o.Password = os.Getenv("GONGDAN_BENCH_MQTT_PASSWORD")
	}
	if !given["token"] {
		o.Token = os.Getenv("GONGDAN_BENCH_TOKEN")
	}
	gongdanGiven := given["gongdan"]
	if !o.Baseline && (gongdanGiven || o.Token != "") {
		o.Gongdan = strings.TrimRight(*gongdan, "/")
	}
	if o.Baseline && gongdanGiven {
		return usageError("bench mqtt: --baseline measures the broker alone; leave out --gongdan\n\n%s", benchMQTTUsage)
	}
	if *qos < 0 || *qos > 2 {
		return usageError("bench mqtt: --qos must be 0, 1 or 2, got %d", *qos)
	}
	o.QoS = byte(*qos)
	if err := o.Check(); err != nil {
		return usageError("bench mqtt: %v\n\n%s", err, benchMQTTUsage)
	}
	if why := o.RawUnsupported(); given["publisher"] && o.Publisher == bench.PublisherRaw && why != "" {
		return usageError("bench mqtt: --publisher raw: %s; use --publisher paho", why)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return userError(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// The first interrupt ends the publishing and reports what got through; a second one
	// kills, as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, stop)
	rep, err := bench.RunMQTT(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err = io.WriteString(stdout, rep.Text())
	return err
}
