// Package track is the customer's tracking page, /t/{token} (DESIGN.md §11): what became of
// their request, who is coming and by when, and where they add information, urge, confirm the
// fix with the three questions, and answer the follow-up. It is served by gongdan from
// embedded templates and assets, needs no JavaScript (WeChat's in-app browser, old phones),
// and shows a ticket's customer only what is theirs.
//
// The token is the customer's only credential: a wrong, revoked or expired one is a 404
// found the same way as a real one, and misses are rate-limited per client. Every POST
// carries a nonce the page issued for that token (CSRF), used once.
package track

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"gongdan/attachments"
	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/web/webkit"
)

//go:embed templates/*.html
var templatesFS embed.FS

//go:embed assets
var assetsFS embed.FS

// Options configure the page.
type Options struct {
	Engine *engine.Engine
	Store  store.Store
	// Attachments keeps the photos customers add; nil refuses photos.
	Attachments *attachments.Store
	// Key signs the forms' nonces. Required.
	Key []byte
	// Engineer is an engineer's name and phone for the page; nil shows neither.
	Engineer func(id string) (name, phone string)
	// MaxPhotos and MaxPhotoBytes bound a customer's photos. Defaults 6 and 8 MiB.
	MaxPhotos     int
	MaxPhotoBytes int64
	// MissesPerMinute bounds the unknown tokens one client may try (a burst of as many, then
	// that many a minute). Default 20.
	MissesPerMinute int
	Location        *time.Location
	Logger          *slog.Logger
}

// Handler serves the page.
type Handler struct {
	opts  Options
	tmpl  *template.Template
	mux   *http.ServeMux
	css   string // the stylesheet's path, with its hash: cached for ever
	limit *limiter
	used  *usedNonces
}

// nonceTTL is how long a page's forms may be sent.
const nonceTTL = 12 * time.Hour

// Routes are the page's routes, to mount beside the API (api.Options.Edge).
func (h *Handler) Routes() []api.Route {
	return []api.Route{{Pattern: "/t/", Handler: h}}
}

// New builds the page's handler.
func New(opts Options) (*Handler, error) {
	if opts.Engine == nil || opts.Store == nil || len(opts.Key) == 0 {
		return nil, errors.New("track: Engine, Store and Key are required")
	}
	if opts.MaxPhotos == 0 {
		opts.MaxPhotos = 6
	}
	if opts.MaxPhotoBytes == 0 {
		opts.MaxPhotoBytes = 8 << 20
	}
	if opts.MissesPerMinute <= 0 {
		opts.MissesPerMinute = 20
	}
	if opts.Location == nil {
		opts.Location = opts.Engine.Location()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	css, err := assetsFS.ReadFile("assets/track.css")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(css)
	h := &Handler{opts: opts, css: "/t/assets/track." + base64.RawURLEncoding.EncodeToString(sum[:6]) + ".css",
		limit: newLimiter(opts.MissesPerMinute), used: &usedNonces{m: map[string]time.Time{}}}
	h.tmpl, err = template.New("page.html").Funcs(template.FuncMap{
		"t":   func(l lang, key string) string { return words.T(l, key) },
		"css": func() string { return h.css },
		"seq": func(n int) []int {
			s := make([]int, n)
			for i := range s {
				s[i] = i + 1
			}
			return s
		},
	}).ParseFS(templatesFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	assets, _ := fs.Sub(assetsFS, "assets")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+h.css, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(css)
	})
	mux.Handle("GET /t/assets/", http.StripPrefix("/t/assets/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /t/{token}", h.show)
	mux.HandleFunc("POST /t/{token}/{what}", h.post)
	mux.HandleFunc("/t/", func(w http.ResponseWriter, r *http.Request) { h.notFound(w, r, false) })
	h.mux = mux
	return h, nil
}

// ServeHTTP sets the page's security headers on every answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Referrer-Policy", "no-referrer") // the token is in the URL: never hand it on
	hd.Set("X-Robots-Tag", "noindex, nofollow")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// ticketOf finds the ticket of the request's token, or answers 404 (429 for a client that
// missed too often) and returns false.
func (h *Handler) ticketOf(w http.ResponseWriter, r *http.Request) (ticket.Ticket, string, bool) {
	client := api.ClientOf(r).Addr
	if !h.limit.allowed(client) {
		h.tooMany(w, r)
		return ticket.Ticket{}, "", false
	}
	token := r.PathValue("token")
	t, err := h.opts.Engine.ByTrackingToken(r.Context(), token)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			h.limit.miss(client)
			h.notFound(w, r, true)
			return ticket.Ticket{}, "", false
		}
		h.opts.Logger.Error("tracking page: reading a ticket", "err", err)
		http.Error(w, "暂时无法读取，请稍后再试 / temporarily unavailable", http.StatusServiceUnavailable)
		return ticket.Ticket{}, "", false
	}
	return t, token, true
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, counted bool) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	l := langOf(r)
	_ = h.tmpl.ExecuteTemplate(w, "gone.html", map[string]any{"Lang": l, "Status": 404})
}

