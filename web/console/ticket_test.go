package console_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/attachments"
	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/internal/testkit/enginekit"
	"gongdan/web/console"
)

// withPhotos gives the console (and the API) an attachment store.
func withPhotos(t testing.TB, store **attachments.Store, edit ...func(*console.Options)) siteOption {
	return func(co *console.Options, _ *engine.Options) {
		*store = attachments.New(t.TempDir())
		co.Attachments = *store
		for _, e := range edit {
			e(co)
		}
	}
}

// do runs cmd on the engine as actor (the test's own moves, not the console's).
func (s *site) do(t testing.TB, id string, action ticket.Action, actor ticket.Role, reason string, data string) ticket.Ticket {
	t.Helper()
	cmd := ticket.Command{TicketID: id, Action: action, Actor: people[actor].Actor, Reason: reason}
	if data != "" {
		cmd.Data = []byte(data)
	}
	tk, err := s.Engine.Do(context.Background(), cmd)
	require.NoError(t, err)
	return tk
}

func (s *site) ticket(t testing.TB, id string) ticket.Ticket {
	t.Helper()
	tk, err := s.Store.Ticket(context.Background(), id)
	require.NoError(t, err)
	return tk
}

func (s *site) events(t testing.TB, id string) []ticket.Event {
	t.Helper()
	evs, err := s.Store.Events(context.Background(), id)
	require.NoError(t, err)
	return evs
}

// buttons are the actions a ticket page offers, by the forms it has.
func buttons(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`action="/console/tickets/[^/"]+/actions/([a-z_]+)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// formField is the value of the hidden field name in the form of action.
func formField(t testing.TB, body string, action, name string) string {
	t.Helper()
	i := strings.Index(body, "/actions/"+action+`"`)
	require.GreaterOrEqual(t, i, 0, "no %s form", action)
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(body[i:])
	require.NotNil(t, m, "no %s in the %s form", name, action)
	return m[1]
}

// act posts the form of action from the page as it was rendered, with extra fields.
func (b *browser) act(id string, page page, action string, extra url.Values) page {
	b.t.Helper()
	form := url.Values{
		"expected_version": {formField(b.t, page.body, action, "expected_version")},
		"command_id":       {formField(b.t, page.body, action, "command_id")},
	}
	for k, v := range extra {
		form[k] = v
	}
	return b.post("/console/tickets/"+id+"/actions/"+action, form)
}

func TestTicketPageShowsEachRoleItsActions(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("3 号线急停"))
	require.Equal(t, ticket.StateAssigned, tk.State)
	require.Equal(t, "eng-li", tk.Assignee)
	want := map[ticket.Role][]string{
		ticket.RoleAdmin:      {"assign", "accept", "decline", "force_close", "reject", "escalate"},
		ticket.RoleSupervisor: {"assign", "force_close", "reject", "escalate"},
		ticket.RoleDispatcher: {"assign", "reject"},
		ticket.RoleEngineer:   {"accept", "decline"},
		ticket.RoleAgent:      {"reject"},
		ticket.RoleQA:         nil,
	}
	for _, role := range consoleRoles {
		t.Run(string(role), func(t *testing.T) {
			p := s.user(t, role).get("/console/tickets/" + tk.ID)
			require.Equal(t, http.StatusOK, p.status, p.body)
			assert.Contains(t, p.body, "3 号线急停")
			assert.Equal(t, want[role], buttons(p.body))
			assertAllWords(t, p.body)
			if role == ticket.RoleQA {
				assert.Contains(t, p.body, "您现在不能对此工单执行操作")
			}
			// The assignee's cards: for the desk, qa and the assignee, not for an agent.
			if role == ticket.RoleAgent {
				assert.NotContains(t, p.body, "处理人的黄牌/红牌")
			} else {
				assert.Contains(t, p.body, "处理人的黄牌/红牌")
				assert.Contains(t, p.body, "无有效的黄牌或红牌")
			}
			assert.Contains(t, p.body, `data-ticket="`+tk.ID+`"`)
			assert.Contains(t, p.body, `data-live="/console/events`)
		})
	}
}

