package console_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

func TestQueueSmoke(t *testing.T) {
	s := newSite(t)
	tk := s.create(t, estop("急停按钮失灵"))
	b := s.as(t, ticket.RoleDispatcher)
	p := b.get("/console/queue")
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Contains(t, p.body, tk.ID)
	t.Log(p.body)
}