func (h *Handler) tooMany(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "60")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = h.tmpl.ExecuteTemplate(w, "gone.html", map[string]any{"Lang": langOf(r), "Status": 429})
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	t, token, ok := h.ticketOf(w, r)
	if !ok {
		return
	}
	l := langOf(r)
	webkit.KeepLang(w, r, "/t/")
	evs, err := h.opts.Store.Events(r.Context(), t.ID)
	if err != nil {
		h.opts.Logger.Error("tracking page: reading events", "ticket", t.ID, "err", err)
		http.Error(w, "暂时无法读取，请稍后再试 / temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	now := h.opts.Engine.Now()
	sla := h.opts.Engine.SLAOf(t)
	var typical time.Duration
	if t.State.Open() && !sla.HasDue() {
		if d, ok, err := h.opts.Engine.TypicalResolution(r.Context(), t); err == nil && ok {
			typical = d
		}
	}
	p := h.build(t, evs, l, now, &sla, typical)
	p.Token = token
	p.Nonce = h.nonce(token, now)
	switch done := r.URL.Query().Get("done"); done {
	case "note", "urge":
		p.Flash = words.T(l, "done_"+done)
	case "confirm":
		p.Flash = words.T(l, "thanks")
		if t.State == ticket.StateInProgress {
			p.Flash = words.T(l, "disputed")
		}
	case "followup":
		p.Flash = words.T(l, "followup_fine")
	case "too_soon", "stale", "bad_photo":
		p.Flash, p.FlashBad = words.T(l, done), true
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := h.tmpl.ExecuteTemplate(w, "page.html", p); err != nil {
		h.opts.Logger.Error("tracking page: rendering", "ticket", t.ID, "err", err)
	}
}

// nonce is a form nonce for token issued at now: when and a random salt, and an HMAC of the
// token, when and the salt, so every page shown has its own.
func (h *Handler) nonce(token string, now time.Time) string {
	salt := make([]byte, 9)
	_, _ = rand.Read(salt)
	at := strconv.FormatInt(now.Unix(), 36) + "-" + base64.RawURLEncoding.EncodeToString(salt)
	return at + "." + h.mac(token, at)
}

func (h *Handler) mac(token, at string) string {
	m := hmac.New(sha256.New, h.opts.Key)
	m.Write([]byte("gongdan tracking form\x00" + token + "\x00" + at))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// checkNonce reports whether nonce was issued for token within nonceTTL and not used yet;
// it is used up.
func (h *Handler) checkNonce(token, nonce string, now time.Time) bool {
	at, sig, ok := strings.Cut(nonce, ".")
	if !ok || len(nonce) > 64 {
		return false
	}
	when, _, _ := strings.Cut(at, "-")
	unix, err := strconv.ParseInt(when, 36, 64)
	if err != nil {
		return false
	}
	issued := time.Unix(unix, 0)
	if now.Sub(issued) > nonceTTL || issued.After(now.Add(time.Minute)) {
		return false
	}
	if !hmac.Equal([]byte(sig), []byte(h.mac(token, at))) {
		return false
	}
	return h.used.use(nonce, issued.Add(nonceTTL), now)
}

// post takes a form: confirm, note, urge or followup.
func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	what := r.PathValue("what")
	switch what {
	case "confirm", "note", "urge", "followup":
	default:
		h.notFound(w, r, false)
		return
	}
	t, token, ok := h.ticketOf(w, r)
	if !ok {
		return
	}
	now := h.opts.Engine.Now()
	back := func(done string) {
		http.Redirect(w, r, "/t/"+url.PathEscape(token)+"?done="+done, http.StatusSeeOther)
	}
	if what == "note" && !t.State.Open() && t.State != ticket.StateResolved {
		back("stale") // takes nothing more: its photos are not even read
		return
	}
	limit := int64(64 << 10)
	if what == "note" {
		limit += int64(h.opts.MaxPhotos) * (h.opts.MaxPhotoBytes + 4<<10)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	var form url.Values
	var photos []draft.Attachment
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		var err error
		form, photos, err = h.readMultipart(r, token, now)
		if errors.Is(err, errBadNonce) {
			h.forbidden(w, r)
			return
		} else if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) || errors.Is(err, errBadPhoto) {
				back("bad_photo")
				return
			}
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
	} else {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		form = r.PostForm
		if !h.checkNonce(token, form.Get("nonce"), now) {
			h.forbidden(w, r)
			return
		}
	}
	ctx := r.Context()
	var err error
	switch what {
	case "confirm":
		err = h.confirm(ctx, t, form)
	case "note":
		text := form.Get("text")
		if strings.TrimSpace(text) == "" && len(photos) == 0 {
			back("")
			return
		}
		_, err = h.opts.Engine.CustomerNote(ctx, t.ID, ticket.CustomerNoteData{Text: text, Attachments: photos})
	case "urge":
		_, err = h.opts.Engine.Urge(ctx, t.ID)
	case "followup":
		_, err = h.opts.Engine.AnswerFollowup(ctx, t.ID, form.Get("recurred") == "yes", strings.TrimSpace(form.Get("text")))
	}
	var de *ticket.DataError
	switch {
	case err == nil:
		back(what)
	case errors.Is(err, ticket.ErrTooSoon):
		back("too_soon")
	case errors.Is(err, ticket.ErrIllegalTransition), errors.Is(err, ticket.ErrFrozen), errors.Is(err, ticket.ErrStaleVersion):
		back("stale") // confirmed already, closed meanwhile: the page shows how it is now
	case errors.As(err, &de):
		back("stale")
	default:
		h.opts.Logger.Error("tracking page: "+what, "ticket", t.ID, "err", err)
		http.Error(w, "暂时无法提交，请稍后再试 / temporarily unavailable", http.StatusServiceUnavailable)
	}
}

func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	_ = h.tmpl.ExecuteTemplate(w, "gone.html", map[string]any{"Lang": langOf(r), "Status": 403})
}