func TestEngineerSeesAcceptOnlyOnTheirOwnTicket(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("别人的工单"))
	disp := s.user(t, ticket.RoleDispatcher)
	p := disp.get("/console/tickets/" + tk.ID)
	res := disp.act(tk.ID, p, "assign", url.Values{"assignee": {"eng-zhao"}, "team": {"suzhou-a"}})
	require.Equal(t, http.StatusOK, res.status, res.body)
	require.Equal(t, "eng-zhao", s.ticket(t, tk.ID).Assignee)

	eng := s.user(t, ticket.RoleEngineer)
	p = eng.get("/console/tickets/" + tk.ID)
	require.Equal(t, http.StatusOK, p.status)
	assert.Empty(t, buttons(p.body))
	// Posted by hand all the same: the API refuses it.
	res = eng.post("/console/tickets/"+tk.ID+"/actions/accept", url.Values{"command_id": {"by-hand"}})
	assert.Equal(t, http.StatusForbidden, res.status)
	assert.Contains(t, res.body, "eng-zhao")
	assert.Equal(t, ticket.StateAssigned, s.ticket(t, tk.ID).State)
}

func TestAgentCannotResolve(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("待完工"))
	s.do(t, tk.ID, ticket.ActionAccept, ticket.RoleEngineer, "", "")
	s.do(t, tk.ID, ticket.ActionStart, ticket.RoleEngineer, "", "")
	agent := s.user(t, ticket.RoleAgent)
	p := agent.get("/console/tickets/" + tk.ID)
	require.Equal(t, http.StatusOK, p.status)
	assert.NotContains(t, buttons(p.body), "resolve")
	res := agent.post("/console/tickets/"+tk.ID+"/actions/resolve", url.Values{"root_cause": {"我来修"}, "command_id": {"agent-try"}})
	assert.Equal(t, http.StatusForbidden, res.status)
	assert.Contains(t, res.body, "我来修", "the input is kept, though the form is not offered")
	assert.Equal(t, ticket.StateInProgress, s.ticket(t, tk.ID).State)

	eng := s.user(t, ticket.RoleEngineer)
	assert.Contains(t, buttons(eng.get("/console/tickets/"+tk.ID).body), "resolve")
}

func TestStaleFormSaysWhatChanged(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("两人同时处理"))
	disp := s.user(t, ticket.RoleDispatcher)
	old := disp.get("/console/tickets/" + tk.ID)
	oldVersion := formField(t, old.body, "assign", "expected_version")

	eng := s.user(t, ticket.RoleEngineer)
	res := eng.act(tk.ID, eng.get("/console/tickets/"+tk.ID), "accept", nil)
	require.Equal(t, http.StatusOK, res.status, res.body)
	require.Equal(t, ticket.StateAccepted, s.ticket(t, tk.ID).State)

	res = disp.act(tk.ID, old, "reject", url.Values{"reason": {"重复报修"}})
	assert.Equal(t, http.StatusConflict, res.status)
	assert.Contains(t, res.body, "工单已有变化")
	i := strings.Index(res.body, "期间的变化")
	require.Greater(t, i, 0, res.body)
	changed := res.body[i : strings.Index(res.body[i:], "</ul>")+i]
	assert.Contains(t, changed, "李工 (eng-li)", "who")
	assert.Contains(t, changed, "接单", "what")
	assert.Contains(t, changed, "已分派 → 已受理")
	assert.Contains(t, changed, "2026-11-24 10:00", "when, in the server's time zone")
	assert.Contains(t, res.body, "重复报修", "the reason typed is kept")
	// Fresh forms: the new version.
	assert.NotContains(t, buttons(res.body), "reject", "not from accepted")
	assert.NotEqual(t, oldVersion, formField(t, res.body, "assign", "expected_version"))
	assert.Equal(t, fmt.Sprint(s.ticket(t, tk.ID).Version), formField(t, res.body, "assign", "expected_version"))
	assert.Equal(t, ticket.StateAccepted, s.ticket(t, tk.ID).State)
}

func TestRefusedFormKeepsInputAndSaysWhy(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("驳回要原因"))
	sup := s.user(t, ticket.RoleSupervisor)
	p := sup.get("/console/tickets/" + tk.ID)
	res := sup.act(tk.ID, p, "escalate", url.Values{"reason": {"   "}})
	assert.Equal(t, http.StatusUnprocessableEntity, res.status)
	assert.Contains(t, res.body, "reason: required")
	assert.Contains(t, res.body, `<details class="act act-escalate" open>`)
}

