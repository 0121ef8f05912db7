package main

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/core/engine"
	"gongdan/core/report"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/draft"
)

// TestAnUpgradedStoreGetsItsKPIFacts: a store with tickets and no KPI facts (kept from before
// they were) has them folded once when serve starts, before anything is written.
func TestAnUpgradedStoreGetsItsKPIFacts(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.ParseWith("kpi.yaml", []byte("bus: {driver: memory}\nconnectors: [{name: hooks, type: webhook}]\n"), connectors.Global.Validate)
	require.NoError(t, err)
	cfg.ResolvePaths(dir)
	ctx := context.Background()
	open := func() *stack {
		st, err := openStack(ctx, cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		require.NoError(t, err)
		return st
	}
	st := open()
	for _, title := range []string{"一", "二", "三"} {
		_, _, err := st.engine.Create(ctx, engine.CreateRequest{Actor: ticket.SystemActor, Draft: draft.Draft{Title: title}})
		require.NoError(t, err)
	}
	st.close(ctx)

	// As a store of before: the tickets, no facts.
	db, err := sql.Open("sqlite", filepath.Join(dir, "gongdan.db"))
	require.NoError(t, err)
	_, err = db.Exec(`DELETE FROM kpi_facts`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	st = open()
	defer st.close(ctx)
	var rs store.ReportStore = st.store
	missing, err := rs.KPIFactsMissing(ctx)
	require.NoError(t, err)
	assert.False(t, missing)
	n := 0
	require.NoError(t, rs.ScanKPIFacts(ctx, 0, func(*report.Facts) { n++ }))
	assert.Equal(t, 3, n, "every ticket's facts folded")
}
