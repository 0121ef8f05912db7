package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
)

// Cards read back as written, newest first, per engineer; a card's key gives it once, in
// the same transaction or a later one; a failed write keeps none of its cards.
func testCards(t *testing.T, f *fixture) {
	none, err := f.s.Cards(f.ctx, "eng-li")
	require.NoError(t, err)
	assert.Empty(t, none, "a new store")

	at := f.tick()
	yellow := store.Card{Engineer: "eng-li", Kind: "yellow", Cause: "rating", TicketID: "GD-20261124-000001", At: at,
		ExpiresAt: at.Add(30 * 24 * time.Hour), Detail: "rated 2", Key: "GD-20261124-000001/5/rating"}
	red := store.Card{Engineer: "eng-li", Kind: "red", Cause: "yellows", TicketID: "GD-20261124-000002", At: at.Add(time.Hour),
		ExpiresAt: at.Add(25 * time.Hour), Key: "GD-20261124-000002/5/red"}
	other := store.Card{Engineer: "eng-zhao", Kind: "yellow", Cause: "repeat", TicketID: "GD-20261124-000003", At: at,
		ExpiresAt: at.Add(time.Hour), Key: "GD-20261124-000009/repeat"}
	require.NoError(t, f.write(func(w *writer) error {
		for _, c := range []store.Card{yellow, red, other} {
			added, err := w.tx.PutCard(c)
			if err != nil {
				return err
			}
			assert.True(t, added, c.Key)
		}
		again := yellow
		again.Detail = "a second time"
		added, err := w.tx.PutCard(again)
		assert.False(t, added, "the same key in the same transaction")
		return err
	}))
	require.NoError(t, f.write(func(w *writer) error {
		added, err := w.tx.PutCard(red)
		assert.False(t, added, "the same key in a later transaction")
		return err
	}))
	failed := errors.New("the batch fails")
	err = f.write(func(w *writer) error {
		lost := yellow
		lost.Key = "lost"
		_, err := w.tx.PutCard(lost)
		require.NoError(t, err)
		return failed
	})
	require.ErrorIs(t, err, failed)

	cards, err := f.s.Cards(f.ctx, "eng-li")
	require.NoError(t, err)
	require.Len(t, cards, 2)
	assert.Equal(t, []string{"red", "yellow"}, []string{cards[0].Kind, cards[1].Kind}, "newest first")
	got := cards[1]
	assert.NotZero(t, got.ID)
	assert.True(t, yellow.At.Equal(got.At) && yellow.ExpiresAt.Equal(got.ExpiresAt), "times %s %s", got.At, got.ExpiresAt)
	got.ID, got.At, got.ExpiresAt = 0, yellow.At, yellow.ExpiresAt
	assert.Equal(t, yellow, got)
	zhao, err := f.s.Cards(f.ctx, "eng-zhao")
	require.NoError(t, err)
	assert.Len(t, zhao, 1)
}
