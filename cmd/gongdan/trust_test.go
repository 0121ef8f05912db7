package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
	"gongdan/pipeline/deadletter"
)

// TestADraftWebhookSpeaksOnlyForItself replays the probe's four attacks through the unsigned
// draft webhook of a real server (issue 17), and through POST /api/v1/tickets with a staff
// token: none reaches the WeChat customer's ticket, the
// CRM's order, or the customer's WeChat. On the code before the trust model, the first
// resolved the customer's in-progress ticket, the second added to it, the third made the real
// CRM order vanish as a duplicate, and the fourth made a ticket that claimed to come from WeChat.
func TestADraftWebhookSpeaksOnlyForItself(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	const (
		openID = sampleOpenID
		admin  = "test-admin-token-0123456789"
		eng    = "test-eng-token-0123456789"
	)
	withEngineer := func(cfg string) string {
		return strings.Replace(cfg, "    - {token: test-super-token-0123456789, actor: sup-1, role: supervisor}\n",
			"    - {token: test-super-token-0123456789, actor: sup-1, role: supervisor}\n    - {token: "+eng+", actor: eng-li, role: engineer}\n", 1)
	}
	srv := startWeChatServer(t, sampleToken, sampleAppID, sampleAESKey, "timestamp_skew: 0s\n", withEngineer)

	// The customer writes in through WeChat (Tencent's signed sample), and an engineer starts work.
	q, body := sampleCallback()
	status, answer, err := call("POST", srv.url+"/wechat/gzh?"+q.Encode(), "", body)
	require.NoError(t, err)
	require.Equal(t, 200, status, string(answer))
	tickets := func() []ticket.Ticket {
		st, b, err := call("GET", srv.url+"/api/v1/tickets", admin, "")
		var page struct{ Tickets []ticket.Ticket }
		if err != nil || st != 200 || json.Unmarshal(b, &page) != nil {
			return nil
		}
		return page.Tickets
	}
	require.Eventually(t, func() bool { return len(tickets()) == 1 }, time.Minute, 50*time.Millisecond)
	victim := tickets()[0]
	require.Equal(t, "gzh/wechat:gzh:"+openID, victim.ThreadKey)
	act := func(tok, action, data string) {
		t.Helper()
		st, b, err := call("POST", srv.url+"/api/v1/tickets/"+victim.ID+"/actions/"+action, tok, `{"data":`+data+`}`)
		require.NoError(t, err)
		require.Equal(t, 200, st, "%s: %s", action, b)
	}
	act(admin, "assign", `{"assignee":"eng-li"}`)
	act(eng, "accept", `{}`)
	act(eng, "start", `{}`)

	// 1 and 2: the customer's thread, as stored now and as it was written before namespaces,
	// with and without intent resolve; 3: the CRM's dedup key first; 4: WeChat's source.
	attacks := []string{
		`{"thread_key":"gzh/wechat:gzh:` + openID + `","intent":"resolve","title":"已修好","description":"根因：客户误操作"}`,
		`{"thread_key":"wechat:gzh:` + openID + `","intent":"resolve","title":"已修好"}`,
		`{"thread_key":"gzh/wechat:gzh:` + openID + `","title":"补充：其实没坏"}`,
		`{"dedup_key":"crm/424242","title":"抢先占用订单号"}`,
		`{"source":{"connector":"gzh","type":"wechat.officialaccount"},"customer":{"wechat_openid":"` + openID + `"},"title":"冒充微信"}`,
	}
	for _, a := range attacks {
		st, b, err := call("POST", srv.url+"/ingest/hooks", "", a)
		require.NoError(t, err)
		require.Equal(t, 202, st, string(b))
	}
	// The same through the API, with a staff token: a caller of the API speaks for the API.
	apiAttacks := []string{
		`{"thread_key":"gzh/wechat:gzh:` + openID + `","intent":"update","title":"API 补充"}`,
		`{"thread_key":"gzh/wechat:gzh:` + openID + `","title":"API 补充 2"}`,
		`{"dedup_key":"crm/424242","title":"API 抢先"}`,
		`{"source":{"connector":"gzh","type":"wechat.officialaccount"},"customer":{"wechat_openid":"` + openID + `"},"title":"API 冒充"}`,
	}
	apiStatus := []int{404, 201, 201, 201} // the intent finds no open ticket of the API's thread
	for i, a := range apiAttacks {
		st, b, err := call("POST", srv.url+"/api/v1/tickets", eng, a)
		require.NoError(t, err)
		require.Equal(t, apiStatus[i], st, "%s: %s", a, b)
	}
	// The real CRM order arrives after the forged keys.
	st, b, err := call("POST", srv.url+"/ingest/crm", "", `{"order_id": 424242, "subject": "冷库压缩机停机"}`)
	require.NoError(t, err)
	require.Equal(t, 202, st, string(b))

	// Two intents refused as dead letters, with the reason; four tickets: the customer's, the
	// webhook's two drafts without intent, and the CRM's.
	var dls deadletter.Page
	require.Eventually(t, func() bool {
		st, b, err := call("GET", srv.url+"/api/v1/deadletters", admin, "")
		return err == nil && st == 200 && json.Unmarshal(b, &dls) == nil && len(dls.DeadLetters) == 2 && len(tickets()) == 8
	}, time.Minute, 50*time.Millisecond, "dead letters and tickets: %+v", dls)
	for _, dl := range dls.DeadLetters {
		assert.Equal(t, "hooks", dl.Connector)
		assert.Contains(t, dl.Error, "connector hooks may not send drafts of intent resolve")
	}

	byTitle := map[string]ticket.Ticket{}
	for _, tk := range tickets() {
		byTitle[tk.Title] = tk
	}
	got := byTitle[victim.Title]
	assert.Equal(t, victim.ID, got.ID)
	assert.Equal(t, ticket.StateInProgress, got.State, "the customer's ticket is not resolved by the webhook")
	assert.Len(t, got.Sources, 1, "nothing was added to the customer's conversation")
	assert.Nil(t, got.Resolution)

	crm := byTitle["冷库压缩机停机"]
	assert.Equal(t, "crm/424242", crm.Sources[0].DedupKey, "the real CRM order made its ticket")
	assert.Equal(t, "hooks/crm/424242", byTitle["抢先占用订单号"].Sources[0].DedupKey)

	added := byTitle["补充：其实没坏"]
	assert.Equal(t, "hooks/gzh/wechat:gzh:"+openID, added.ThreadKey, "a thread of the webhook's own")

	assert.Equal(t, "api/crm/424242", byTitle["API 抢先"].Sources[0].DedupKey)
	assert.Equal(t, "api/gzh/wechat:gzh:"+openID, byTitle["API 补充 2"].ThreadKey)
	assert.Equal(t, "api", byTitle["API 冒充"].Sources[0].Source.Connector, "nor through the API")

	forged := byTitle["冒充微信"]
	assert.Equal(t, "hooks", forged.Sources[0].Source.Connector, "the pipeline, not the payload, names the source")
	assert.Equal(t, "webhook", forged.Sources[0].Source.Type)

	// The audit trail names the connector that opened each ticket.
	st, b, err = call("GET", srv.url+"/api/v1/tickets/"+forged.ID+"/events", admin, "")
	require.NoError(t, err)
	require.Equal(t, 200, st)
	var evs struct{ Events []ticket.Event }
	require.NoError(t, json.Unmarshal(b, &evs), string(b))
	require.NotEmpty(t, evs.Events)
	assert.Equal(t, "connector:hooks", evs.Events[0].Actor.ID)
}

