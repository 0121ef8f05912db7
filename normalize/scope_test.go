package normalize_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/normalize"
)

// TestScopeConfine: a connector speaks only for itself. Whatever a draft claims, its source is
// its connector's, its keys are in its connector's namespace unless config lets it address
// another's, and an intent it may not send is refused.
func TestScopeConfine(t *testing.T) {
	hooks := normalize.Scope{Connector: "hooks", Type: "webhook"}
	trusted := normalize.Scope{Connector: "erp", Type: "webhook", Intents: []string{normalize.IntentUpdate}, ThreadsOf: []string{"gzh"}}
	plant := normalize.Scope{Connector: "plant", Type: "mqtt", Intents: []string{normalize.IntentUpdate, normalize.IntentResolve}}
	cases := []struct {
		name         string
		scope        normalize.Scope
		in           normalize.Draft
		dedup, tread string
		source       normalize.Source
		refused      string
	}{
		{name: "a forged source is overwritten; kind and external id stay as labels", scope: hooks,
			in:     normalize.Draft{Source: normalize.Source{Connector: "gzh", Type: "wechat.officialaccount", Kind: "text", ExternalID: "m-1"}, DedupKey: "hooks/x"},
			source: normalize.Source{Connector: "hooks", Type: "webhook", Kind: "text", ExternalID: "m-1"}, dedup: "hooks/x"},
		{name: "another connector's thread is moved into the sender's namespace", scope: hooks,
			in:    normalize.Draft{ThreadKey: "gzh/wechat:gzh:oyOR", DedupKey: "crm/424242"},
			tread: "hooks/gzh/wechat:gzh:oyOR", dedup: "hooks/crm/424242", source: normalize.Source{Connector: "hooks", Type: "webhook"}},
		{name: "a bare key is namespaced", scope: plant,
			in:    normalize.Draft{ThreadKey: "device:E1:overheat", DedupKey: "plant/E1/overheat/1", Intent: normalize.IntentResolve},
			tread: "plant/device:E1:overheat", dedup: "plant/E1/overheat/1", source: normalize.Source{Connector: "plant", Type: "mqtt"}},
		{name: "a prefix that only starts like the connector's name is not its namespace", scope: hooks,
			in: normalize.Draft{ThreadKey: "hooks2/t", DedupKey: "hooks:x"}, tread: "hooks/hooks2/t", dedup: "hooks/hooks:x",
			source: normalize.Source{Connector: "hooks", Type: "webhook"}},
		{name: "threads_of lets config name another connector's threads", scope: trusted,
			in:    normalize.Draft{ThreadKey: "gzh/wechat:gzh:oyOR", DedupKey: "crm/1", Intent: normalize.IntentUpdate},
			tread: "gzh/wechat:gzh:oyOR", dedup: "erp/crm/1", source: normalize.Source{Connector: "erp", Type: "webhook"}},
		{name: "threads_of opens threads, never dedup keys", scope: trusted,
			in:    normalize.Draft{ThreadKey: "gzh/t", DedupKey: "gzh/msg/1"},
			tread: "gzh/t", dedup: "erp/gzh/msg/1", source: normalize.Source{Connector: "erp", Type: "webhook"}},
		{name: "intent resolve from a connector that may not send it", scope: hooks,
			in: normalize.Draft{ThreadKey: "t", Intent: normalize.IntentResolve}, refused: "connector hooks may not send drafts of intent resolve"},
		{name: "intent update from a connector that may not send it", scope: hooks,
			in: normalize.Draft{ThreadKey: "t", Intent: normalize.IntentUpdate}, refused: "intent update"},
		{name: "resolve is not implied by update", scope: trusted,
			in: normalize.Draft{ThreadKey: "t", Intent: normalize.IntentResolve}, refused: "trust: {intents: [resolve]}"},
		{name: "empty keys stay empty", scope: hooks, in: normalize.Draft{}, source: normalize.Source{Connector: "hooks", Type: "webhook"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.scope.Confine(c.in)
			if c.refused != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.refused)
				var fe *normalize.FieldError
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
	_, err := normalize.Scope{}.Confine(normalize.Draft{})
	assert.Error(t, err, "a scope without a connector confines nothing")
}

// TestEnrichStaysWithinTheDraftLimits: a draft that came with as much evidence as a draft may
// carry is still enriched (its phone read from the text) and still valid: enrichment adds no
// evidence beyond the limit, rather than getting the draft refused for what it added.
func TestEnrichStaysWithinTheDraftLimits(t *testing.T) {
	d := normalize.Draft{Title: "空调坏了，电话13812345678"}
	for range normalize.MaxEvidence {
		d.Evidence = append(d.Evidence, normalize.Evidence{Field: "title", Text: "x", From: "sender"})
	}
	require.NoError(t, d.Validate())
	got := normalize.Enricher{}.Enrich(d)
	assert.Equal(t, "13812345678", got.Customer.Phone, "the field is still filled")
	assert.Len(t, got.Evidence, normalize.MaxEvidence)
	assert.NoError(t, got.Validate())
}
