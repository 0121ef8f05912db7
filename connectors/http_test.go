package connectors_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"gongdan/connectors"
)

// A receiver that takes only POST answers anything else 405 with Allow: POST and a
// problem+json body that says how to send; a POST goes on.
func TestPostOnly(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		rw := httptest.NewRecorder()
		ok := connectors.PostOnly(rw, httptest.NewRequest(method, "/ingest/hooks", nil), "send requests with POST")
		assert.False(t, ok, method)
		assert.Equal(t, http.StatusMethodNotAllowed, rw.Code, method)
		assert.Equal(t, http.MethodPost, rw.Header().Get("Allow"), method)
		assert.Equal(t, "application/problem+json", rw.Header().Get("Content-Type"), method)
		assert.Contains(t, rw.Body.String(), `"detail":"send requests with POST"`, method)
	}
	rw := httptest.NewRecorder()
	assert.True(t, connectors.PostOnly(rw, httptest.NewRequest(http.MethodPost, "/ingest/hooks", nil), "send requests with POST"))
	assert.Empty(t, rw.Header(), "a POST is not answered")
	assert.Zero(t, rw.Body.Len(), "a POST is not answered")
}

func TestAccepted(t *testing.T) {
	rw := httptest.NewRecorder()
	connectors.Accepted(rw, map[string]string{"envelope_id": "e-1", "connector": "hooks"})
	assert.Equal(t, http.StatusAccepted, rw.Code)
	assert.Equal(t, "application/json", rw.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"envelope_id": "e-1", "connector": "hooks"}`, rw.Body.String())
}