func TestActionReturnsToNextOnlyInsideTheConsole(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("去哪"))
	eng := s.user(t, ticket.RoleEngineer)
	eng.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p := eng.get("/console/me")
	res := eng.act(tk.ID, p, "accept", url.Values{"next": {"/console/me"}})
	assert.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, "/console/me", res.header.Get("Location"))
	s.do(t, tk.ID, ticket.ActionStart, ticket.RoleEngineer, "", "")
	res = eng.post("/console/tickets/"+tk.ID+"/actions/pause", url.Values{"reason": {"午休"}, "next": {"https://evil.example/"}})
	assert.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, "/console/tickets/"+tk.ID, res.header.Get("Location"))
}

func TestCommandIDRetryIsDoneOnce(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("信号不好"))
	eng := s.user(t, ticket.RoleEngineer)
	p := eng.get("/console/me")
	form := url.Values{"expected_version": {formField(t, p.body, "accept", "expected_version")}, "command_id": {formField(t, p.body, "accept", "command_id")}, "next": {"/console/me"}}
	for range 3 { // the outbox sends it again: the answer never came
		res := eng.post("/console/tickets/"+tk.ID+"/actions/accept", form, "X-Queued", "1")
		require.Equal(t, http.StatusOK, res.status, res.body)
	}
	n := 0
	for _, e := range s.events(t, tk.ID) {
		if e.Action == ticket.ActionAccept {
			n++
		}
	}
	assert.Equal(t, 1, n)
}

// pngOf is a w×h PNG of noise (so it does not compress to nothing).
func pngOf(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.IntN(256))
	}
	for y := range h { // a visible gradient under the noise
		img.Set(0, y, color.RGBA{byte(y), 0, 0, 255})
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// gradientPNG is a w×h PNG of a smooth gradient (a photo-sized picture of few bytes).
func gradientPNG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{byte(x / 10), byte(y / 10), 128, 255})
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

type upload struct {
	name string
	body []byte
}

// postMultipart sends fields and photos (as "photo") to path.
func (b *browser) postMultipart(path string, fields url.Values, photos ...upload) page {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fields.Set("csrf", b.csrf)
	for k, vs := range fields {
		for _, v := range vs {
			require.NoError(b.t, mw.WriteField(k, v))
		}
	}
	for _, p := range photos {
		fw, err := mw.CreateFormFile("photo", p.name)
		require.NoError(b.t, err)
		_, _ = fw.Write(p.body)
	}
	require.NoError(b.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, b.s.srv.URL+path, &buf)
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// inProgress is a ticket eng-li has started.
func inProgress(t testing.TB, s *site, title string) ticket.Ticket {
	tk := s.create(t, estop(title))
	s.do(t, tk.ID, ticket.ActionAccept, ticket.RoleEngineer, "", "")
	return s.do(t, tk.ID, ticket.ActionStart, ticket.RoleEngineer, "", "")
}

func TestResolveWithAPhotoKeepsItResizedAsJPEG(t *testing.T) {
	var store *attachments.Store
	s := newSite(t, withPhotos(t, &store))
	tk := inProgress(t, s, "换继电器")
	eng := s.user(t, ticket.RoleEngineer)
	p := eng.get("/console/me/tickets/" + tk.ID)
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, `capture="environment"`)
	assert.Contains(t, p.body, `enctype="multipart/form-data"`)
	fields := url.Values{"root_cause": {"继电器触点烧蚀，已更换"}, "next": {"/console/me"},
		"expected_version": {formField(t, p.body, "resolve", "expected_version")}, "command_id": {formField(t, p.body, "resolve", "command_id")}}
	res := eng.postMultipart("/console/tickets/"+tk.ID+"/actions/resolve", fields, upload{"IMG_0001.png", gradientPNG(t, 2400, 1200)})
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Contains(t, res.url, "/console/me")

	require.Equal(t, ticket.StateResolved, s.ticket(t, tk.ID).State)
	evs := s.events(t, tk.ID)
	last := evs[len(evs)-1]
	require.Equal(t, ticket.ActionResolve, last.Action)
	m := regexp.MustCompile(`"evidence":\["attachment:([0-9a-f]{64})"\]`).FindStringSubmatch(string(last.Data))
	require.NotNil(t, m, string(last.Data))
	f, err := store.Open(m[1])
	require.NoError(t, err)
	defer f.Close()
	img, format, err := image.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, "jpeg", format)
	assert.Equal(t, image.Rect(0, 0, 1600, 800), img.Bounds())

	// The page shows it, through the console's own route (the API, as the viewer).
	page := eng.get("/console/tickets/" + tk.ID)
	assert.Contains(t, page.body, `src="/console/attachments/`+m[1]+`"`)
	ph := eng.get("/console/attachments/" + m[1])
	assert.Equal(t, http.StatusOK, ph.status)
	assert.Equal(t, "image/jpeg", ph.header.Get("Content-Type"))
	_, err = jpeg.Decode(strings.NewReader(ph.body))
	assert.NoError(t, err)
	missing := eng.get("/console/attachments/" + strings.Repeat("0", 64))
	assert.Equal(t, http.StatusNotFound, missing.status)
	assert.Contains(t, missing.body, "<main", "the console's own error page")
	// Anything but a picture or sound is a download, never shown as a page.
	sha, _, err := store.Put(strings.NewReader("<html><script>alert(1)</script></html>"), 1<<10)
	require.NoError(t, err)
	doc := eng.get("/console/attachments/" + sha)
	assert.Equal(t, http.StatusOK, doc.status)
	assert.Equal(t, "application/octet-stream", doc.header.Get("Content-Type"))
	assert.Equal(t, "attachment", doc.header.Get("Content-Disposition"))
}

