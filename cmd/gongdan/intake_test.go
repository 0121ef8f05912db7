package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/pipeline/deadletter"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestShippedIntakeTestCasesPass(t *testing.T) {
	code, out, errOut := runCLI(t, "test", "../../configs/tests")
	require.Equal(t, 0, code, out+errOut)
	assert.Contains(t, out, " passed, 0 failed")
	assert.NotContains(t, out, "FAIL")
}

func TestAWrongIntakeTestCaseFailsWithADiff(t *testing.T) {
	dir := t.TempDir()
	cases := `now: 2026-11-23T09:42:00+08:00
cases:
  - name: wrong urgency and phone
    connector: crm
    payload: {order_id: 1, subject: 门禁故障, priority: P1, contact: {mobile: "+86 139-1234-5678"}}
    expect:
      drafts:
        - {urgency: blue, customer: {phone: "13900000000"}, title: 门禁故障}
  - name: expects an error that does not come
    connector: hooks
    payload: {title: 漏水}
    expect: {error: "needs a title"}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wrong.yaml"), []byte(cases), 0o600))
	code, out, _ := runCLI(t, "test", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "FAIL "+filepath.Join(dir, "wrong.yaml")+": wrong urgency and phone")
	assert.Contains(t, out, `drafts[0].urgency: want "blue", got "red"`)
	assert.Contains(t, out, `drafts[0].customer.phone: want "13900000000", got "13912345678"`)
	assert.NotContains(t, out, "drafts[0].title", "fields that match are not reported")
	assert.Contains(t, out, `want an error containing "needs a title", got 1 draft(s)`)
	assert.Contains(t, out, "0 passed, 2 failed")
}

// A rule change that sends a sample ticket elsewhere fails its routing case, with a diff.
func TestAWrongRouteFailsWithADiff(t *testing.T) {
	dir := t.TempDir()
	cases := `now: 2026-11-24T10:00:00+08:00
cases:
  - name: an emergency stop
    connector: hooks
    payload: {title: 急停按钮失灵, category: 急停故障, location: {lat: 31.301, lon: 120.621}}
    expect:
      route: {rule: estop, engineer: eng-zhao}
  - name: a Saturday leak
    connector: hooks
    now: 2026-11-28T10:00:00+08:00
    payload: {title: 漏水}
    expect:
      route: {rule: office-hours}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(cases), 0o600))
	code, out, _ := runCLI(t, "test", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, `route.engineer: want "eng-zhao", got "eng-li"`)
	assert.NotContains(t, out, "route.rule: want \"estop\"", "what matches is not reported")
	assert.Contains(t, out, `route.rule: want "office-hours", got "after-hours"`, "outside the calendar")
	assert.Contains(t, out, "0 passed, 2 failed")
}

func TestNormalizePrintsTheDraftsWithoutAServer(t *testing.T) {
	stdin = strings.NewReader(`{"title":"冷库温度过高","customer":{"phone":"13812345678"}}`)
	t.Cleanup(func() { stdin = os.Stdin })
	code, out, errOut := runCLI(t, "normalize", "--connector", "hooks", "--now", "2026-11-23T09:42:00+08:00", "--header", "Idempotency-Key: k-1")
	require.Equal(t, 0, code, errOut)
	var drafts []draft.Draft
	require.NoError(t, json.Unmarshal([]byte(out), &drafts), out)
	require.Len(t, drafts, 1)
	assert.Equal(t, "冷库温度过高", drafts[0].Title)
	assert.Equal(t, "hooks/k-1", drafts[0].DedupKey)
	assert.True(t, drafts[0].ReceivedAt.Equal(time.Date(2026, 11, 23, 1, 42, 0, 0, time.UTC)))

	stdin = strings.NewReader(`{"order_id": 7}`)
	code, _, errOut = runCLI(t, "normalize", "--connector", "crm")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "would dead-letter")
	assert.Contains(t, errOut, "a draft needs a title or a description")

	code, _, errOut = runCLI(t, "normalize", "--connector", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `no connector named "nope"`)
}

