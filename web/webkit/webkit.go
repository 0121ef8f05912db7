// Package webkit is what gongdan's pages share: the reader's language, texts by key in each
// language, and fingerprinted asset names that can be cached for ever.
package webkit

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// Lang is a page's language: Chinese unless the reader chose English (?lang=en, kept in the
// LangCookie) or their browser asks for English before Chinese.
type Lang string

const (
	ZH Lang = "zh"
	EN Lang = "en"
)

// LangCookie keeps a reader's choice of language.
const LangCookie = "gd_lang"

// LangOf is the language of r's reader.
func LangOf(r *http.Request) Lang {
	switch r.URL.Query().Get("lang") {
	case "en":
		return EN
	case "zh":
		return ZH
	}
	if c, err := r.Cookie(LangCookie); err == nil && (c.Value == "en" || c.Value == "zh") {
		return Lang(c.Value)
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return ZH
		case strings.HasPrefix(tag, "en"):
			return EN
		}
	}
	return ZH
}

// KeepLang remembers a ?lang= choice in the LangCookie for the pages under path.
func KeepLang(w http.ResponseWriter, r *http.Request, path string) {
	if q := r.URL.Query().Get("lang"); q == "en" || q == "zh" {
		http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: q, Path: path, MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
}

// Words are a page's texts by key: [Chinese, English].
type Words map[string][2]string

// T returns the text of key in l; the key itself when there is none, so a missing text shows.
func (w Words) T(l Lang, key string) string {
	t, ok := w[key]
	if !ok {
		return key
	}
	if l == EN {
		return t[1]
	}
	return t[0]
}

// Fingerprint names an asset by its content: dir + base + "." + hash + ext, so that the name
// changes whenever the content does and the asset can be cached for ever.
func Fingerprint(dir, base, ext string, content []byte) string {
	sum := sha256.Sum256(content)
	return dir + base + "." + base64.RawURLEncoding.EncodeToString(sum[:6]) + ext
}
