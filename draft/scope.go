package draft

import (
	"fmt"
	"slices"
	"strings"
)

// Scope is what one connector may say in its drafts (DESIGN.md §11, docs/SECURITY.md): a
// connector speaks only for itself. The pipeline confines every draft to the scope of the
// connector whose raw topic it came from, whatever the payload claims: a draft webhook that
// sends {"source": {"connector": "gzh"}} or {"thread_key": "gzh/…"} must not act as the
// WeChat connector nor reach its customers' tickets.
type Scope struct {
	// Connector is the connector's name: the draft's source.connector, and the namespace of
	// its dedup and thread keys ("<connector>/…").
	Connector string
	// Type is the connector's type, the draft's source.type.
	Type string
	// Intents are the intents (IntentUpdate, IntentResolve) honoured from this connector: the
	// ones its type uses to close its own incidents (an MQTT clear), or what config opted in
	// to (trust.intents). A draft with any other intent is refused.
	Intents []string
	// ThreadsOf are other connectors whose threads this connector may address (config's
	// trust.threads_of): a thread key "<other>/…" is then kept as it is, not moved into this
	// connector's own namespace. Dedup keys always stay in the connector's own.
	ThreadsOf []string
}

// Confine makes d speak only for s: source.connector and source.type are s's (the payload's
// claims are overwritten; kind and external_id stay, as labels), dedup and thread keys are
// moved into s's namespace unless they already are in it (or, for a thread key, in one of
// ThreadsOf), and an intent s may not send is an error. Confining a confined draft changes
// nothing.
func (s Scope) Confine(d Draft) (Draft, error) {
	if s.Connector == "" {
		return d, fmt.Errorf("confine: a scope needs a connector name")
	}
	d.Source.Connector = s.Connector
	if s.Type != "" {
		d.Source.Type = s.Type
	}
	if d.Intent != "" && !slices.Contains(s.Intents, d.Intent) {
		return d, &FieldError{"intent", fmt.Sprintf("connector %s may not send drafts of intent %s: only connectors that close their own incidents (mqtt) may, or those whose config opts in with trust: {intents: [%s]}",
			s.Connector, d.Intent, d.Intent)}
	}
	// ThreadsOf opens other connectors' threads, never their dedup keys: a key taken first
	// would make the other connector's own request vanish as a duplicate.
	d.DedupKey = s.key(d.DedupKey, nil)
	d.ThreadKey = s.key(d.ThreadKey, s.ThreadsOf)
	return d, nil
}

// key puts k into the scope's namespace: "<connector>/k", unless it is there already or in
// the namespace of one of others. Connector names have no "/", so a key's namespace is what
// comes before its first "/".
func (s Scope) key(k string, others []string) string {
	if k == "" {
		return ""
	}
	if ns, _, ok := strings.Cut(k, "/"); ok && (ns == s.Connector || slices.Contains(others, ns)) {
		return k
	}
	return s.Connector + "/" + k
}