func TestBadPhotosAreRefusedAndNothingIsDone(t *testing.T) {
	var store *attachments.Store
	s := newSite(t, withPhotos(t, &store, func(o *console.Options) { o.MaxPhotos, o.MaxPhotoBytes = 2, 200<<10 }))
	tk := inProgress(t, s, "照片不对")
	eng := s.user(t, ticket.RoleEngineer)
	small, big := pngOf(t, 40, 30), pngOf(t, 400, 300)
	cases := map[string]struct {
		photos []upload
		status int
		says   string
	}{
		"too large":    {[]upload{{"big.png", pngOf(t, 400, 300)}}, http.StatusUnprocessableEntity, "照片太大"},
		"not an image": {[]upload{{"fake.jpg", []byte("<html><script>alert(1)</script></html>")}}, http.StatusUnprocessableEntity, "只能上传 JPEG、PNG 或 WebP 图片"},
		"too many":     {[]upload{{"a.png", small}, {"b.png", small}, {"c.png", small}}, http.StatusUnprocessableEntity, "照片太多"},
		"over the form's bound": {[]upload{{"a.png", big}, {"b.png", big}, {"c.png", big}, {"d.png", big}, {"e.png", big}},
			http.StatusRequestEntityTooLarge, "上传内容太大"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			res := eng.postMultipart("/console/tickets/"+tk.ID+"/actions/resolve", url.Values{"root_cause": {"保留我"}, "command_id": {"bad-" + name}}, c.photos...)
			assert.Equal(t, c.status, res.status)
			assert.Contains(t, res.body, c.says)
			if c.status == http.StatusUnprocessableEntity {
				assert.Contains(t, res.body, "保留我")
			}
			assert.Equal(t, ticket.StateInProgress, s.ticket(t, tk.ID).State)
		})
	}
	for _, e := range s.events(t, tk.ID) {
		assert.NotEqual(t, ticket.ActionResolve, e.Action)
	}
}

