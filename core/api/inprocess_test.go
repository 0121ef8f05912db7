package api_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/ticket"
)

// TestInProcessCallsKeepEveryRule: a call the console makes as a signed-in actor (AsActor)
// is admitted by the same role lists and ownership checks as a token's; a header cannot
// claim an actor.
func TestInProcessCallsKeepEveryRule(t *testing.T) {
	c := newServer(t)
	do := func(actor ticket.Actor, method, path string) int {
		req := httptest.NewRequest(method, path, nil).WithContext(api.AsActor(context.Background(), actor))
		rec := httptest.NewRecorder()
		c.api.ServeHTTP(rec, req)
		return rec.Code
	}
	eng := ticket.Actor{ID: "eng-li", Role: ticket.RoleEngineer}
	admin := ticket.Actor{ID: "admin-1", Role: ticket.RoleAdmin}
	assert.Equal(t, http.StatusOK, do(eng, "GET", "/api/v1/tickets"))
	assert.Equal(t, http.StatusForbidden, do(eng, "GET", "/api/v1/deadletters"), "the role list applies")
	assert.NotEqual(t, http.StatusForbidden, do(admin, "GET", "/api/v1/deadletters"))

	r := c.do("POST", "/api/v1/tickets", "tok-agent", `{"title":"空调不制冷"}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	id := r.json(t)["id"].(string)
	cust := ticket.Actor{ID: "cust-somebody", Role: ticket.RoleCustomer}
	assert.Equal(t, http.StatusNotFound, do(cust, "GET", "/api/v1/tickets/"+id), "a customer's ownership applies")

	// From the network nothing but a token is believed.
	req, _ := http.NewRequest("GET", c.url+"/api/v1/tickets", nil)
	req.Header.Set("X-Actor", "admin-1")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

// TestRolesForIsWhatTheRoutesAdmit: the console's gate reads the API's own role lists.
func TestRolesForIsWhatTheRoutesAdmit(t *testing.T) {
	c := newServer(t)
	assert.True(t, c.api.Admits("GET /api/v1/tickets", ticket.RoleEngineer))
	assert.False(t, c.api.Admits("GET /api/v1/tickets", ticket.RoleCustomer))
	assert.True(t, c.api.Admits("GET /api/v1/tickets/{id}", ticket.RoleCustomer))
	assert.False(t, c.api.Admits("POST /api/v1/deadletters/{id}/replay", ticket.RoleEngineer))
	assert.Empty(t, c.api.RolesFor("GET /api/v1/nothing"))
	roles := c.api.RolesFor("GET /api/v1/reports/kpi")
	roles[0] = ticket.RoleCustomer // a copy: the API's list is not changed
	assert.False(t, c.api.Admits("GET /api/v1/reports/kpi", ticket.RoleCustomer))
}

// TestTokenLookupForSignIn: the console's sign-in finds a token as a request would present
// it (a demo token only from this host), and a session's token is known while configured.
func TestTokenLookupForSignIn(t *testing.T) {
	c := newServer(t)
	local := httptest.NewRequest("POST", "/console/signin", nil)
	local.RemoteAddr = "127.0.0.1:5000"
	remote := httptest.NewRequest("POST", "/console/signin", nil)
	remote.RemoteAddr = "203.0.113.9:5000"
	tok, ok := c.api.Lookup(remote, "tok-disp")
	require.True(t, ok)
	assert.Equal(t, "disp-chen", tok.Actor.ID)
	_, ok = c.api.Lookup(remote, "tok-nope")
	assert.False(t, ok)
	_, ok = c.api.Lookup(remote, "demo-admin")
	assert.False(t, ok, "a demo token from afar")
	_, ok = c.api.Lookup(local, "demo-admin")
	assert.True(t, ok)
	assert.True(t, c.api.HasToken(sha256.Sum256([]byte("tok-disp")), tok.Actor))
	assert.False(t, c.api.HasToken(sha256.Sum256([]byte("tok-disp")), ticket.Actor{ID: "someone-else", Role: ticket.RoleDispatcher}))
	assert.False(t, c.api.HasToken(sha256.Sum256([]byte("tok-gone")), tok.Actor))
}
