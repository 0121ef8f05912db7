package draft_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/draft"
)

// TestScopeConfine: a connector speaks only for itself. Whatever a draft claims, its source is
// its connector's, its keys are in its connector's namespace unless config lets it address
// another's, and an intent it may not send is refused.
func TestScopeConfine(t *testing.T) {
	hooks := draft.Scope{Connector: "hooks", Type: "webhook"}
	trusted := draft.Scope{Connector: "erp", Type: "webhook", Intents: []string{draft.IntentUpdate}, ThreadsOf: []string{"gzh"}}
	plant := draft.Scope{Connector: "plant", Type: "mqtt", Intents: []string{draft.IntentUpdate, draft.IntentResolve}}
	cases := []struct {
		name         string
		scope        draft.Scope
		in           draft.Draft
		dedup, tread string
		source       draft.Source
		refused      string
	}{
		{name: "a forged source is overwritten; kind and external id stay as labels", scope: hooks,
			in:     draft.Draft{Source: draft.Source{Connector: "gzh", Type: "wechat.officialaccount", Kind: "text", ExternalID: "m-1"}, DedupKey: "hooks/x"},
			source: draft.Source{Connector: "hooks", Type: "webhook", Kind: "text", ExternalID: "m-1"}, dedup: "hooks/x"},
		{name: "another connector's thread is moved into the sender's namespace", scope: hooks,
			in:    draft.Draft{ThreadKey: "gzh/wechat:gzh:oyOR", DedupKey: "crm/424242"},
			tread: "hooks/gzh/wechat:gzh:oyOR", dedup: "hooks/crm/424242", source: draft.Source{Connector: "hooks", Type: "webhook"}},
		{name: "a bare key is namespaced", scope: plant,
			in:    draft.Draft{ThreadKey: "device:E1:overheat", DedupKey: "plant/E1/overheat/1", Intent: draft.IntentResolve},
			tread: "plant/device:E1:overheat", dedup: "plant/E1/overheat/1", source: draft.Source{Connector: "plant", Type: "mqtt"}},
		{name: "a prefix that only starts like the connector's name is not its namespace", scope: hooks,
			in: draft.Draft{ThreadKey: "hooks2/t", DedupKey: "hooks:x"}, tread: "hooks/hooks2/t", dedup: "hooks/hooks:x",
			source: draft.Source{Connector: "hooks", Type: "webhook"}},
		{name: "threads_of lets config name another connector's threads", scope: trusted,
			in:    draft.Draft{ThreadKey: "gzh/wechat:gzh:oyOR", DedupKey: "crm/1", Intent: draft.IntentUpdate},
			tread: "gzh/wechat:gzh:oyOR", dedup: "erp/crm/1", source: draft.Source{Connector: "erp", Type: "webhook"}},
		{name: "threads_of opens threads, never dedup keys", scope: trusted,
			in:    draft.Draft{ThreadKey: "gzh/t", DedupKey: "gzh/msg/1"},
			tread: "gzh/t", dedup: "erp/gzh/msg/1", source: draft.Source{Connector: "erp", Type: "webhook"}},
		{name: "intent resolve from a connector that may not send it", scope: hooks,
			in: draft.Draft{ThreadKey: "t", Intent: draft.IntentResolve}, refused: "connector hooks may not send drafts of intent resolve"},
		{name: "intent update from a connector that may not send it", scope: hooks,
			in: draft.Draft{ThreadKey: "t", Intent: draft.IntentUpdate}, refused: "intent update"},
		{name: "resolve is not implied by update", scope: trusted,
			in: draft.Draft{ThreadKey: "t", Intent: draft.IntentResolve}, refused: "trust: {intents: [resolve]}"},
		{name: "empty keys stay empty", scope: hooks, in: draft.Draft{}, source: draft.Source{Connector: "hooks", Type: "webhook"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.scope.Confine(c.in)
			if c.refused != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.refused)
				var fe *draft.FieldError
				assert.ErrorAs(t, err, &fe, "a field error: the pipeline dead-letters it, the API answers 422")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.source, got.Source)
			assert.Equal(t, c.dedup, got.DedupKey)
			assert.Equal(t, c.tread, got.ThreadKey)
			again, err := c.scope.Confine(got)
			require.NoError(t, err)
			assert.Equal(t, got, again, "confining twice changes nothing")
		})
	}
	_, err := draft.Scope{}.Confine(draft.Draft{})
	assert.Error(t, err, "a scope without a connector confines nothing")
}
