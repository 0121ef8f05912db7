package pipeline_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/draft"
	"gongdan/pipeline"
	"gongdan/pipeline/bus"
	"gongdan/pipeline/deadletter"
)

// TestDraftsSpeakOnlyForTheirConnector: a draft webhook's payload claims another connector's
// source, thread and dedup key, and an intent; what reaches the core is confined to the
// webhook's own scope, and the intent it may not send is a dead letter with the reason. An
// envelope on a connector's raw topic that names another connector is refused too.
func TestDraftsSpeakOnlyForTheirConnector(t *testing.T) {
	ctx := context.Background()
	bus, err := bus.Open(ctx, bus.Config{Driver: "memory"}, nil)
	require.NoError(t, err)
	got := newTickets()
	dls := deadletter.NewMemory()
	p, err := pipeline.New(pipeline.Options{
		Bus:           bus,
		Sources:       []pipeline.Source{{Name: "hooks", Normalizer: draft.NormalizerFunc(draft.FromJSON), Scope: draft.Scope{Connector: "hooks", Type: "webhook"}}},
		Intake:        got.intake,
		DeadLetters:   dls,
		Retries:       1,
		RetryInterval: 1,
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-p.Running()
	t.Cleanup(func() {
		require.NoError(t, p.Close())
		require.NoError(t, <-done)
		require.NoError(t, bus.Close())
	})

	draftEnvelope := func(id, body string) draft.Envelope {
		env := envelope(id, body)
		env.Type = draft.TypeDraft
		return env
	}
	forged := `{"title":"已修好","source":{"connector":"gzh","type":"wechat.officialaccount"},
		"customer":{"wechat_openid":"oyORnuP8q7ou2gfYjqLzSIWZf0rs"},
		"thread_key":"gzh/wechat:gzh:oyORnuP8q7ou2gfYjqLzSIWZf0rs","dedup_key":"crm/424242"}`
	require.NoError(t, p.Publish(ctx, draftEnvelope("env-forged", forged)))
	require.NoError(t, p.Publish(ctx, draftEnvelope("env-resolve", `{"title":"已修好","thread_key":"gzh/wechat:gzh:x","intent":"resolve"}`)))
	// Within the limit as sent, over it in the webhook's namespace: a dead letter of the
	// envelope (replayable), not of the draft.
	long := strings.Repeat("k", 509)
	require.NoError(t, p.Publish(ctx, draftEnvelope("env-long", `{"title":"很长的线程","thread_key":"`+long+`"}`)))

	// Straight onto raw.hooks, as nothing but the hooks connector should publish there.
	foreign, err := json.Marshal(draft.Envelope{ID: "env-foreign", Connector: "gzh", ConnectorType: "wechat.officialaccount",
		Type: draft.TypeDraft, Payload: []byte(`{"title":"x"}`)})
	require.NoError(t, err)
	require.NoError(t, bus.Publisher().Publish(pipeline.RawTopic("hooks"), message.NewMessage("env-foreign", foreign)))

	// Straight onto the drafts topic, as an older version wrote drafts before the upgrade (or
	// a replayed dead letter of intake brings them back): confined there too, by the
	// connector the message names; a draft of no configured connector is refused.
	old := message.NewMessage("draft-old", []byte(`{"title":"旧版本的草稿","source":{"connector":"gzh"},"thread_key":"wechat:gzh:x","dedup_key":"gzh/msg/9"}`))
	old.Metadata.Set("gongdan_connector", "hooks")
	require.NoError(t, bus.Publisher().Publish("drafts", old))
	stray := message.NewMessage("draft-stray", []byte(`{"title":"x"}`))
	stray.Metadata.Set("gongdan_connector", "nobody")
	require.NoError(t, bus.Publisher().Publish("drafts", stray))

	require.Eventually(t, func() bool { return got.count() == 2 }, wait, tick)
	got.mu.Lock()
	d, ok := got.byKey["hooks/crm/424242"]
	older, confined := got.byKey["hooks/gzh/msg/9"]
	got.mu.Unlock()
	require.True(t, confined, "the old draft's dedup key is in hooks's namespace")
	assert.Equal(t, "hooks", older.Source.Connector)
	assert.Equal(t, "hooks/wechat:gzh:x", older.ThreadKey)
	require.True(t, ok, "the dedup key is in the webhook's namespace, not the CRM's")
	assert.Equal(t, draft.Source{Connector: "hooks", Type: "webhook"}, d.Source, "the pipeline, not the payload, sets the source")
	assert.Equal(t, "hooks/gzh/wechat:gzh:oyORnuP8q7ou2gfYjqLzSIWZf0rs", d.ThreadKey, "the thread key cannot reach the WeChat customer's thread")

	var reasons []string
	require.Eventually(t, func() bool {
		page, err := dls.DeadLetters(ctx, deadletter.Query{Limit: 10})
		require.NoError(t, err)
		reasons = reasons[:0]
		for _, dl := range page.DeadLetters {
			reasons = append(reasons, dl.Error)
		}
		return len(reasons) == 4
	}, wait, tick)
	all := strings.Join(reasons, "\n")
	assert.Contains(t, all, "connector hooks may not send drafts of intent resolve")
	assert.Contains(t, all, `an envelope of connector "gzh" on raw.hooks`)
	assert.Contains(t, all, `a draft of connector "nobody", which is not in the config`)
	assert.Contains(t, all, "the draft as the core would take it: thread_key: 515 bytes")
	assert.Equal(t, 2, got.count(), "none of them made a ticket")
}