// TestASecondServerOnTheSameDataSaysWhoHasIt: a second serve on a data directory in use
// exits 1 naming the first one's pid, instead of panicking (as every start-up error after the
// store opened did); so does a store.path that is a directory.
func TestASecondServerOnTheSameDataSaysWhoHasIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	path := writeConfig(t, dir, addr)
	first := startChild(t, "serve", "--config", path, "--data", dir)
	first.waitReady(addr)

	second := startChild(t, "serve", "--config", path, "--data", dir, "--http", freeAddr(t))
	err := second.cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the second server must not run; its log:\n%s", second.logs)
	assert.Equal(t, 1, ee.ExitCode(), second.logs.String())
	assert.Contains(t, second.logs.String(), "is in use by another gongdan (pid "+strconv.Itoa(first.cmd.Process.Pid)+")")
	assert.NotContains(t, second.logs.String(), "panic")

	// The first is unharmed.
	st, _, err := call("GET", first.url+"/readyz", "", "")
	require.NoError(t, err)
	assert.Equal(t, 200, st)

	// Another --data, but the first's database by an absolute store.path: refused as well.
	shared := filepath.Join(t.TempDir(), "shared.yaml")
	require.NoError(t, os.WriteFile(shared, []byte(strings.Replace(configText(freeAddr(t)), "path: gongdan.db", "path: "+filepath.Join(dir, "gongdan.db"), 1)), 0o600))
	third := startChild(t, "serve", "--config", shared, "--data", t.TempDir())
	err = third.cmd.Wait()
	require.ErrorAs(t, err, &ee, "the third server must not run; its log:\n%s", third.logs)
	assert.Equal(t, 1, ee.ExitCode(), third.logs.String())
	assert.Contains(t, third.logs.String(), "store.path "+filepath.Join(dir, "gongdan.db")+" is in use by another gongdan (pid "+strconv.Itoa(first.cmd.Process.Pid)+")")

	// A store.path that is a directory: a clear error, exit 1.
	other := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(other, "gongdan.db"), 0o750))
	bad := startChild(t, "serve", "--config", path, "--data", other, "--http", freeAddr(t))
	err = bad.cmd.Wait()
	require.ErrorAs(t, err, &ee, bad.logs.String())
	assert.Equal(t, 1, ee.ExitCode(), bad.logs.String())
	assert.Contains(t, bad.logs.String(), "store.path")
	assert.NotContains(t, bad.logs.String(), "panic")
}

