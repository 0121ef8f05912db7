package console_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

// TestVendoredFilesAreThePinnedOnes: the embedded htmx and ECharts are byte for byte what
// scripts/vendor-web.sh took from npm at the pinned versions (SHA256SUMS), so a hand edit or
// a half-done upgrade fails here.
func TestVendoredFilesAreThePinnedOnes(t *testing.T) {
	sums, err := os.ReadFile("assets/vendor/SHA256SUMS")
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(sums))
	n := 0
	for sc.Scan() {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		require.True(t, ok, sc.Text())
		b, err := os.ReadFile(filepath.Join("assets/vendor", name))
		require.NoError(t, err)
		got := sha256.Sum256(b)
		assert.Equal(t, want, hex.EncodeToString(got[:]), name)
		n++
	}
	assert.Equal(t, 2, n, "htmx and echarts")
	lock, err := os.ReadFile("npm/package-lock.json")
	require.NoError(t, err)
	for _, v := range []string{`"node_modules/htmx.org": {`, `"version": "2.0.11"`, `"node_modules/echarts": {`, `"version": "6.1.0"`, `"integrity": "sha512-`} {
		assert.Contains(t, string(lock), v)
	}
}

// TestAssetsAreFingerprintedGzippedAndCachedForEver: the page names each asset by its
// content's hash, serves it gzipped to a browser that takes gzip, and lets it be cached for
// ever; an old or unknown name is a 404.
func TestAssetsAreFingerprintedGzippedAndCachedForEver(t *testing.T) {
	s := newSite(t)
	b := s.anonymous(t)
	p := b.get("/console/signin")
	require.Equal(t, http.StatusOK, p.status)
	refs := regexp.MustCompile(`(?:href|src)="(/console/assets/[^"]+)"`).FindAllStringSubmatch(p.body, -1)
	require.Len(t, refs, 3, "the stylesheet, htmx and console.js")
	total := 0
	for _, ref := range refs {
		req, _ := http.NewRequest(http.MethodGet, s.srv.URL+ref[1], nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := http.DefaultTransport.RoundTrip(req) // no transparent gunzip
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, ref[1])
		assert.Equal(t, "gzip", res.Header.Get("Content-Encoding"), ref[1])
		assert.Contains(t, res.Header.Get("Cache-Control"), "immutable")
		zr, err := gzip.NewReader(bytes.NewReader(body))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.NotEmpty(t, plain)
		total += len(body)
	}
	// The budget is 400 KB for the first load; the shell is a small part of it.
	assert.Less(t, total, 60<<10, "the layout's assets, gzipped")
	assert.Equal(t, http.StatusNotFound, b.get("/console/assets/console.css").status, "unfingerprinted")
	assert.Equal(t, http.StatusNotFound, b.get("/console/assets/console.AAAAAAAA.css").status, "a stale name")
}

// TestEveryAnswerCarriesTheSecurityHeaders: no inline script can run (CSP), the console is
// never framed, and types are not sniffed, on pages, errors and redirects alike.
func TestEveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	s := newSite(t)
	b := s.anonymous(t)
	for _, path := range []string{"/console/signin", "/console/nowhere", "/console/"} {
		p := b.get(path)
		csp := p.header.Get("Content-Security-Policy")
		assert.Contains(t, csp, "script-src 'self'", path)
		assert.NotContains(t, csp, "unsafe-inline", path)
		assert.Contains(t, csp, "frame-ancestors 'none'", path)
		assert.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"), path)
	}
}

// TestLaterNavigationsAreSmall (issue 22: after the first load, a navigation transfers at
// most 40 KB): with the assets cached, a page is its HTML, compressed; a full queue page of
// 50 tickets and a ticket page with its forms and timeline stay well within it.
func TestLaterNavigationsAreSmall(t *testing.T) {
	s := newSite(t)
	var last string
	for i := range 50 {
		last = s.create(t, estop(fmt.Sprintf("%d号线急停按钮失灵，产线停止，请尽快派人", i))).ID
	}
	b := s.as(t, ticket.RoleSupervisor)
	for _, path := range []string{"/console/queue", "/console/tickets/" + last, "/console/sla", "/console/dispatch"} {
		p := b.get(path, "Accept-Encoding", "gzip")
		require.Equal(t, http.StatusOK, p.status, path)
		assert.Equal(t, "gzip", p.header.Get("Content-Encoding"), path)
		assert.Less(t, len(p.body), 40<<10, path)
		t.Logf("%s: %d bytes compressed, %d uncompressed", path, len(p.body), len(gunzip(t, p.body)))
	}
}
