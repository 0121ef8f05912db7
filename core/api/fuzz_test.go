package api_test

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRequestBodies sends arbitrary bodies to the create and action endpoints. However bad
// the input, the answer is a 2xx or a 4xx problem, never a 5xx or a crash.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{draftJSON, `{}`, `[]`, `{"title":1}`, `{"data":{"assignee":"eng-li"}}`, `{"expected_version":-1}`,
		`{"title":"x","urgency":"purple"}`, `{"title":"x","location":{"lat":1e999}}`, "\xff\xfe", `{"title":"x"}{"title":"y"}`} {
		f.Add(seed, "assign")
	}
	c := newServer(f)
	id := c.create()["id"].(string)
	f.Fuzz(func(t *testing.T, body, action string) {
		for _, path := range []string{"/api/v1/tickets", "/api/v1/tickets/" + id + "/actions/" + url.PathEscape(action)} {
			req := httptest.NewRequest("POST", path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer tok-admin")
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			c.api.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("%s %q: %d %s", path, body, w.Code, w.Body)
			}
			if w.Code >= 400 && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%s %q: %d without problem+json", path, body, w.Code)
			}
		}
	})
}