// confirm sends the three answers as the customer's confirm command.
func (h *Handler) confirm(ctx context.Context, t ticket.Ticket, form url.Values) error {
	score := func(k string) int {
		n, _ := strconv.Atoi(form.Get(k))
		return n
	}
	solved := form.Get("solved")
	if solved != "yes" && solved != "no" {
		return &ticket.DataError{Field: "solved", Msg: "required"}
	}
	data := map[string]any{"solved": solved == "yes", "timeliness": score("timeliness"), "professionalism": score("professionalism")}
	if c := strings.TrimSpace(form.Get("comment")); c != "" {
		data["comment"] = c
	}
	raw, jerr := jsonMarshal(data)
	if jerr != nil {
		return jerr
	}
	// The answer is about the fix the page showed: after a dispute and a new resolve, an old
	// tab's form does not confirm a fix its customer never saw. (Not the ticket's version:
	// a reminder or a delivery record between showing and sending must not stale the form.)
	if t.Resolution == nil || form.Get("fix") != fixOf(t) {
		return &ticket.DataError{Field: "fix", Msg: "the page showed another fix; reload it"}
	}
	_, err := h.opts.Engine.Do(ctx, ticket.Command{TicketID: t.ID, Action: ticket.ActionConfirm, Actor: ticket.TrackingActor(t.ID),
		Data: raw})
	return err
}

var (
	errBadNonce = errors.New("bad nonce")
	errBadPhoto = errors.New("not an image, or too large")
)

