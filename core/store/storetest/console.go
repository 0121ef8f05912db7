package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
	"gongdan/core/ticket"
)

// Console sessions read back by their hash as written; a touch moves the last use forward
// only; deleting ends one; the sweep ends those idle or too old and says how many. Saved
// views are each owner's own, replaced by name.
func testConsole(t *testing.T, f *fixture) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	_, err := f.s.SessionByHash(f.ctx, hash("none"))
	assert.ErrorIs(t, err, store.ErrNotFound)
	disp := ticket.Actor{ID: "disp-chen", Role: ticket.RoleDispatcher}
	for i, name := range []string{"a", "b", "c"} {
		require.NoError(t, f.s.PutSession(f.ctx, store.Session{Hash: hash(name), Actor: disp, Name: "陈调度", Via: "token:ab",
			CSRF: "csrf-" + name, CreatedAt: at.Add(time.Duration(i) * time.Hour), SeenAt: at.Add(time.Duration(i) * time.Hour)}))
	}
	got, err := f.s.SessionByHash(f.ctx, hash("b"))
	require.NoError(t, err)
	assert.Equal(t, disp, got.Actor)
	assert.Equal(t, "陈调度", got.Name)
	assert.Equal(t, "csrf-b", got.CSRF)
	assert.True(t, got.CreatedAt.Equal(at.Add(time.Hour)))

	require.NoError(t, f.s.TouchSession(f.ctx, hash("a"), at.Add(5*time.Hour)))
	require.NoError(t, f.s.TouchSession(f.ctx, hash("a"), at.Add(4*time.Hour)), "an older touch")
	got, err = f.s.SessionByHash(f.ctx, hash("a"))
	require.NoError(t, err)
	assert.True(t, got.SeenAt.Equal(at.Add(5*time.Hour)), "the last use never goes back")

	// b was last seen at +1h (idle before +1h30m); c was made at +2h (too old before +2h30m
	// is not: kept); a was made at 0 and is older than +30m.
	n, err := f.s.DeleteSessionsBefore(f.ctx, at.Add(90*time.Minute), at.Add(30*time.Minute))
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
	for name, kept := range map[string]bool{"a": false, "b": false, "c": true} {
		_, err := f.s.SessionByHash(f.ctx, hash(name))
		assert.Equal(t, kept, err == nil, name)
	}
	require.NoError(t, f.s.DeleteSession(f.ctx, hash("c")))
	require.NoError(t, f.s.DeleteSession(f.ctx, hash("c")), "twice")
	_, err = f.s.SessionByHash(f.ctx, hash("c"))
	assert.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, f.s.PutView(f.ctx, store.View{Owner: "disp-chen", Name: "红色", Query: "urgency=red"}))
	require.NoError(t, f.s.PutView(f.ctx, store.View{Owner: "disp-chen", Name: "红色", Query: "urgency=red&team=a"}))
	require.NoError(t, f.s.PutView(f.ctx, store.View{Owner: "disp-chen", Name: "超时", Query: "sla=breached"}))
	require.NoError(t, f.s.PutView(f.ctx, store.View{Owner: "sup-wang", Name: "红色", Query: "urgency=red&state=new"}))
	vs, err := f.s.Views(f.ctx, "disp-chen")
	require.NoError(t, err)
	require.Len(t, vs, 2)
	assert.Equal(t, "红色", vs[0].Name, "by name (code point order: 红 U+7EA2 before 超 U+8D85)")
	assert.Equal(t, "urgency=red&team=a", vs[0].Query, "replaced by name")
	assert.Equal(t, "超时", vs[1].Name)
	require.NoError(t, f.s.DeleteView(f.ctx, "disp-chen", "红色"))
	vs, err = f.s.Views(f.ctx, "disp-chen")
	require.NoError(t, err)
	assert.Len(t, vs, 1)
	vs, err = f.s.Views(f.ctx, "sup-wang")
	require.NoError(t, err)
	assert.Len(t, vs, 1, "another owner's view is untouched")
}
