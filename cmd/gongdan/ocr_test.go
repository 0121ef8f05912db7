package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"gongdan/connectors/ocr/ocrtest"
	"gongdan/connectors/ocr/wxshot"
	"gongdan/core/ticket"
)

const ocrAdmin = "test-admin-token-0123456789"

// startOCRServer runs gongdan with an ocr connector named groups (and a watched folder).
func startOCRServer(t *testing.T, watch string) *child {
	t.Helper()
	return startOCRServerIn(t, "", t.TempDir(), watch)
}

// startOCRServerIn runs it from the working directory wd ("": the test's), with --data dir.
func startOCRServerIn(t *testing.T, wd, dir, watch string) *child {
	t.Helper()
	return startOCRServerWith(t, wd, dir, `    watch_dir: `+watch+`
    poll_interval: 200ms
    keywords: [报修, 坏了, 故障, 漏油, 不能用, 不制冷]
`, `normalize:
  device_patterns: ['SN-[A-Z0-9]+(?:-[A-Z0-9]+)+']
`)
}

// startOCRServerWith runs gongdan with an ocr connector named groups, whose keys (after name
// and type) are connector, and the config's sections after connectors.
func startOCRServerWith(t *testing.T, wd, dir, connector, sections string) *child {
	t.Helper()
	addr := freeAddr(t)
	cfg := configText(addr) + "  - name: groups\n    type: ocr\n" + connector + sections
	path := filepath.Join(dir, "gongdan.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	srv := startChildIn(t, wd, "serve", "--config", path, "--data", dir)
	srv.waitReady(addr)
	return srv
}

// A relative watch_dir is under serve --data, as every relative path of the config is, not
// under the directory the server was started in: the server runs from a directory of its
// own, a screenshot dropped into <data>/inbox/screenshots makes its ticket and is moved to
// done/, and no inbox appears where the server was started.
func TestRelativeWatchDirIsUnderTheDataRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and OCRs a screenshot")
	}
	wd, data := t.TempDir(), t.TempDir()
	srv := startOCRServerIn(t, wd, data, "inbox/screenshots")
	inbox := filepath.Join(data, "inbox", "screenshots")
	require.DirExists(t, inbox, "the connector makes its folder under --data")

	shot := renderChatFile(t, "light")[0]
	b, err := os.ReadFile(shot.Path)
	require.NoError(t, err)
	tmp := filepath.Join(data, "light.png.part")
	require.NoError(t, os.WriteFile(tmp, b, 0o600))
	require.NoError(t, os.Chtimes(tmp, ocrtest.At, ocrtest.At)) // a file's time is when it was taken
	require.NoError(t, os.Rename(tmp, filepath.Join(inbox, "light.png")))

	zhang := waitTickets(t, srv.url, 1)["张三"]
	require.NotEmpty(t, zhang.ID, "张三's request makes a ticket: %s", srv.logs)
	assert.Equal(t, "13812345678", zhang.Customer.Phone)
	assert.Equal(t, "SN-A2024-00731", zhang.Device.ID)
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(inbox, "done", "light.png"))
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "the screenshot is moved to done/")
	entries, err := os.ReadDir(wd)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is made in the directory the server was started in")
}

// renderChatFile draws connectors/ocr/testdata/chats/<name>.yaml.
func renderChatFile(t *testing.T, name string) []ocrtest.Shot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "connectors", "ocr", "testdata", "chats", name+".yaml"))
	require.NoError(t, err)
	var c ocrtest.Chat
	require.NoError(t, yaml.Unmarshal(b, &c))
	shots, err := ocrtest.Render(c, t.TempDir())
	require.NoError(t, err)
	return shots
}

// upload posts files to /ingest/groups as multipart/form-data.
func upload(t *testing.T, base string, files map[string][]byte, fields ...string) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fw, err := w.CreateFormFile("screenshot", n)
		require.NoError(t, err)
		fw.Write(files[n])
	}
	for i := 0; i+1 < len(fields); i += 2 {
		require.NoError(t, w.WriteField(fields[i], fields[i+1]))
	}
	require.NoError(t, w.Close())
	resp, err := http.Post(base+"/ingest/groups", w.FormDataContentType(), &body)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// waitTickets waits until the server has n tickets, and returns them by customer name.
