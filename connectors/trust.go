package connectors

import (
	"slices"

	"gongdan/draft"
)

// Field names of the trust section every connector has.
const (
	fieldTrust          = "trust"
	fieldTrustIntents   = "intents"
	fieldTrustThreadsOf = "threads_of"
)

// trustField is the section every connector type gets beside its own fields: what its drafts
// may say beyond themselves. Nothing, unless config says so (DESIGN.md §11, docs/SECURITY.md).
func trustField() Field {
	return Field{
		Name: fieldTrust, Kind: KindObject, Advanced: true,
		Description: "What this connector's drafts may say beyond themselves. By default nothing: the pipeline sets a draft's source to this connector, " +
			"puts its dedup and thread keys in this connector's namespace (<name>/…), and refuses (as a dead letter) an intent that the connector's type does not use for its own incidents.",
		Fields: []Field{
			{
				Name: fieldTrustIntents, Kind: KindStringList, Enum: []string{draft.IntentUpdate, draft.IntentResolve},
				Description: "Intents honoured from this connector's drafts besides those its type uses itself (mqtt: update and resolve; ocr: update). " +
					"resolve lets the sender resolve the tickets of its own threads: give it only to an integration that closes its own incidents, and sign its requests.",
				Example: "[update]",
			},
			{
				Name: fieldTrustThreadsOf, Kind: KindStringList, Pattern: `^[a-z0-9][a-z0-9_-]*$`, PatternHint: "connector names",
				Description: "Other connectors whose threads this connector's drafts may join (a thread_key \"gzh/…\" joins the gzh connector's open tickets). " +
					"Without it such a key is moved into this connector's own namespace. Dedup keys always stay in this connector's own: none can pre-empt another connector's request.",
				Example: "[gzh]",
			},
		},
	}
}

// scope is what an instance's drafts may say: its type's own intents and config's opt-ins.
func scope(name string, spec *Spec, conf *Conf) draft.Scope {
	s := draft.Scope{Connector: name, Type: spec.Type, Intents: slices.Clone(spec.Intents)}
	if t := conf.Object(fieldTrust); t != nil {
		for _, in := range t.StringList(fieldTrustIntents) {
			if !slices.Contains(s.Intents, in) {
				s.Intents = append(s.Intents, in)
			}
		}
		s.ThreadsOf = t.StringList(fieldTrustThreadsOf)
	}
	return s
}
