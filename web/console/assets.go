package console

import (
	"bytes"
	"compress/gzip"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"gongdan/core/ticket"
	"gongdan/web/webkit"
)

// asset is an embedded file, kept with its gzip form, served under a fingerprinted name and
// cached for ever.
type asset struct {
	body, gz []byte
	ctype    string
}

// loadAssets fingerprints every file under assets/ (vendor/ included): a template names an
// asset by its plain name ({{asset "console.css"}}) and gets its fingerprinted path.
func (h *Handler) loadAssets() error {
	h.assets, h.named = map[string]asset{}, map[string]string{}
	return fs.WalkDir(assetsFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := path.Ext(p)
		if ext != ".js" && ext != ".css" && ext != ".svg" && ext != ".png" {
			return nil // licences, checksums
		}
		b, err := assetsFS.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "assets/")
		dir, file := path.Split(rel)
		served := webkit.Fingerprint("/console/assets/"+dir, strings.TrimSuffix(file, ext), ext, b)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		ctype := mime.TypeByExtension(ext)
		if ext == ".js" {
			ctype = "text/javascript; charset=utf-8"
		}
		h.assets[served] = asset{body: b, gz: gz.Bytes(), ctype: ctype}
		h.named[rel] = served
		return nil
	})
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("Vary", "Accept-Encoding")
	body := a.body
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		hd.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// funcs are the templates' functions.
func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) string { return h.named[name] },
		"t":     func(l webkit.Lang, key string) string { return words.T(l, key) },
		"state": func(l webkit.Lang, s ticket.State) string { return words.T(l, "state_"+string(s)) },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(h.opts.Location).Format("2006-01-02 15:04")
		},
		"iso": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
		"query": query,
		"admits": func(v *viewer, pattern string) bool {
			return v != nil && h.opts.API.Admits(pattern, v.Actor.Role)
		},
	}
}