func waitTickets(t *testing.T, base string, n int) map[string]ticket.Ticket {
	t.Helper()
	var tks []ticket.Ticket
	ok := assert.Eventually(t, func() bool {
		var err error
		tks, err = listTickets(base, ocrAdmin)
		return err == nil && len(tks) >= n
	}, 90*time.Second, 100*time.Millisecond, "want %d tickets", n)
	if !ok {
		for _, tk := range tks {
			t.Logf("ticket %s %s: %s", tk.ID, tk.Customer.Name, tk.Title)
		}
		_, dl, _ := call("GET", base+"/api/v1/deadletters", ocrAdmin, "")
		t.Fatalf("dead letters: %s", dl)
	}
	// The drafts of one picture reach the core in any order (a follow-up may open the ticket
	// its request then merges into and retitles): read the tickets once every draft made so
	// far is taken, not as they were when the n-th appeared.
	ok = assert.Eventually(t, func() bool {
		drafts, taken := metricSum(base, "gongdan_pipeline_drafts_total{"), metricValue(base, "gongdan_pipeline_drafts_taken_total")
		return drafts > 0 && taken == drafts
	}, 90*time.Second, 100*time.Millisecond, "%s", pipelineMetrics(base))
	if ok {
		if now, err := listTickets(base, ocrAdmin); err == nil {
			tks = now
		}
	}
	by := map[string]ticket.Ticket{}
	for _, tk := range tks {
		by[tk.Customer.Name] = tk
	}
	return by
}

// metricSum is the sum of the series on /metrics whose line starts with prefix.
func metricSum(base, prefix string) float64 {
	_, b, err := call("GET", base+"/metrics", "", "")
	if err != nil {
		return -1
	}
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		var f float64
		if i := strings.LastIndexByte(line, ' '); i >= 0 {
			if _, err := fmt.Sscan(line[i+1:], &f); err == nil {
				sum += f
			}
		}
	}
	return sum
}

