package normalize_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/draft"
	"gongdan/normalize"
)

// TestEnrichStaysWithinTheDraftLimits: a draft that came with as much evidence as a draft may
// carry is still enriched (its phone read from the text) and still valid: enrichment adds no
// evidence beyond the limit, rather than getting the draft refused for what it added.
func TestEnrichStaysWithinTheDraftLimits(t *testing.T) {
	d := draft.Draft{Title: "空调坏了，电话13812345678"}
	for range draft.MaxEvidence {
		d.Evidence = append(d.Evidence, draft.Evidence{Field: "title", Text: "x", From: "sender"})
	}
	require.NoError(t, d.Validate())
	got := normalize.Enricher{}.Enrich(d)
	assert.Equal(t, "13812345678", got.Customer.Phone, "the field is still filled")
	assert.Len(t, got.Evidence, draft.MaxEvidence)
	assert.NoError(t, got.Validate())
}