// TestValidateRefusesUnauthenticatedIntakeOffLoopback: validate (and serve) refuse a server.http
// beyond loopback while an unsigned webhook takes requests there, naming the connector at its
// file:line; signed, or on loopback, the same config is fine. threads_of must name another
// connector of the config.
func TestValidateRefusesUnauthenticatedIntakeOffLoopback(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		return path
	}
	head := `server:
  http: %s
  tokens:
    - {token: test-admin-token-0123456789, actor: admin-1, role: admin}
connectors:
`
	open := write("open.yaml", strings.Replace(head, "%s", "0.0.0.0:8080", 1)+`  - name: hooks
    type: webhook
`)
	code, _, stderr := runCLI(t, "validate", "--config", open)
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, open+":6: connectors[0]")
	assert.Contains(t, stderr, "connector hooks takes requests from anyone; refused while server.http 0.0.0.0:8080 is not loopback")

	loopback := write("loopback.yaml", strings.Replace(head, "%s", "127.0.0.1:8080", 1)+`  - name: hooks
    type: webhook
`)
	code, stdout, stderr := runCLI(t, "validate", "--config", loopback)
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "ok")

	// On loopback, but behind a proxy the config names: as exposed as 0.0.0.0.
	proxied := write("proxied.yaml", strings.Replace(head, "%s", "127.0.0.1:8080\n  trusted_proxies: [127.0.0.1]", 1)+`  - name: hooks
    type: webhook
`)
	code, _, stderr = runCLI(t, "validate", "--config", proxied)
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "connector hooks takes requests from anyone; refused while server.trusted_proxies puts a proxy in front of 127.0.0.1:8080")

	signed := write("signed.yaml", strings.Replace(head, "%s", "0.0.0.0:8080", 1)+`  - name: hooks
    type: webhook
    signature: {secret: "0123456789abcdef0123456789abcdef"}
`)
	code, _, stderr = runCLI(t, "validate", "--config", signed)
	assert.Equal(t, 0, code, stderr)

	// serve refuses the open one too, before it opens anything. In a child process: if the
	// check were broken, the server would start and be killed instead of hanging the test run.
	_, port, err := net.SplitHostPort(freeAddr(t))
	require.NoError(t, err)
	c := startChild(t, "serve", "--config", open, "--data", t.TempDir(), "--http", "0.0.0.0:"+port)
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, c.logs.String())
		assert.Equal(t, 1, ee.ExitCode())
		assert.Contains(t, c.logs.String(), "takes requests from anyone")
	case <-time.After(30 * time.Second):
		t.Fatalf("serve started on 0.0.0.0 with an unsigned webhook; its log:\n%s", c.logs)
	}

	threads := write("threads.yaml", strings.Replace(head, "%s", "127.0.0.1:8080", 1)+`  - name: hooks
    type: webhook
    trust:
      threads_of: [gzh, hooks]
`)
	code, _, stderr = runCLI(t, "validate", "--config", threads)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, threads+`:9: connectors[0].trust.threads_of[0]: no connector named "gzh" in this config`)
	assert.Contains(t, stderr, `connectors[0].trust.threads_of[1]: "hooks" is this connector itself`)
}