// readMultipart reads a note's form as it streams: the nonce must come before any photo, so
// nothing is kept for a forged post. Each photo is sniffed and bounded into a temporary file;
// only when the whole form is good are they kept in the attachment store, so a note refused
// for one bad photo leaves nothing behind.
func (h *Handler) readMultipart(r *http.Request, token string, now time.Time) (url.Values, []draft.Attachment, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, err
	}
	form := url.Values{}
	var staged []*os.File
	defer func() {
		for _, f := range staged {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	nonceOK := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, err
		}
		name := part.FormName()
		if part.FileName() == "" {
			v, err := io.ReadAll(io.LimitReader(part, 16<<10))
			if err != nil {
				return nil, nil, err
			}
			form.Set(name, string(v))
			if name == "nonce" {
				if !h.checkNonce(token, string(v), now) {
					return nil, nil, errBadNonce
				}
				nonceOK = true
			}
			continue
		}
		if !nonceOK {
			return nil, nil, errBadNonce
		}
		if name != "photo" {
			continue
		}
		head := make([]byte, 512)
		n, err := io.ReadFull(part, head)
		if n == 0 {
			continue // an empty file input
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			return nil, nil, err
		}
		if !attachments.IsPhoto(head[:n]) || len(staged) >= h.opts.MaxPhotos || h.opts.Attachments == nil {
			return nil, nil, errBadPhoto
		}
		f, err := os.CreateTemp("", "gongdan-photo-*")
		if err != nil {
			return nil, nil, err
		}
		staged = append(staged, f)
		written, err := io.Copy(f, io.LimitReader(io.MultiReader(bytes.NewReader(head[:n]), part), h.opts.MaxPhotoBytes+1))
		if err != nil {
			return nil, nil, err
		}
		if written > h.opts.MaxPhotoBytes {
			return nil, nil, errBadPhoto
		}
	}
	if !nonceOK {
		return nil, nil, errBadNonce
	}
	var photos []draft.Attachment
	for _, f := range staged {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, nil, err
		}
		sha, _, err := h.opts.Attachments.Put(f, h.opts.MaxPhotoBytes)
		if err != nil {
			return nil, nil, err
		}
		photos = append(photos, draft.Attachment{Kind: "image", URI: attachments.URI(sha), SHA256: sha})
	}
	return form, photos, nil
}

// limiter bounds the misses (unknown tokens) per client address.
type limiter struct {
	mu     sync.Mutex
	perMin int
	m      map[netip.Addr]*rate.Limiter
}

func newLimiter(perMin int) *limiter {
	return &limiter{perMin: perMin, m: map[netip.Addr]*rate.Limiter{}}
}

func (l *limiter) get(a netip.Addr) *rate.Limiter {
	if a = a.Unmap(); a.Is6() {
		// One subscriber holds a whole /64: counting by address would let them walk it.
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[a]
	if lim == nil {
		if len(l.m) > 100_000 { // a flood of addresses: start again rather than grow for ever
			clear(l.m)
		}
		lim = rate.NewLimiter(rate.Limit(float64(l.perMin)/60), l.perMin)
		l.m[a] = lim
	}
	return lim
}

// allowed reports whether a client may try a token now (it has misses left).
func (l *limiter) allowed(a netip.Addr) bool { return l.get(a).Tokens() >= 1 }

// miss counts a client's miss.
func (l *limiter) miss(a netip.Addr) { l.get(a).Allow() }

// usedNonces remembers the nonces used until they expire: a form is taken once.
type usedNonces struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (u *usedNonces) use(nonce string, expires, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, seen := u.m[nonce]; seen {
		return false
	}
	if len(u.m) > 10_000 {
		for n, exp := range u.m {
			if now.After(exp) {
				delete(u.m, n)
			}
		}
	}
	u.m[nonce] = expires
	return true
}

// fixOf names the fix a resolved ticket's confirm form answers: when it was resolved.
func fixOf(t ticket.Ticket) string {
	if t.Resolution == nil {
		return ""
	}
	return strconv.FormatInt(t.Resolution.ResolvedAt.UnixNano(), 36)
}