func TestTicketPageEscapesEverythingItShows(t *testing.T) {
	var store *attachments.Store
	s := newSite(t, withPhotos(t, &store))
	shot, _, err := store.Put(bytes.NewReader(pngOf(t, 320, 640)), 1<<20)
	require.NoError(t, err)

	call := estop("热线 " + xssScript)
	call.Description = "描述 " + xssAttr
	call.Customer.Name = "王" + xssAttr
	call.Source = draft.Source{Connector: "hotline", Type: "hotline", Kind: draft.KindCall}
	call.Turns = []draft.Turn{{Role: "agent", StartMS: 0, EndMS: 1500, Text: "您好"}, {Role: "customer", StartMS: 4200, EndMS: 6000, Text: "急停 " + xssScript}}
	shotDraft := estop("截图 " + xssAttr)
	shotDraft.Source = draft.Source{Connector: "ocr-groups", Type: "ocr", Kind: "screenshot"}
	shotDraft.Attachments = []draft.Attachment{{Kind: "image", URI: attachments.URI(shot), SHA256: shot}}
	shotDraft.Evidence = []draft.Evidence{{Field: "description", From: "ocr", Text: "张三 10:01 (10,20)-(110,60): " + xssScript}}
	shotDraft.Description = "张三在群里说：" + xssScript
	alarm := estop("告警 " + xssScript)
	alarm.Source = draft.Source{Connector: "plant-mqtt", Type: "mqtt", Kind: "alarm.raise"}
	alarm.Device = draft.Device{ID: "PLC-7" + xssAttr}
	alarm.Description = "读数：temp=92 " + xssScript

	eng := s.user(t, ticket.RoleEngineer)
	admin := s.user(t, ticket.RoleAdmin)
	for _, d := range []draft.Draft{call, shotDraft, alarm} {
		tk := s.create(t, d)
		p := eng.get("/console/tickets/" + tk.ID)
		res := eng.act(tk.ID, p, "decline", url.Values{"reason_code": {"other"}, "text": {"理由 " + xssAttr}})
		require.Equal(t, http.StatusOK, res.status, res.body)
		for _, b := range []*browser{eng, admin} {
			p := b.get("/console/tickets/" + tk.ID)
			require.Equal(t, http.StatusOK, p.status)
			assertInert(t, p.body, "")
			assertAllWords(t, p.body)
			assert.Contains(t, p.body, "&lt;script&gt;alert(1)&lt;/script&gt;")
		}
	}
	// A reason typed by staff, on the page and in the phone view.
	tk := s.create(t, estop("原因 "+xssScript))
	s.do(t, tk.ID, ticket.ActionAccept, ticket.RoleEngineer, "", "")
	s.do(t, tk.ID, ticket.ActionStart, ticket.RoleEngineer, "", "")
	sup := s.user(t, ticket.RoleSupervisor)
	res := sup.act(tk.ID, sup.get("/console/tickets/"+tk.ID), "pause", url.Values{"reason": {"暂停 " + xssAttr}})
	require.Equal(t, http.StatusOK, res.status)
	assertInert(t, res.body, "")
	assert.Contains(t, res.body, "暂停 &#34;&gt;&lt;img src=x onerror=alert(1)&gt;")
	// A refused form's input, shown again.
	res = sup.post("/console/tickets/"+tk.ID+"/actions/escalate", url.Values{"reason": {xssAttr}, "expected_version": {"1"}})
	assert.Equal(t, http.StatusConflict, res.status)
	assertInert(t, res.body, "")
	me := eng.get("/console/me")
	assert.Contains(t, me.body, "原因 &lt;script&gt;")
	assertInert(t, me.body, "")

	p := admin.get("/console/tickets/" + s.ticketIDByTitle(t, "截图 "+xssAttr))
	assert.Contains(t, p.body, `<svg class="box" viewBox="0 0 320 640"`)
	assert.Contains(t, p.body, `<rect x="10" y="20" width="100" height="40">`)
	assert.Contains(t, p.body, `src="/console/attachments/`+shot+`"`)
	p = admin.get("/console/tickets/" + s.ticketIDByTitle(t, "热线 "+xssScript))
	assert.Contains(t, p.body, `class="turn turn-customer"`)
	assert.Contains(t, p.body, "00:04")
}

// ticketIDByTitle finds a ticket by its title through the store.
func (s *site) ticketIDByTitle(t testing.TB, title string) string {
	t.Helper()
	pg, err := s.Store.List(context.Background(), store.Query{Limit: 100})
	require.NoError(t, err)
	for _, tk := range pg.Tickets {
		if tk.Title == title {
			return tk.ID
		}
	}
	t.Fatalf("no ticket titled %q", title)
	return ""
}