func TestValidateLocatesConnectorMistakes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`server: {http: 127.0.0.1:8080}
connectors:
  - name: plant
    type: webhok
  - name: crm
    type: webhook
    max_body_bytes: lots
    signature: {secret: short}
    mapping:
      title: payload.subject
      customer.telephone: payload.phone
      urgency: 'payload.priority =='
`), 0o600))
	code, _, errOut := runCLI(t, "validate", "--config", path)
	assert.Equal(t, 1, code)
	for _, want := range []string{
		path + `:4: connectors[0].type: unknown connector type "webhok"; did you mean "webhook"?`,
		path + `:7: connectors[1].max_body_bytes: want a whole number, got "lots"`,
		path + `:8: connectors[1].signature.secret: too short`,
		path + `:11: connectors[1].mapping.customer.telephone: "customer.telephone" is not a draft field`,
		path + `:12: connectors[1].mapping.urgency: expression does not compile`,
	} {
		assert.Contains(t, errOut, want)
	}
	assert.NotContains(t, errOut, "short\"", "a secret's value never appears")
}

// TestDeadLetterReplayAfterAMappingFix is the operator's story: a payload the mapping cannot
// read lands in the dead letters with its error; the mapping is fixed, the server restarted,
// and `deadletters replay` turns the payload into a ticket.
func TestDeadLetterReplayAfterAMappingFix(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	broken := strings.Replace(configText(addr), "title: payload.subject", "title: payload.subject.text", 1)
	path := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(path, []byte(broken), 0o600))
	srv := startChild(t, "serve", "--config", path, "--data", dir)
	srv.waitReady(addr)

	status, body, err := call("POST", srv.url+"/ingest/crm", "", `{"order_id": 77, "subject": "冷库压缩机停机"}`)
	require.NoError(t, err)
	require.Equal(t, 202, status, string(body))

	const admin = "test-admin-token-0123456789"
	var dl deadletter.DeadLetter
	require.Eventually(t, func() bool {
		code, out, _ := runCLI(t, "deadletters", "list", "--config", path, "--token", admin)
		if code != 0 || !strings.Contains(out, "DL-") {
			return false
		}
		st, b, err := call("GET", srv.url+"/api/v1/deadletters", admin, "")
		var page deadletter.Page
		if err != nil || st != 200 || json.Unmarshal(b, &page) != nil || len(page.DeadLetters) != 1 {
			return false
		}
		dl = page.DeadLetters[0]
		return true
	}, time.Minute, 50*time.Millisecond)
	assert.Equal(t, "crm", dl.Connector)
	assert.Equal(t, "normalize.crm", dl.Handler)
	assert.Contains(t, dl.Error, "mapping title (payload.subject.text)")
	code, out, errOut := runCLI(t, "deadletters", "show", dl.ID, "--config", path, "--token", admin)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "冷库压缩机停机", "show prints the payload")

	st, b, err := call("GET", srv.url+"/api/v1/connectors", admin, "")
	require.NoError(t, err)
	require.Equal(t, 200, st)
	assert.Contains(t, string(b), `"name":"crm","type":"webhook","state":"running","received":1,"published":1,"rejected":0,"dead_lettered":1`)

	// Fix the mapping, restart, replay.
	srv.kill()
	require.NoError(t, os.WriteFile(path, []byte(configText(addr)), 0o600))
	srv2 := startChild(t, "serve", "--config", path, "--data", dir)
	srv2.waitReady(addr)
	code, out, errOut = runCLI(t, "deadletters", "replay", dl.ID, "--config", path, "--token", admin)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, dl.ID+": replayed to raw.crm")

	require.Eventually(t, func() bool {
		st, b, err := call("GET", srv2.url+"/api/v1/tickets", admin, "")
		var page struct{ Tickets []ticket.Ticket }
		return err == nil && st == 200 && json.Unmarshal(b, &page) == nil &&
			len(page.Tickets) == 1 && page.Tickets[0].Title == "冷库压缩机停机" &&
			page.Tickets[0].Sources[0].DedupKey == "crm/77"
	}, time.Minute, 50*time.Millisecond)
	st, b, err = call("GET", srv2.url+"/api/v1/deadletters/"+dl.ID, admin, "")
	require.NoError(t, err)
	require.Equal(t, 200, st)
	require.NoError(t, json.Unmarshal(b, &dl))
	assert.Equal(t, deadletter.StateReplayed, dl.State)
}