// Two overlapping screenshots of one conversation, uploaded together and then one of them
// again, make each customer's request once; the follow-ups fill the tickets (a phone number
// a message later, a device serial), with the evidence pointing at the messages and the
// screenshot kept as an attachment.
func TestOverlappingScreenshotsMakeEachRequestOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and OCRs screenshots")
	}
	srv := startOCRServer(t, filepath.Join(t.TempDir(), "inbox"))
	shots := renderChatFile(t, "overlap")
	require.Len(t, shots, 2)
	files := map[string][]byte{}
	for _, s := range shots {
		b, err := os.ReadFile(s.Path)
		require.NoError(t, err)
		files[filepath.Base(s.Path)] = b
	}
	status, answer := upload(t, srv.url, files, "taken_at", ocrtest.At.Format(time.RFC3339))
	require.Equal(t, http.StatusAccepted, status, string(answer))
	var acc struct {
		Images []struct{ File, EnvelopeID, SHA256 string }
	}
	require.NoError(t, json.Unmarshal(answer, &acc))
	require.Len(t, acc.Images, 2)
	// The second screenshot forwarded once more.
	status, answer = upload(t, srv.url, map[string][]byte{"again.png": files["shot-2.png"]}, "taken_at", ocrtest.At.Format(time.RFC3339))
	require.Equal(t, http.StatusAccepted, status, string(answer))

	by := waitTickets(t, srv.url, 3)
	// Counted once the three screenshots are read and every draft they made is taken.
	require.Eventually(t, func() bool {
		read := metricValue(srv.url, `gongdan_pipeline_handler_execution_time_seconds_count{handler_name="normalize.groups",success="true"}`)
		drafts := metricValue(srv.url, `gongdan_pipeline_drafts_total{connector="groups"}`)
		taken := metricValue(srv.url, `gongdan_pipeline_drafts_taken_total`)
		return read == 3 && drafts > 0 && taken == drafts
	}, 90*time.Second, 100*time.Millisecond, "%s", pipelineMetrics(srv.url))
	tks, err := listTickets(srv.url, ocrAdmin)
	require.NoError(t, err)
	names := []string{}
	by = map[string]ticket.Ticket{} // as they are now that every draft is taken, not at the third ticket
	for _, tk := range tks {
		names = append(names, tk.Customer.Name)
		by[tk.Customer.Name] = tk
	}
	sort.Strings(names)
	assert.Equal(t, []string{"吴经理", "周工", "孙主管"}, names, "one ticket per request, however often it was seen")

	zhou := by["周工"]
	assert.Equal(t, "注塑机3号线液压站漏油了，地上一滩油", zhou.Title)
	assert.Equal(t, "13700002222", zhou.Customer.Phone, "the phone number came a message later")
	require.NotEmpty(t, zhou.Attachments)
	assert.Equal(t, "image", zhou.Attachments[0].Kind)
	require.NotEmpty(t, zhou.Sources)
	assert.Contains(t, zhou.Sources[0].Evidence[0].Text, "周工")
	assert.Regexp(t, `\(\d+,\d+\)-\(\d+,\d+\)`, zhou.Sources[0].Evidence[0].Text, "the evidence names the message's box")
	sun := by["孙主管"]
	assert.Equal(t, "SN-KS2-0093", sun.Device.ID)
	wu := by["吴经理"]
	assert.Equal(t, "昆山市开发区前进东路88号", wu.Location.Address)

	// The screenshot is served back to staff.
	st, img, err := call("GET", srv.url+"/api/v1/attachments/"+zhou.Attachments[0].SHA256, ocrAdmin, "")
	require.NoError(t, err)
	require.Equal(t, 200, st)
	assert.Equal(t, files["shot-1.png"], img)
}

// A light-mode screenshot's customer request with its follow-ups makes one ticket with the
// phone number, address and device serial exact.
func TestScreenshotFieldsAreExtracted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and OCRs screenshots")
	}
	srv := startOCRServer(t, filepath.Join(t.TempDir(), "inbox"))
	shot := renderChatFile(t, "light")[0]
	b, err := os.ReadFile(shot.Path)
	require.NoError(t, err)
	status, answer := upload(t, srv.url, map[string][]byte{"light.png": b}, "taken_at", ocrtest.At.Format(time.RFC3339))
	require.Equal(t, http.StatusAccepted, status, string(answer))
	zhang := waitTickets(t, srv.url, 1)["张三"]
	require.NotEmpty(t, zhang.ID, "张三's request makes a ticket")
	assert.Equal(t, "13812345678", zhang.Customer.Phone)
	assert.Equal(t, "苏州工业园区星湖街328号", zhang.Location.Address)
	assert.Equal(t, "SN-A2024-00731", zhang.Device.ID)
	assert.Equal(t, "华东仓设备维修群", strings.Split(strings.SplitN(zhang.Description, "「", 2)[1], "」")[0], "the group is the title bar's")
	want, _ := time.Parse(time.RFC3339, "2026-01-07T09:42:00+08:00")
	assert.True(t, zhang.Sources[0].OccurredAt.Truncate(time.Minute).Equal(want), "the time separator above the message: %v", zhang.Sources[0].OccurredAt)
}

