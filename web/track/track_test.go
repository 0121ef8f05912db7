package track_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/attachments"
	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit"
	"gongdan/internal/testkit/enginekit"
	"gongdan/web/track"
)

var (
	disp = ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}
	eng  = ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	sup  = ticket.Actor{ID: "sup-wang", Role: ticket.RoleSupervisor}
)

type site struct {
	engine *engine.Engine
	store  store.Store
	clock  *testkit.Clock
	srv    *httptest.Server
	files  string
}

func newSite(t *testing.T) *site {
	key, err := engine.NewTrackingKey()
	require.NoError(t, err)
	s := &site{clock: testkit.NewClock(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)), files: t.TempDir()}
	st := enginekit.OpenStore(t, t.TempDir()+"/gongdan.db")
	s.store = st
	s.engine = enginekit.Start(t, engine.Options{Store: st, Now: s.clock.Now, Closure: &engine.ClosureOptions{Key: key,
		TTL: 30 * 24 * time.Hour, Remind: []time.Duration{24 * time.Hour}, ConfirmTimeout: 72 * time.Hour, FollowupAfter: 48 * time.Hour}})
	h, err := track.New(track.Options{Engine: s.engine, Store: st, Attachments: attachments.New(s.files), Key: key,
		MaxPhotos: 2, MaxPhotoBytes: 64 << 10, MissesPerMinute: 5,
		Engineer: func(id string) (string, string) {
			if id == "eng-li" {
				return "李工", "13800000001"
			}
			return "", ""
		}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	for _, rt := range h.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *site) create(t *testing.T, title string) (ticket.Ticket, string) {
	tk, _, err := s.engine.Create(context.Background(), engine.CreateRequest{Actor: ticket.SystemActor, Draft: draft.Draft{
		Title: title, Description: title + "，请尽快处理", Urgency: draft.UrgencyYellow,
		Customer: draft.Customer{Name: "王建国", Phone: "13812345678"}}})
	require.NoError(t, err)
	token, err := s.engine.TrackingToken(context.Background(), tk.ID)
	require.NoError(t, err)
	return tk, token
}

func (s *site) do(t *testing.T, id string, a ticket.Action, actor ticket.Actor, reason, data string) ticket.Ticket {
	t.Helper()
	cmd := ticket.Command{TicketID: id, Action: a, Actor: actor, Reason: reason}
	if data != "" {
		cmd.Data = json.RawMessage(data)
	}
	tk, err := s.engine.Do(context.Background(), cmd)
	require.NoError(t, err)
	return tk
}

// resolve has eng-li take ticket id and resolve it with root cause cause.
func (s *site) resolve(t *testing.T, id, cause string) {
	t.Helper()
	s.do(t, id, ticket.ActionAssign, disp, "", `{"assignee":"eng-li"}`)
	s.do(t, id, ticket.ActionAccept, eng, "", "")
	s.do(t, id, ticket.ActionStart, eng, "", "")
	s.do(t, id, ticket.ActionResolve, eng, "", `{"root_cause":"`+cause+`"}`)
}

func (s *site) ticket(t *testing.T, id string) ticket.Ticket {
	tk, err := s.store.Ticket(context.Background(), id)
	require.NoError(t, err)
	return tk
}

// get fetches a page; lang sets Accept-Language.
func (s *site) get(t *testing.T, path, lang string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var nonceRe = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

var fixRe = regexp.MustCompile(`name="fix" value="([0-9a-z]+)"`)

// fixIn is the fix the confirm form answers.
func fixIn(t *testing.T, html string) string {
	m := fixRe.FindStringSubmatch(html)
	require.NotNil(t, m, "the confirm form names the fix it shows")
	return m[1]
}

func nonceIn(t *testing.T, html string) string {
	m := nonceRe.FindStringSubmatch(html)
	require.NotNil(t, m, "the page has a form")
	return m[1]
}

// post sends a form without following the redirect.
func (s *site) post(t *testing.T, path string, form url.Values) (int, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(s.srv.URL+path, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func TestThePageShowsEachStateToItsCustomer(t *testing.T) {
	s := newSite(t)
	tk, token := s.create(t, "三号线贴标机不出标")
	code, html, hdr := s.get(t, "/t/"+token, "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, html, "三号线贴标机不出标")
	assert.Contains(t, html, tk.ID)
	assert.Contains(t, html, `<strong id="current-step">已受理</strong>`)
	assert.Contains(t, html, "待分派")
	assert.NotContains(t, html, `id="confirm"`, "nothing to confirm yet")
	assert.Contains(t, html, `id="urge-submit"`)
	assert.Equal(t, "no-referrer", hdr.Get("Referrer-Policy"))
	assert.Contains(t, hdr.Get("X-Robots-Tag"), "noindex")
	assert.Contains(t, hdr.Get("Content-Security-Policy"), "default-src 'none'")
	assert.NotContains(t, html, "<script", "no script at all")
	assert.NotContains(t, html, "13812345678", "the customer's own number is not on a page anyone with the link sees")

	s.do(t, tk.ID, ticket.ActionAssign, disp, "", `{"assignee":"eng-li"}`)
	s.do(t, tk.ID, ticket.ActionDecline, eng, "", `{"reason_code":"too_far","text":"内部：太远了不想去"}`)
	s.do(t, tk.ID, ticket.ActionAssign, disp, "", `{"assignee":"eng-li"}`)
	s.do(t, tk.ID, ticket.ActionAccept, eng, "", "")
	s.do(t, tk.ID, ticket.ActionStart, eng, "", "")
	s.do(t, tk.ID, ticket.ActionRequestParts, eng, "内部：仓库没货，催采购", `{"for_customer":"等待标签头备件，预计明天到"}`)
	_, html, _ = s.get(t, "/t/"+token, "")
	assert.Contains(t, html, `<strong id="current-step">处理中</strong>`)
	assert.Contains(t, html, `<span id="sub-state">等待备件</span>`)
	assert.Contains(t, html, "等待标签头备件，预计明天到", "the reason given for customers")
	assert.NotContains(t, html, "仓库没货", "the internal reason stays inside")
	assert.NotContains(t, html, "太远了", "declines are staff's")
	assert.Contains(t, html, "李工")
	assert.Contains(t, html, "138****0001", "the engineer's phone, masked")
	assert.NotContains(t, html, "13800000001")

	s.do(t, tk.ID, ticket.ActionPartsArrived, eng, "", "")
	s.do(t, tk.ID, ticket.ActionResolve, eng, "", `{"root_cause":"标签头磨损"}`)
	_, html, _ = s.get(t, "/t/"+token, "")
	assert.Contains(t, html, `<strong id="current-step">待确认</strong>`)
	assert.Contains(t, html, `id="confirm"`)
	assert.Contains(t, html, `name="timeliness" value="5"`)
	assert.NotContains(t, html, `id="urge-submit"`, "nothing to hurry once fixed")

	_, html, _ = s.get(t, "/t/"+token, "en-US,en;q=0.9")
	assert.Contains(t, html, "Please confirm the repair", "English for an English browser")
	_, html, _ = s.get(t, "/t/"+token+"?lang=en", "zh-CN")
	assert.Contains(t, html, "Please confirm the repair", "and by the toggle")
}

func TestConfirmingByThePage(t *testing.T) {
	s := newSite(t)
	tk, token := s.create(t, "空压机异响")
	s.resolve(t, tk.ID, "轴承缺油")
	_, html, _ := s.get(t, "/t/"+token, "")
	nonce := nonceIn(t, html)
	form := url.Values{"solved": {"yes"}, "timeliness": {"5"}, "professionalism": {"4"}, "comment": {"师傅很专业"}}

	code, _ := s.post(t, "/t/"+token+"/confirm", form)
	assert.Equal(t, http.StatusForbidden, code, "without its nonce")
	assert.Equal(t, ticket.StateResolved, s.ticket(t, tk.ID).State)

	form.Set("nonce", nonce)
	code, loc := s.post(t, "/t/"+token+"/confirm", form)
	require.Equal(t, "/t/"+token+"?done=stale", loc, "nor without the fix it showed")
	_, html, _ = s.get(t, "/t/"+token, "")
	form.Set("nonce", nonceIn(t, html))
	form.Set("fix", fixIn(t, html))
	code, loc = s.post(t, "/t/"+token+"/confirm", form)
	require.Equal(t, http.StatusSeeOther, code)
	assert.Equal(t, "/t/"+token+"?done=confirm", loc)
	got := s.ticket(t, tk.ID)
	assert.Equal(t, ticket.StateCustomerConfirmed, got.State)
	require.NotNil(t, got.Feedback)
	assert.Equal(t, 5, got.Feedback.Timeliness)
	assert.False(t, got.Feedback.Auto)
	assert.Equal(t, "eng-li", got.Feedback.Engineer)

	code, _ = s.post(t, "/t/"+token+"/confirm", form)
	assert.Equal(t, http.StatusForbidden, code, "a replay of the same form")
	evs, _ := s.store.Events(context.Background(), tk.ID)
	n := 0
	for _, ev := range evs {
		if ev.Action == ticket.ActionConfirm {
			n++
		}
	}
	assert.Equal(t, 1, n, "confirmed once")

	_, html, _ = s.get(t, "/t/"+token+"?done=confirm", "")
	assert.Contains(t, html, "感谢您的评价")
	s.do(t, tk.ID, ticket.ActionClose, sup, "", "")
	_, html, _ = s.get(t, "/t/"+token, "")
	assert.Contains(t, html, `<strong id="current-step">已关闭</strong>`)
}

func TestADisputeGoesBackToWork(t *testing.T) {
	s := newSite(t)
	tk, token := s.create(t, "冷库温度高")
	s.resolve(t, tk.ID, "加氟")
	_, html, _ := s.get(t, "/t/"+token, "")
	code, _ := s.post(t, "/t/"+token+"/confirm", url.Values{"nonce": {nonceIn(t, html)}, "fix": {fixIn(t, html)}, "solved": {"no"}, "timeliness": {"2"}, "professionalism": {"3"}, "comment": {"温度还是降不下来"}})
	require.Equal(t, http.StatusSeeOther, code)
	got := s.ticket(t, tk.ID)
	assert.Equal(t, ticket.StateInProgress, got.State)
	assert.Equal(t, "温度还是降不下来", got.Feedback.Comment)
	_, html, _ = s.get(t, "/t/"+token+"?done=confirm", "")
	assert.Contains(t, html, "我们会继续处理")

	// A second tab still shows the first fix: after the engineer resolves again, its form
	// does not confirm the new fix the customer never saw.
	_, first, _ := s.get(t, "/t/"+token, "") // in progress: no form yet
	assert.NotContains(t, first, `name="fix"`)
	s.do(t, tk.ID, ticket.ActionResolve, eng, "", `{"root_cause":"换压缩机"}`)
	_, second, _ := s.get(t, "/t/"+token, "")
	fixed := fixIn(t, second)
	stale := url.Values{"nonce": {nonceIn(t, html)}, "fix": {fixed + "0"}, "solved": {"yes"}, "timeliness": {"5"}, "professionalism": {"5"}}
	_, loc := s.post(t, "/t/"+token+"/confirm", stale)
	assert.Contains(t, loc, "done=stale")
	assert.Equal(t, ticket.StateResolved, s.ticket(t, tk.ID).State)
}

func TestATokenReadsOneTicketOnly(t *testing.T) {
	s := newSite(t)
	a, ta := s.create(t, "甲公司的电梯")
	_, tb := s.create(t, "乙公司的门禁")
	_, html, _ := s.get(t, "/t/"+ta, "")
	assert.Contains(t, html, "甲公司的电梯")
	assert.NotContains(t, html, "乙公司")

	// b's nonce does not work on a's link, nor a's form under b's token.
	_, hb, _ := s.get(t, "/t/"+tb, "")
	code, _ := s.post(t, "/t/"+ta+"/urge", url.Values{"nonce": {nonceIn(t, hb)}})
	assert.Equal(t, http.StatusForbidden, code)
	assert.Zero(t, s.ticket(t, a.ID).Urges)

	for _, guess := range []string{a.ID, ta[:len(ta)-1] + "A", strings.ToUpper(ta), "x"} {
		code, body, _ := s.get(t, "/t/"+url.PathEscape(guess), "")
		assert.Equal(t, http.StatusNotFound, code, guess)
		assert.NotContains(t, body, "甲公司")
	}
	// Five misses is all this client gets; then even a real token waits.
	code, _, _ = s.get(t, "/t/nope", "")
	assert.Equal(t, http.StatusNotFound, code)
	code, _, hdr := s.get(t, "/t/"+ta, "")
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.Equal(t, "60", hdr.Get("Retry-After"))
}

func TestALinkExpiresAfterTheClose(t *testing.T) {
	s := newSite(t)
	tk, token := s.create(t, "打印机卡纸")
	_, html, _ := s.get(t, "/t/"+token, "")
	nonce := nonceIn(t, html)
	s.do(t, tk.ID, ticket.ActionForceClose, sup, "重复报修", "")
	s.clock.Advance(31 * 24 * time.Hour)
	code, _, _ := s.get(t, "/t/"+token, "")
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = s.post(t, "/t/"+token+"/note", url.Values{"nonce": {nonce}, "text": {"还在吗"}})
	assert.Equal(t, http.StatusNotFound, code, "a POST after expiry")
}

func TestUrgingOnceAnHour(t *testing.T) {
	s := newSite(t)
	tk, token := s.create(t, "网络中断")
	urge := func() string {
		_, html, _ := s.get(t, "/t/"+token, "")
		m := nonceRe.FindStringSubmatch(html)
		require.NotNil(t, m)
		_, loc := s.post(t, "/t/"+token+"/urge", url.Values{"nonce": {m[1]}})
		return loc
	}
	assert.Contains(t, urge(), "done=urge")
	assert.Equal(t, 1, s.ticket(t, tk.ID).Urges)
	_, html, _ := s.get(t, "/t/"+token, "")
	assert.Contains(t, html, `id="urged"`, "the button is gone for the hour")
	assert.NotContains(t, html, `id="urge-submit"`)
	s.clock.Advance(61 * time.Minute)
	assert.Contains(t, urge(), "done=urge")
	assert.Equal(t, 2, s.ticket(t, tk.ID).Urges)
}

func pngBytes(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// note posts a multipart note with files (name → content); nonceFirst false puts the
// nonce after the files.
func (s *site) note(t *testing.T, token, nonce, text string, files map[string][]byte, nonceFirst bool) (int, string) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if nonceFirst {
		require.NoError(t, w.WriteField("nonce", nonce))
	}
	require.NoError(t, w.WriteField("text", text))
	for _, name := range slices.Sorted(maps.Keys(files)) { // in name order
		fw, err := w.CreateFormFile("photo", name)
		require.NoError(t, err)
		_, _ = fw.Write(files[name])
	}
	if !nonceFirst {
		require.NoError(t, w.WriteField("nonce", nonce))
	}
	require.NoError(t, w.Close())
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Post(s.srv.URL+"/t/"+token+"/note", w.FormDataContentType(), &body)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func TestPhotosAreImagesWithinTheLimit(t *testing.T) {
	s := newSite(t)
	tk, token := s.create(t, "漏水")
	fresh := func() string {
		_, html, _ := s.get(t, "/t/"+token, "")
		return nonceIn(t, html)
	}
	code, loc := s.note(t, token, fresh(), "看图", map[string][]byte{"a.png": pngBytes(t)}, true)
	require.Equal(t, http.StatusSeeOther, code)
	assert.Contains(t, loc, "done=note")
	got := s.ticket(t, tk.ID)
	require.Len(t, got.Attachments, 1)
	assert.True(t, strings.HasPrefix(got.Attachments[0].URI, "attachment:"))

	_, loc = s.note(t, token, fresh(), "", map[string][]byte{"evil.png": []byte("<html><script>alert(1)</script></html>")}, true)
	assert.Contains(t, loc, "bad_photo", "not an image")
	big := append(pngBytes(t), bytes.Repeat([]byte{0}, 70<<10)...)
	_, loc = s.note(t, token, fresh(), "", map[string][]byte{"big.png": big}, true)
	assert.Contains(t, loc, "bad_photo", "over the limit")
	code, _ = s.note(t, token, fresh(), "", map[string][]byte{"a.png": pngBytes(t)}, false)
	assert.Equal(t, http.StatusForbidden, code, "a photo before the nonce is not kept")
	assert.Len(t, s.ticket(t, tk.ID).Attachments, 1, "nothing more was added")

	// A good photo beside a bad one: the note is refused whole, and no file stays behind.
	kept := files(t, s.files)
	other := pngBytes(t)
	other = append(other[:len(other):len(other)], 0) // another file, a valid PNG still
	_, loc = s.note(t, token, fresh(), "", map[string][]byte{"1-good.png": other, "2-bad.txt": []byte("just text, not a picture")}, true)
	assert.Contains(t, loc, "bad_photo")
	assert.Equal(t, kept, files(t, s.files), "nothing kept of a refused note")

	// Closed: the page's old form is refused before its photos are read.
	nonce := fresh()
	s.do(t, tk.ID, ticket.ActionForceClose, sup, "客户撤单", "")
	_, loc = s.note(t, token, nonce, "", map[string][]byte{"late.png": other}, true)
	assert.Contains(t, loc, "done=stale")
	assert.Equal(t, kept, files(t, s.files))
}

// files counts the files under dir.
func files(t *testing.T, dir string) int {
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	}))
	return n
}

func TestTheFollowupOnThePage(t *testing.T) {
	s := newSite(t)
	tk, token := s.create(t, "门锁打不开")
	s.resolve(t, tk.ID, "电池没电")
	s.do(t, tk.ID, ticket.ActionConfirm, ticket.TrackingActor(tk.ID), "", `{"solved":true,"timeliness":5,"professionalism":5}`)
	s.do(t, tk.ID, ticket.ActionClose, sup, "", "")
	_, html, _ := s.get(t, "/t/"+token, "")
	assert.NotContains(t, html, `id="followup"`, "not asked yet")
	s.clock.Advance(49 * time.Hour)
	require.Eventually(t, func() bool { return s.ticket(t, tk.ID).Followup != nil }, 20*time.Second, 50*time.Millisecond,
		"the engine's timer loop asks the follow-up")
	_, html, _ = s.get(t, "/t/"+token, "")
	require.Contains(t, html, `id="followup"`)
	code, _ := s.post(t, "/t/"+token+"/followup", url.Values{"nonce": {nonceIn(t, html)}, "recurred": {"yes"}, "text": {"又打不开了"}})
	require.Equal(t, http.StatusSeeOther, code)
	got := s.ticket(t, tk.ID)
	require.NotNil(t, got.Followup)
	require.NotEmpty(t, got.Followup.Repeat)
	assert.Equal(t, tk.ID, s.ticket(t, got.Followup.Repeat).RepeatOf)
	_, html, _ = s.get(t, "/t/"+token, "")
	assert.Contains(t, html, got.Followup.Repeat, "the page names the new ticket")
	assert.NotContains(t, html, `id="followup-submit"`)
}

// TestTheStepsShowWhereTheRequestReallyIs: an escalated new ticket is not "assigned"; a
// rejected one stays rejected when archived, and its link lasts from the rejection; a
// confirmed one is not shown closed before it is.
func TestTheStepsShowWhereTheRequestReallyIs(t *testing.T) {
	s := newSite(t)
	esc, tokEsc := s.create(t, "升级的")
	s.do(t, esc.ID, ticket.ActionEscalate, sup, "大客户", "")
	_, html, _ := s.get(t, "/t/"+tokEsc, "")
	assert.Contains(t, html, `<strong id="current-step">已受理</strong>`)
	assert.Contains(t, html, `<span id="sub-state">已升级处理</span>`)
	assert.NotContains(t, html, `<li class="done">已派单</li>`)

	rej, tokRej := s.create(t, "驳回的")
	s.do(t, rej.ID, ticket.ActionReject, disp, "重复报修", "")
	s.clock.Advance(20 * 24 * time.Hour)
	s.do(t, rej.ID, ticket.ActionArchive, sup, "", "")
	_, html, _ = s.get(t, "/t/"+tokRej, "")
	assert.Contains(t, html, "该报修已被驳回")
	assert.NotContains(t, html, `class="steps"`, "no steps for a declined request")
	s.clock.Advance(11 * 24 * time.Hour) // 31 days after the rejection, 11 after the archive
	code, _, _ := s.get(t, "/t/"+tokRej, "")
	assert.Equal(t, http.StatusNotFound, code, "the ttl runs from the rejection")

	ok, tokOK := s.create(t, "确认的")
	s.resolve(t, ok.ID, "x")
	s.do(t, ok.ID, ticket.ActionConfirm, ticket.TrackingActor(ok.ID), "", `{"solved":true,"timeliness":5,"professionalism":5}`)
	_, html, _ = s.get(t, "/t/"+tokOK, "")
	assert.Contains(t, html, `<strong id="current-step">已确认，待关闭</strong>`)
	assert.Contains(t, html, `<li class="">已关闭</li>`, "not closed yet")
}

// TestWithoutAPolicyThePagePromisesWhatSimilarRequestsTook: no SLA policy sets a due time, so
// the page says when similar requests (same category) were usually fixed: the median of the
// latest ones, once there are enough to say.
func TestWithoutAPolicyThePagePromisesWhatSimilarRequestsTook(t *testing.T) {
	s := newSite(t)
	took := []time.Duration{2 * time.Hour, 3 * time.Hour, 5 * time.Hour, 7 * time.Hour, 30 * time.Hour}
	mk := func(title string) (ticket.Ticket, string) {
		tk, _, err := s.engine.Create(context.Background(), engine.CreateRequest{Actor: ticket.SystemActor, Draft: draft.Draft{
			Title: title, Category: "门禁故障", Urgency: draft.UrgencyYellow}})
		require.NoError(t, err)
		tok, err := s.engine.TrackingToken(context.Background(), tk.ID)
		require.NoError(t, err)
		return tk, tok
	}
	waiting, tok := mk("等待中")
	for i, d := range took[:4] {
		tk, _ := mk(fmt.Sprint("已修好 ", i))
		s.clock.Advance(d)
		s.resolve(t, tk.ID, "换读卡器")
	}
	_, html, _ := s.get(t, "/t/"+tok, "")
	assert.NotContains(t, html, `id="promised"`, "four are too few to promise on")

	tk, _ := mk("第五张")
	s.clock.Advance(took[4])
	s.resolve(t, tk.ID, "换读卡器")
	_, html, _ = s.get(t, "/t/"+tok, "")
	// Median of 2, 3, 5, 7, 30 hours: 5 hours after the waiting ticket was created.
	want := waiting.CreatedAt.Add(5 * time.Hour).In(s.engine.Location()).Format("2006-01-02 15:04")
	assert.Contains(t, html, `<dd id="promised">`+want)
	assert.Contains(t, html, "按同类工单的通常用时")
}

// TestAReminderDoesNotStaleTheForm: between showing the page and sending it, the ticket gets
// events that change nothing the customer answers (a delivery record of the reminder, a note
// from another tab): the confirmation still goes through.
func TestAReminderDoesNotStaleTheForm(t *testing.T) {
	s := newSite(t)
	tk, token := s.create(t, "水泵漏水")
	s.resolve(t, tk.ID, "换密封圈")
	_, html, _ := s.get(t, "/t/"+token, "")
	require.NoError(t, s.engine.RecordDelivery(context.Background(), tk.ID, ticket.DeliveryData{Key: "9/sms", Kind: "resolved", Channel: "sms", OK: true, Attempt: 1}))
	_, err := s.engine.CustomerNote(context.Background(), tk.ID, ticket.CustomerNoteData{Text: "另一个标签页补充的"})
	require.NoError(t, err)
	s.clock.Advance(time.Hour)
	_, loc := s.post(t, "/t/"+token+"/confirm", url.Values{"nonce": {nonceIn(t, html)}, "fix": {fixIn(t, html)}, "solved": {"yes"}, "timeliness": {"4"}, "professionalism": {"4"}})
	assert.Contains(t, loc, "done=confirm")
	assert.Equal(t, ticket.StateCustomerConfirmed, s.ticket(t, tk.ID).State)
}
