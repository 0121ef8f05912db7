package api_test

import (
	"net/http"
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

// FuzzListQuery sends arbitrary query strings to the ticket list and the SLA board. However bad the query, the answer is a 2xx or a 4xx problem, never a
// 5xx: a NUL byte in q once reached SQLite's full-text query and answered 500.
func FuzzListQuery(f *testing.F) {
	for _, seed := range []string{"", "q=ab%00c", "q=%00", "q=%ff%fe", "q=%22%22%22", "q=a*b+OR+c", "q=NEAR(a+b)",
		"q=%E6%80%A5%E5%81%9C", "state=new,assigned&urgency=red", "state=nope", "limit=0", "limit=99999999999999999999",
		"cursor=%00", "cursor=Zm9v", "assignee=%00&team=%ff", "q=" + strings.Repeat("%E6%80%A5", 300), "%zz=1&q=x", "q=a&q=b"} {
		f.Add(seed)
	}
	c := newServer(f)
	c.create()
	f.Fuzz(func(t *testing.T, query string) {
		for _, path := range []string{"/api/v1/tickets", "/api/v1/sla/board"} {
			req := httptest.NewRequest("GET", path, nil)
			req.URL.RawQuery = query
			req.Header.Set("Authorization", "Bearer tok-admin")
			w := httptest.NewRecorder()
			c.api.ServeHTTP(w, req)
			if w.Code >= http.StatusInternalServerError {
				t.Fatalf("GET %s?%s: %d %s", path, query, w.Code, w.Body)
			}
			if w.Code >= 400 && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("GET %s?%s: %d without problem+json", path, query, w.Code)
			}
		}
	})
}