// Bad input: a file that is not an image is refused at the edge with a clear problem, nothing
// of its upload is taken, and the file is kept as a dead letter with the reason; a PNG whose
// pixels are corrupt passes the header check, and the pipeline puts it in the dead letters
// with the reason; a folder's bad file goes to failed/ with the reason beside it (and to the
// dead letters), a good one to done/.
func TestBadScreenshots(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	inbox := filepath.Join(t.TempDir(), "inbox")
	srv := startOCRServer(t, inbox)
	good, err := os.ReadFile(renderChatFile(t, "dark")[0].Path)
	require.NoError(t, err)

	status, answer := upload(t, srv.url, map[string][]byte{"a.png": good, "notes.png": []byte("these are not pixels")})
	assert.Equal(t, http.StatusUnsupportedMediaType, status)
	assert.Contains(t, string(answer), "notes.png: not a PNG or JPEG image")
	require.Eventually(t, func() bool {
		st, b, err := call("GET", srv.url+"/api/v1/deadletters", ocrAdmin, "")
		return err == nil && st == 200 && strings.Contains(string(b), "notes.png") && strings.Contains(string(b), "not a PNG or JPEG image")
	}, 60*time.Second, 100*time.Millisecond, "the refused file is kept as a dead letter with the reason")

	corrupt := append([]byte(nil), good[:len(good)/2]...) // the header, then the end is missing
	status, answer = upload(t, srv.url, map[string][]byte{"half.png": corrupt})
	require.Equal(t, http.StatusAccepted, status, string(answer))
	require.Eventually(t, func() bool {
		st, b, err := call("GET", srv.url+"/api/v1/deadletters", ocrAdmin, "")
		return err == nil && st == 200 && strings.Contains(string(b), "half.png") && strings.Contains(string(b), "corrupt")
	}, 60*time.Second, 100*time.Millisecond, "the corrupt PNG is a dead letter with its reason")

	require.NoError(t, os.WriteFile(filepath.Join(inbox, "chat.png"), good, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(inbox, "report.png"), []byte("%PDF-1.7 not a screenshot"), 0o600))
	old := time.Now().Add(-time.Minute) // settled: not being written any more
	for _, f := range []string{"chat.png", "report.png"} {
		require.NoError(t, os.Chtimes(filepath.Join(inbox, f), old, old))
	}
	require.Eventually(t, func() bool {
		_, e1 := os.Stat(filepath.Join(inbox, "done", "chat.png"))
		_, e2 := os.Stat(filepath.Join(inbox, "failed", "report.png"))
		return e1 == nil && e2 == nil
	}, 30*time.Second, 50*time.Millisecond)
	why, err := os.ReadFile(filepath.Join(inbox, "failed", "report.png.error.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(why), "not a PNG or JPEG image")
	require.Eventually(t, func() bool {
		st, b, err := call("GET", srv.url+"/api/v1/deadletters", ocrAdmin, "")
		return err == nil && st == 200 && strings.Contains(string(b), "report.png")
	}, 60*time.Second, 100*time.Millisecond, "the folder's refused file is a dead letter too")
	by := waitTickets(t, srv.url, 1)
	assert.Contains(t, by, "王五", "the folder's screenshot made 王五's ticket: %v", fmt.Sprint(by))
}

// metricValue is the value of one series on /metrics, -1 when it is not there.
func metricValue(base, series string) float64 {
	_, b, err := call("GET", base+"/metrics", "", "")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}

// pipelineMetrics is the pipeline's lines of /metrics, for failure messages.
func pipelineMetrics(base string) string {
	_, b, _ := call("GET", base+"/metrics", "", "")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "gongdan_pipeline") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// gongdan ocr prints what a screenshot reads as — its messages and the drafts they make — for
// an ops team to check before going live; a file that is not a screenshot is reported, and
// the exit status says so.
func TestOCRCommandPrintsMessagesAndDrafts(t *testing.T) {
	if testing.Short() {
		t.Skip("OCRs a screenshot")
	}
	shot := renderChatFile(t, "light")[0]
	junk := filepath.Join(t.TempDir(), "notes.png")
	require.NoError(t, os.WriteFile(junk, []byte("not a picture"), 0o600))

	code, stdout, stderr := runCLI(t, "ocr", "--taken-at", ocrtest.At.Format(time.RFC3339), shot.Path)
	require.Equal(t, 0, code, stderr)
	var reps []struct {
		File     string
		Title    string
		Messages []struct {
			Sender, Side, Text string
			Box                [4]int
		}
		Drafts []struct {
			Intent   string
			Title    string
			Customer struct{ Name, Phone string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &reps), stdout)
	require.Len(t, reps, 1)
	assert.Equal(t, "华东仓设备维修群", reps[0].Title)
	require.Len(t, reps[0].Messages, len(shot.Messages))
	assert.Equal(t, "张三", reps[0].Messages[2].Sender)
	assert.Less(t, reps[0].Messages[2].Box[0], reps[0].Messages[2].Box[2])
	var phones []string
	for _, d := range reps[0].Drafts {
		if d.Customer.Name == "张三" && d.Customer.Phone != "" {
			phones = append(phones, d.Customer.Phone)
		}
	}
	assert.Equal(t, []string{"13812345678"}, phones, "the normalize extractors ran on the drafts")

	code, stdout, _ = runCLI(t, "ocr", junk)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "not a PNG or JPEG image")
}

// A WeChat account's screenshots_to must name an ocr connector: validate says where it does not.
func TestValidateChecksScreenshotsTo(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GONGDAN_TEST_WX_TOKEN", "spamtest")
	t.Setenv("GONGDAN_TEST_WX_AES_KEY", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
	write := func(extra string) string {
		path := filepath.Join(dir, "gongdan.yaml")
		cfg := configText("127.0.0.1:0") + `  - name: gzh
    type: wechat.officialaccount
    app_id: wx2c2769f8efd9abc2
    token: "${GONGDAN_TEST_WX_TOKEN}"
    encoding_aes_key: "${GONGDAN_TEST_WX_AES_KEY}"
    screenshots_to: groups
` + extra
		require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
		return path
	}
	code, _, stderr := runCLI(t, "validate", "--config", write(""))
	assert.Equal(t, 1, code)
	assert.Regexp(t, `gongdan.yaml:\d+: connectors\[\d\]\.screenshots_to: no ocr connector named "groups" \(there is none\)`, stderr)

	code, stdout, stderr := runCLI(t, "validate", "--config", write("  - {name: groups, type: ocr}\n"))
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "ok")
}

// Two overlapping screenshots of one conversation, drawn by the second, independent renderer
// (wxshot: Chromium, WeChat's real metrics, photo avatars, the first request cut off at the
// top of the second picture), dropped into the watched folder of a server started from
// another directory, make exactly one ticket per request, with the phone, address and serial
// exact.
func TestRealisticOverlappingScreenshotsInTheWatchedFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("renders screenshots in Chromium, starts a server and OCRs them")
	}
	if _, err := os.Stat(wxshot.ChromiumPath); err != nil {
		t.Skipf("%s is missing: make deps installs it", wxshot.ChromiumPath)
	}
	pair := wxshot.OverlapPair(wxshot.DefaultSeed)
	shots, err := wxshot.Cached(t.Context(), pair[:])
	require.NoError(t, err)
	require.Len(t, shots, 2)

	for _, order := range [][]int{{0, 1}, {1, 0}} {
		t.Run(fmt.Sprint("read in order ", order), func(t *testing.T) { overlappingScreenshots(t, pair, shots, order) })
	}
}

