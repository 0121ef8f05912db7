package vendorhttp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAClientFollowsNoRedirectAndNamesNoURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "https://elsewhere.example/steal", http.StatusFound)
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
		}
	}))
	defer srv.Close()
	c := NewClient(srv.URL+"/", time.Second, 1024)

	resp, err := c.R().Get("/moved")
	require.Error(t, err, "a redirect is not followed")
	assert.Equal(t, http.StatusFound, resp.StatusCode())

	_, err = c.R().Get("/big")
	_, tooLarge := Bare(err)
	assert.True(t, tooLarge)

	_, err = NewClient("http://127.0.0.1:1", time.Second, 1024).R().Get("/x?Signature=secret")
	bare, tooLarge := Bare(err)
	require.Error(t, bare)
	assert.False(t, tooLarge)
	assert.NotContains(t, bare.Error(), "Signature=secret")
}
