package main

import (
	"fmt"
	"net/http"
	"slices"

	"gongdan/connectors"
	"gongdan/core/api"
	"gongdan/problem"
)

// intakeConnectors is what the edge needs of the running connectors.
type intakeConnectors interface {
	// Receiver returns the HTTP handler of the instance named name mounted under mount.
	Receiver(mount, name string) (http.Handler, bool)
	// Open reports whether the instance authenticates nobody (connectors.OpenIntake).
	Open(name string) bool
}

var _ intakeConnectors = (*connectors.Manager)(nil)

// intakeRoutes mount the connectors' HTTP intake at the edge, beside the API and under its
// middleware (request ids, the client behind trusted proxies, metrics): the core knows no
// connector. Connectors authenticate their own requests (signatures, tokens, WeChat's
// token), so these routes take no bearer token.
func intakeRoutes(conns intakeConnectors) []api.Route {
	var routes []api.Route
	for _, mount := range []string{"ingest", "wechat"} {
		// The connector's own paths under its name too (the hotline's /ingest/{name}/cdr).
		routes = append(routes, api.Route{Pattern: "/" + mount + "/{connector}", Handler: intakeHandler(conns, mount)},
			api.Route{Pattern: "/" + mount + "/{connector}/{rest...}", Handler: intakeHandler(conns, mount)})
	}
	return routes
}

// intakeHandler hands a request under /<mount>/{connector} to that connector.
func intakeHandler(conns intakeConnectors, mount string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("connector")
		h, ok := conns.Receiver(mount, name)
		if !ok {
			problem.Write(w, r, problem.New(http.StatusNotFound, "not-found",
				fmt.Sprintf("no connector named %q takes requests at /%s/ (see connectors: in the config)", name, mount)))
			return
		}
		if rest := r.PathValue("rest"); rest != "" {
			if sp, ok := h.(connectors.SubPaths); !ok || !slices.Contains(sp.Paths(), rest) {
				problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", fmt.Sprintf("connector %s takes no requests at /%s/%s/%s", name, mount, name, rest)))
				return
			}
		}
		// A connector that authenticates nobody is served on loopback only (validate refuses
		// it elsewhere); a proxy on this host would make it anyone's, so it takes requests only
		// from this host, directly.
		if conns.Open(name) && !api.ClientOf(r).Local() {
			problem.Write(w, r, problem.New(http.StatusForbidden, "local-only", fmt.Sprintf(
				"connector %s authenticates nobody (no signature or tokens), so it takes requests only from this host, not through a proxy; configure its signature or tokens", name)))
			return
		}
		// Connectors see the client, not the proxy in front of it (server.trusted_proxies):
		// their budgets and logs are per sender.
		h.ServeHTTP(w, api.AsClient(r))
	})
}