// overlappingScreenshots puts the two screenshots of pair in a watched folder, one after the
// other in order, and checks that each request made one ticket.
func overlappingScreenshots(t *testing.T, pair [2]wxshot.Spec, shots []wxshot.Shot, order []int) {
	// The group's staff member, as ops would list them; the fault words a facilities team adds
	// to the default keywords; the serial forms of its devices.
	keys := `    watch_dir: inbox/screenshots
    poll_interval: 200ms
    staff: [` + strconv.Quote(pair[0].Members[2].Name) + `]
    keywords: [报修, 坏了, 故障, 失灵, 不能用, 维修, 漏水, 停机, 报警, 不制冷, 跳闸, 关不上, 降不下来, 上不去, 没反应, 黑屏, 充不进, 异响, 不出热水, 不转]
`
	patterns := make([]string, len(wxshot.SerialPatterns))
	for i, p := range wxshot.SerialPatterns {
		patterns[i] = strconv.Quote(p)
	}
	wd, data := t.TempDir(), t.TempDir()
	srv := startOCRServerWith(t, wd, data, keys, "normalize:\n  device_patterns: ["+strings.Join(patterns, ", ")+"]\n")
	inbox := filepath.Join(data, "inbox", "screenshots")
	for n, i := range order {
		s := shots[i]
		if n > 0 {
			// The one before wholly read and its drafts taken first (the first screenshot
			// shows both requests whole, the second only the second): the order they are read
			// in makes no difference.
			waitTickets(t, srv.url, 2-order[0])
			require.Eventually(t, func() bool {
				drafts := metricValue(srv.url, `gongdan_pipeline_drafts_total{connector="groups"}`)
				return drafts > 0 && metricValue(srv.url, `gongdan_pipeline_drafts_taken_total`) == drafts
			}, 90*time.Second, 50*time.Millisecond, "%s", pipelineMetrics(srv.url))
		}
		b, err := os.ReadFile(s.Path)
		require.NoError(t, err)
		tmp := filepath.Join(data, filepath.Base(s.Path)+".part")
		require.NoError(t, os.WriteFile(tmp, b, 0o600))
		require.NoError(t, os.Chtimes(tmp, s.At, s.At))
		require.NoError(t, os.Rename(tmp, filepath.Join(inbox, filepath.Base(s.Path))))
	}

	// The requests, as the conversation has them.
	type request struct{ sender, phone, serial, address string }
	var want []request
	for _, m := range pair[0].Messages {
		if len(m.Phones) > 0 {
			want = append(want, request{pair[0].Members[m.From].Name, m.Phones[0], m.Serials[0], m.Address})
		}
	}
	require.Len(t, want, 2)
	require.True(t, shots[1].Messages[0].CutTop, "the second screenshot cuts its first message off at the top")
	waitTickets(t, srv.url, len(want))
	// Counted once both screenshots are read and every draft they made is taken: a second
	// screenshot that made a ticket again, or made nothing, shows after this.
	require.Eventually(t, func() bool {
		read := metricValue(srv.url, `gongdan_pipeline_handler_execution_time_seconds_count{handler_name="normalize.groups",success="true"}`)
		drafts := metricValue(srv.url, `gongdan_pipeline_drafts_total{connector="groups"}`)
		taken := metricValue(srv.url, `gongdan_pipeline_drafts_taken_total`)
		return read == 2 && drafts > 0 && taken == drafts
	}, 90*time.Second, 100*time.Millisecond, "%s", pipelineMetrics(srv.url))
	done, err := os.ReadDir(filepath.Join(inbox, "done"))
	require.NoError(t, err)
	assert.Len(t, done, 2, "both screenshots are moved to done/")
	st, dl, err := call("GET", srv.url+"/api/v1/deadletters", ocrAdmin, "")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st)
	assert.NotContains(t, string(dl), "overlap-", "no screenshot is a dead letter")
	entries, err := os.ReadDir(wd)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is made in the directory the server was started in")
	tks, err := listTickets(srv.url, ocrAdmin)
	require.NoError(t, err)
	var got []request
	var how []string // what made each ticket, for a failure to show
	for _, tk := range tks {
		got = append(got, request{tk.Customer.Name, tk.Customer.Phone, tk.Device.ID, tk.Location.Address})
		for _, src := range tk.Sources {
			how = append(how, fmt.Sprintf("%s %s: %s dedup=%s thread=%s intent=%s at=%s title=%q", tk.ID, tk.State, src.Source.ExternalID,
				src.DedupKey, src.ThreadKey, src.Intent, src.OccurredAt.Format(time.RFC3339Nano), src.Title))
		}
	}
	assert.ElementsMatch(t, want, got, "one ticket per request, with its sender, phone, serial and address:\n%s", strings.Join(how, "\n"))
}