// user signs in with role's token like site.as, but does not follow the sign-in's redirect
// (a desk role lands on the queue, another page's), and takes the CSRF token from the phone
// view, which every console role may open.
func (s *site) user(t testing.TB, role ticket.Role) *browser {
	t.Helper()
	b := s.anonymous(t)
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res := b.post("/console/signin", url.Values{"token": {people[role].Token}})
	require.Equal(t, http.StatusSeeOther, res.status, res.body)
	b.c.CheckRedirect = nil
	b.csrf = csrfOf(b.get("/console/me").body)
	require.NotEmpty(t, b.csrf)
	return b
}

func TestTicketPartRefreshesAloneForHtmx(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("实时刷新"))
	disp := s.user(t, ticket.RoleDispatcher)
	s.do(t, tk.ID, ticket.ActionAccept, ticket.RoleEngineer, "", "")
	p := disp.get("/console/tickets/"+tk.ID, "HX-Request", "true")
	require.Equal(t, http.StatusOK, p.status)
	assert.NotContains(t, p.body, "<html", "the part alone")
	assert.Contains(t, p.body, `data-version="3"`)
	assert.Contains(t, p.body, `hx-trigger="gd:ticket-changed from:body, gd:resync from:body"`)
	assert.Equal(t, "3", formField(t, p.body, "assign", "expected_version"), "forms carry the new version")
}

func TestTicketPageInEnglish(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("English please"))
	p := s.user(t, ticket.RoleAdmin).get("/console/tickets/" + tk.ID + "?lang=en")
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, "What you can do")
	assertAllWords(t, p.body)
	assert.Contains(t, p.body, "李工: distance 0.1 km, load 0/5, score 0.90 — chosen")
}

// BenchmarkTicketPage renders a ticket of 50 events for an admin (every read the page
// makes: ticket, events, SLA, routing, engineers, the customer's other tickets).
func BenchmarkTicketPage(b *testing.B) {
	s := newSite(b)
	tk := s.create(b, estop("五十个事件"))
	s.do(b, tk.ID, ticket.ActionAccept, ticket.RoleEngineer, "", "")
	s.do(b, tk.ID, ticket.ActionStart, ticket.RoleEngineer, "", "")
	for range 24 {
		s.do(b, tk.ID, ticket.ActionPause, ticket.RoleEngineer, "等备件", "")
		s.do(b, tk.ID, ticket.ActionResume, ticket.RoleEngineer, "", "")
	}
	require.GreaterOrEqual(b, len(s.events(b, tk.ID)), 50)
	admin := s.user(b, ticket.RoleAdmin)
	b.ResetTimer()
	for b.Loop() {
		if p := admin.get("/console/tickets/" + tk.ID); p.status != http.StatusOK {
			b.Fatal(p.status)
		}
	}
}

