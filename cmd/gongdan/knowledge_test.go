package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// knowledgeConfig uses the shipped example articles, with a TL-X9 lock on firmware v2.3.1 and
// one already on 2.3.2 in the device registry; serials are read from the text.
func knowledgeConfig(t *testing.T, extra string) string {
	t.Helper()
	kb, err := filepath.Abs(filepath.Join("..", "..", "configs", "knowledge"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "gongdan.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`knowledge: `+kb+`
normalize:
  device_patterns: ['\bE\d{9}\b']
devices:
  items:
    - {id: E202405017, model: TL-X9, firmware: v2.3.1, product_type: 智能门锁}
    - {id: E202405018, model: TL-X9, firmware: 2.3.2, product_type: 智能门锁}
`+extra), 0o600))
	return path
}

const fingerprintWhy = "why: category 门锁故障, keywords 指纹/按了没反应, model TL-X9, firmware v2.3.1 in >=2.3.0 <2.3.2"

// gongdan knowledge test prints what a ticket with the text would be suggested, and why; and
// what it would not, and why not.
func TestKnowledgeTestPrintsWhatMatches(t *testing.T) {
	cfg := knowledgeConfig(t, "")
	code, out, errOut := runCLI(t, "knowledge", "test", "E202405017 家里的指纹锁按了没反应", "--config", cfg)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "工单：分类 门锁故障，设备 E202405017，型号 TL-X9，固件 v2.3.1\n")
	assert.Contains(t, out, "推荐 1 篇（知识库共 4 篇，每张工单最多 3 篇）：\n")
	assert.Contains(t, out, "  1. tl-x9-fingerprint-sleep  score 9\n     TL-X9 固件 2.3.0–2.3.1 指纹模块休眠不醒：先远程升级到 2.3.2，不必上门\n     "+fingerprintWhy+"\n")
	// Of the lock's category, but none of its words said: not suggested, and why.
	assert.Contains(t, out, "  - smart-lock-battery: too little: category 门锁故障 alone\n")

	// The lock already on 2.3.2 does not get the upgrade article; nor does one whose
	// firmware nobody knows.
	code, out, _ = runCLI(t, "knowledge", "test", "--config", cfg, "E202405018 家里的指纹锁按了没反应")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "1. tl-x9-fingerprint-sleep")
	assert.Contains(t, out, "  - tl-x9-fingerprint-sleep: firmware 2.3.2 not in >=2.3.0 <2.3.2\n")
	code, out, _ = runCLI(t, "knowledge", "test", "指纹锁按了没反应", "--config", cfg, "--model", "TL-X9")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "  - tl-x9-fingerprint-sleep: firmware unknown: the article is for firmware >=2.3.0 <2.3.2\n")

	// The flags say what the text does not.
	code, out, _ = runCLI(t, "knowledge", "test", "排气温度过高，停机了", "--config", cfg, "--model", "GA37VSD+", "--category", "设备过热")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "1. ga37-discharge-overheat  score")
	assert.Contains(t, out, "why: category 设备过热, keywords 排气温度/温度过高/停机, model GA37VSD+")

	code, out, _ = runCLI(t, "knowledge", "test", "今天天气不错", "--config", cfg)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "推荐：无（知识库共 4 篇，没有一篇匹配）")

	// A whole call on stdin.
	stdin = strings.NewReader("喂你好，\n我家 E202405017 那把指纹锁，指纹没反应了。\n")
	t.Cleanup(func() { stdin = os.Stdin })
	code, out, _ = runCLI(t, "knowledge", "test", "-", "--config", cfg)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "1. tl-x9-fingerprint-sleep  score 9\n")
	assert.Contains(t, out, "why: category 门锁故障, keywords 指纹/没反应, model TL-X9, firmware v2.3.1 in >=2.3.0 <2.3.2\n")
}

func TestKnowledgeTestUsage(t *testing.T) {
	code, _, errOut := runCLI(t, "knowledge")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `usage: gongdan knowledge test "<text>"`)
	code, _, _ = runCLI(t, "knowledge", "test")
	assert.Equal(t, 2, code)
	code, _, _ = runCLI(t, "knowledge", "test", "a", "b")
	assert.Equal(t, 2, code)
	code, _, errOut = runCLI(t, "knowledge", "test", "指纹锁没反应")
	assert.Equal(t, 1, code, "the quickstart has no knowledge folder")
	assert.Contains(t, errOut, "quickstart (embedded) has no knowledge: folder; add one, like knowledge: knowledge")
}

// A broken article makes validate fail with its file:line: key: message.
func TestValidateReportsABrokenArticle(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "kb"), 0o755))
	article := filepath.Join(dir, "kb", "lock.md")
	require.NoError(t, os.WriteFile(article, []byte("---\ntitle: 指纹锁\ncategories: [门锁故障]\nmodels: [TL-X9]\nfirmware: \"2.3.x\"\n---\n"), 0o600))
	cfg := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("knowledge: kb\n"), 0o600))
	code, _, errOut := runCLI(t, "validate", "--config", cfg)
	assert.Equal(t, 1, code)
	assert.Equal(t, article+`:5: firmware: "2.3.x": wildcards are not supported; write the ends, like >=2.3.0 <2.4.0 (or leave firmware out for every version)`+"\n", errOut)
}

// The dry run shows the suggestions a payload's draft would get.
func TestNormalizeShowsSuggestions(t *testing.T) {
	cfg := knowledgeConfig(t, "connectors:\n  - {name: hooks, type: webhook}\n")
	stdin = strings.NewReader(`{"title":"指纹锁按了没反应","description":"门锁 E202405017",
		"suggestions":[{"id":"fake","title":"payloads pick no suggestions","why":"x","score":99}]}`)
	t.Cleanup(func() { stdin = os.Stdin })
	code, out, errOut := runCLI(t, "normalize", "--config", cfg, "--connector", "hooks")
	require.Equal(t, 0, code, errOut)
	var drafts []draft.Draft
	require.NoError(t, json.Unmarshal([]byte(out), &drafts))
	require.Len(t, drafts, 1)
	assert.Equal(t, "v2.3.1", drafts[0].Device.Firmware, "from the registry")
	require.NotEmpty(t, drafts[0].Suggestions)
	assert.Equal(t, "tl-x9-fingerprint-sleep", drafts[0].Suggestions[0].ID)
	assert.NotContains(t, out, "fake")
}

// TestAWebhookDraftGetsSuggestions runs the stack: a draft through the draft webhook names a
// lock by its serial; the pipeline reads the serial, the registry gives its firmware, and the
// ticket (and its first source) carries the articles for it, which the payload could not pick.
// A second message of the thread merges into the ticket, and its suggestions join the
// ticket's.
func TestAWebhookDraftGetsSuggestions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole stack")
	}
	path := knowledgeConfig(t, `server:
  http: 127.0.0.1:0
  tokens:
    - {token: test-admin-token-0123456789, actor: admin-1, role: admin}
store: {driver: sqlite, path: gongdan.db}
bus: {driver: nats, embedded: true, dir: nats}
connectors:
  - {name: hooks, type: webhook}
`)
	cfg, err := config.LoadWith(path, connectors.Global.Validate)
	require.NoError(t, err)
	cfg.ResolvePaths(t.TempDir())
	ctx := context.Background()
	st, err := openStack(ctx, cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	defer st.close(context.Background())
	require.NoError(t, st.start(ctx))
	srv := httptest.NewServer(st.api)
	defer srv.Close()

	post := func(body string) {
		t.Helper()
		status, b, err := call("POST", srv.URL+"/ingest/hooks", "", body)
		require.NoError(t, err)
		require.Equal(t, 202, status, string(b))
	}
	tickets := func() []ticket.Ticket {
		status, b, err := call("GET", srv.URL+"/api/v1/tickets", "test-admin-token-0123456789", "")
		var page struct{ Tickets []ticket.Ticket }
		if err != nil || status != 200 || json.Unmarshal(b, &page) != nil {
			return nil
		}
		return page.Tickets
	}
	post(`{"title":"指纹锁按了没反应","description":"家里门锁 E202405017，今天早上开始指纹没反应","thread_key":"lock:E202405017",
		"suggestions":[{"id":"fake","title":"直接拆锁","why":"x","score":99}]}`)
	var tk ticket.Ticket
	require.Eventually(t, func() bool {
		ts := tickets()
		if len(ts) != 1 {
			return false
		}
		tk = ts[0]
		return true
	}, time.Minute, 20*time.Millisecond)
	require.Len(t, tk.Suggestions, 1, "%+v", tk.Suggestions)
	assert.Equal(t, draft.Suggestion{ID: "tl-x9-fingerprint-sleep", Title: "TL-X9 固件 2.3.0–2.3.1 指纹模块休眠不醒：先远程升级到 2.3.2，不必上门",
		Why: strings.TrimPrefix(fingerprintWhy, "why: "), Score: 9}, tk.Suggestions[0])
	assert.Equal(t, tk.Suggestions, tk.Sources[0].Suggestions)
	assert.Equal(t, draft.Device{ID: "E202405017", Model: "TL-X9", Firmware: "v2.3.1", ProductType: "智能门锁"}, tk.Device)

	// The customer writes again: the emergency stop by the door (another article's category)
	// in the same thread.
	post(`{"title":"补充","description":"门口的急停按钮拍下去复位以后也不能启动","thread_key":"lock:E202405017"}`)
	require.Eventually(t, func() bool {
		ts := tickets()
		if len(ts) != 1 || len(ts[0].Sources) != 2 {
			return false
		}
		tk = ts[0]
		return true
	}, time.Minute, 20*time.Millisecond)
	var ids []string
	for _, s := range tk.Suggestions {
		ids = append(ids, s.ID)
	}
	// Its suggestions (estop-reset) were matched without the ticket's device: they stay in its
	// source and are not the ticket's, which is about the lock E202405017.
	assert.Equal(t, []string{"tl-x9-fingerprint-sleep"}, ids, "a follow-up naming no device adds no suggestion")
	require.Len(t, tk.Sources, 2)
	var followUp []string
	for _, s := range tk.Sources[1].Suggestions {
		followUp = append(followUp, s.ID)
	}
	assert.Contains(t, followUp, "estop-reset", "the follow-up's own are kept in its source")
	assert.NotContains(t, ids, "fake")
}
