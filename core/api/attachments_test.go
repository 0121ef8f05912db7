package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/attachments"
	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/internal/testkit/enginekit"
)

func TestAttachmentsAreServedToStaff(t *testing.T) {
	f := enginekit.New(t, engine.Options{})
	store := attachments.New(filepath.Join(t.TempDir(), "attachments"))
	photo := []byte("\x89PNG\r\n\x1a\n the broken pump")
	sha, _, err := store.Put(bytes.NewReader(photo), 1<<20)
	require.NoError(t, err)
	h, err := api.New(api.Options{Engine: f.Engine, Store: f.Store, Tokens: tokens, Attachments: store})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := &client{t: t, url: srv.URL, api: h}

	r := c.do("GET", "/api/v1/attachments/"+sha, "tok-eng", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, photo, r.body)
	assert.Equal(t, "image/png", r.header.Get("Content-Type"))

	assert.Equal(t, http.StatusNotFound, c.do("GET", "/api/v1/attachments/"+sha[:63]+"0", "tok-eng", "").status)
	assert.Equal(t, http.StatusNotFound, c.do("GET", "/api/v1/attachments/..%2f..%2fgongdan.db", "tok-eng", "").status)
	assert.Equal(t, http.StatusUnauthorized, c.do("GET", "/api/v1/attachments/"+sha, "", "").status)
	assert.Equal(t, http.StatusForbidden, c.do("GET", "/api/v1/attachments/"+sha, "tok-cust", "").status, "customers see tickets, not the files of others")
}