// TestTicketPageAtScale measures the ticket page's time over a store of many tickets (issue
// 22: ≤ 30 ms with 1,000,000 tickets). It is a measurement, not a test of behaviour, so it
// runs only when asked:
//
//	GONGDAN_CONSOLE_TICKETS=1000000 go test -count=1 -run TestTicketPageAtScale -v -timeout 90m ./web/console/
//
// The store is built once through the engine (every tenth ticket shares its customer's
// phone, so each has a history of ten) and kept under ~/.cache/gongdan-console-<n>/. The
// time is the whole request through a loopback HTTP client: ticket, events, SLA, routing,
// engineers and the customer's other tickets, read through the API, and the render.
func TestTicketPageAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GONGDAN_CONSOLE_TICKETS"))
	if n <= 0 {
		t.Skip("set GONGDAN_CONSOLE_TICKETS to measure")
	}
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	dir := filepath.Join(cache, fmt.Sprintf("gongdan-console-%d", n))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	st := enginekit.OpenStore(t, filepath.Join(dir, "gongdan.db"))
	e := enginekit.Start(t, engine.Options{Store: st})
	counts, err := st.CountByState(context.Background())
	require.NoError(t, err)
	have := 0
	for _, c := range counts {
		have += int(c)
	}
	if have < n {
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan int, 1024)
		for range 64 {
			wg.Go(func() {
				for i := range next {
					d := estop(fmt.Sprintf("设备 E%09d 急停", i))
					d.DedupKey = fmt.Sprintf("bench/%d", i)
					d.Customer.Phone = fmt.Sprintf("138%08d", i%(n/10+1))
					if _, _, err := e.Create(context.Background(), engine.CreateRequest{Actor: ticket.SystemActor, Draft: d}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		for i := have; i < n; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		t.Logf("made %d tickets in %v", n-have, time.Since(start).Round(time.Second))
	}
	e.Close()

	// The console over that store, with routing (its trace and engineers are on the page).
	s := &site{Fixture: &enginekit.Fixture{Store: st, Engine: enginekit.Start(t, engine.Options{Store: st,
		Routing: &engine.RoutingOptions{Router: testRouter(t), Notify: func(engine.Notification) {}}})}}
	s.serve(t, console.Options{}, nil, nil)

	// A ticket of 50 events, new today among the million.
	tk := s.create(t, estop("五十个事件"))
	s.do(t, tk.ID, ticket.ActionAssign, ticket.RoleDispatcher, "", `{"assignee":"eng-li","team":"suzhou-a"}`)
	s.do(t, tk.ID, ticket.ActionAccept, ticket.RoleEngineer, "", "")
	s.do(t, tk.ID, ticket.ActionStart, ticket.RoleEngineer, "", "")
	for range 23 {
		s.do(t, tk.ID, ticket.ActionPause, ticket.RoleEngineer, "等备件", "")
		s.do(t, tk.ID, ticket.ActionResume, ticket.RoleEngineer, "", "")
	}
	// And tickets spread over the store.
	page, err := st.List(context.Background(), store.Query{Limit: 1})
	require.NoError(t, err)
	ids := []string{tk.ID}
	for range 200 {
		o, err := st.List(context.Background(), store.Query{Q: fmt.Sprintf("E%09d", rand.IntN(n)), Limit: 1})
		require.NoError(t, err)
		if len(o.Tickets) > 0 {
			ids = append(ids, o.Tickets[0].ID)
		}
	}
	require.NotEmpty(t, page.Tickets)
	admin := s.user(t, ticket.RoleAdmin)
	measure := func(ids []string, rounds int) (p50, p99 time.Duration) {
		var times []time.Duration
		for range rounds {
			for _, id := range ids {
				start := time.Now()
				p := admin.get("/console/tickets/" + id)
				times = append(times, time.Since(start))
				require.Equal(t, http.StatusOK, p.status)
			}
		}
		slices.Sort(times)
		return times[len(times)/2], times[int(0.99*float64(len(times)-1))]
	}
	measure(ids[:20], 1) // warm up
	p50, p99 := measure(ids[:1], 200)
	t.Logf("tickets %d: the 50-event ticket p50 %v, p99 %v", n+1, p50, p99)
	p50, p99 = measure(ids, 3)
	t.Logf("tickets %d: %d tickets across the store p50 %v, p99 %v", n+1, len(ids), p50, p99)
}

// assertAllWords checks that a page shows no text key for want of its words (a key with no
// text comes out as itself: act_resolve, kind_call).
func assertAllWords(t *testing.T, body string) {
	t.Helper()
	for _, m := range regexp.MustCompile(`>([^<]+)<`).FindAllStringSubmatch(body, -1) {
		assert.NotRegexp(t, `\b[a-z]+_[a-z_]+\b`, m[1], "a text key with no words")
	}
}

func TestTicketPageShowsTheCustomersOtherTickets(t *testing.T) {
	s := newSite(t)
	first := s.create(t, estop("上个月的急停"))
	other := estop("别的客户")
	other.Customer.Phone = "13900009999"
	s.create(t, other)
	now := s.create(t, estop("又急停了"))
	p := s.user(t, ticket.RoleDispatcher).get("/console/tickets/" + now.ID)
	require.Equal(t, http.StatusOK, p.status)
	i := strings.Index(p.body, "该客户的其他工单")
	require.Greater(t, i, 0)
	history := p.body[i : i+strings.Index(p.body[i:], "</ul>")]
	assert.Contains(t, history, first.ID)
	assert.NotContains(t, history, "别的客户")
	assert.NotContains(t, history, now.ID+"</a> 又急停了", "not itself")
}

// sidewaysJPEG is a 60×20 JPEG, red on its left third, whose EXIF says to turn it 90°
// clockwise (orientation 6: a phone held upright).
func sidewaysJPEG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 60, 20))
	for y := range 20 {
		for x := range 60 {
			c := color.RGBA{255, 255, 255, 255}
			if x < 20 {
				c = color.RGBA{220, 0, 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	var enc bytes.Buffer
	require.NoError(t, jpeg.Encode(&enc, img, &jpeg.Options{Quality: 95}))
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08" + // big-endian, IFD0 at 8
		"\x00\x01" + // one entry
		"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" + // orientation, SHORT, 1, 6
		"\x00\x00\x00\x00") // no next IFD
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	b := enc.Bytes()
	return append(append(append([]byte{}, b[:2]...), app1...), b[2:]...)
}

func TestResolvePhotoIsTurnedUpright(t *testing.T) {
	var store *attachments.Store
	s := newSite(t, withPhotos(t, &store))
	tk := inProgress(t, s, "侧着拍的")
	eng := s.user(t, ticket.RoleEngineer)
	res := eng.postMultipart("/console/tickets/"+tk.ID+"/actions/resolve", url.Values{"root_cause": {"ok"}}, upload{"IMG_0002.jpg", sidewaysJPEG(t)})
	require.Equal(t, http.StatusOK, res.status, res.body)
	evs := s.events(t, tk.ID)
	m := regexp.MustCompile(`attachment:([0-9a-f]{64})`).FindStringSubmatch(string(evs[len(evs)-1].Data))
	require.NotNil(t, m)
	f, err := store.Open(m[1])
	require.NoError(t, err)
	defer f.Close()
	img, err := jpeg.Decode(f)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, 20, 60), img.Bounds(), "upright: taller than wide")
	top, bottom := color.RGBAModel.Convert(img.At(10, 5)).(color.RGBA), color.RGBAModel.Convert(img.At(10, 55)).(color.RGBA)
	assert.Greater(t, int(top.R)-int(top.G), 100, "the red third is at the top: %v", top)
	assert.Less(t, int(bottom.R)-int(bottom.G), 30, "white below: %v", bottom)
}

// TestARefusedResolveKeepsNoPhoto: photos come with a resolve the API would refuse (an agent,
// who may not resolve; a stale form): the refusal is shown and no photo is decoded or kept.
func TestARefusedResolveKeepsNoPhoto(t *testing.T) {
	var store *attachments.Store
	dir := t.TempDir()
	s := newSite(t, func(co *console.Options, _ *engine.Options) { store = attachments.New(dir); co.Attachments = store })
	tk := inProgress(t, s, "拒绝后不留照片")
	photo := []upload{{"fix.png", pngOf(t, 400, 300)}}
	agent := s.user(t, ticket.RoleAgent)
	res := agent.postMultipart("/console/tickets/"+tk.ID+"/actions/resolve", url.Values{"root_cause": {"换了按钮"}}, photo...)
	assert.Equal(t, http.StatusForbidden, res.status)
	eng := s.user(t, ticket.RoleEngineer)
	res = eng.postMultipart("/console/tickets/"+tk.ID+"/actions/resolve", url.Values{"root_cause": {"换了按钮"}, "expected_version": {"1"}}, photo...)
	assert.Equal(t, http.StatusConflict, res.status, "a stale form")
	assert.Equal(t, ticket.StateInProgress, s.ticket(t, tk.ID).State)
	files := 0
	require.NoError(t, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return err
	}))
	assert.Zero(t, files, "no photo kept")
}

// TestAPhotoThatDecodesTooLargeIsRefused: a small file that would decode to hundreds of
// megabytes (a 16-bit PNG of 5000 × 5000 compresses to a few hundred kilobytes) is refused
// before it is decoded.
func TestAPhotoThatDecodesTooLargeIsRefused(t *testing.T) {
	var store *attachments.Store
	s := newSite(t, withPhotos(t, &store))
	tk := inProgress(t, s, "解压炸弹")
	img := image.NewNRGBA64(image.Rect(0, 0, 5000, 5000)) // all zero: compresses to almost nothing
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	require.Less(t, buf.Len(), 1<<20)
	eng := s.user(t, ticket.RoleEngineer)
	res := eng.postMultipart("/console/tickets/"+tk.ID+"/actions/resolve", url.Values{"root_cause": {"换了按钮"}}, upload{"bomb.png", buf.Bytes()})
	assert.Equal(t, http.StatusUnprocessableEntity, res.status)
	assert.Equal(t, ticket.StateInProgress, s.ticket(t, tk.ID).State)
}
