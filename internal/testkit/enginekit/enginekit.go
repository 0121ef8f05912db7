// Package enginekit starts the engine on a SQLite store of its own, for tests: the store in a
// temporary directory, opened (which brings its schema up to date) and closed when the test
// ends, and the engine on it closed before the store. It is the part of the test kit that
// builds on the core, apart from testkit so that tests of the pipeline and the connectors can
// use the rest without linking the core. Tests inside the packages it imports (package engine,
// package sqlite) cannot use it: that would be an import cycle; their _test packages can.
//
// Only tests import it: no package of the binary may (internal/archtest checks).
package enginekit

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"gongdan/core/engine"
	"gongdan/core/store/sqlite"
)

// Fixture is an engine on a SQLite store in a temporary directory.
type Fixture struct {
	// Engine is the engine under test.
	Engine *engine.Engine
	// Store is the store the engine writes to.
	Store *sqlite.Store
	// Registry holds the engine's metrics, unless the test passed a Registerer of its own.
	Registry *prometheus.Registry
}

// New opens a store of the test's own and starts an engine on it with opts, which say what
// differs between tests (Now: a testkit.Clock's Now; Routing, SLA, Location). opts.Store is
// set to the new store, and opts.Registerer, when nil, to the fixture's Registry. Both are
// closed when the test ends, the engine first.
func New(t testing.TB, opts engine.Options) *Fixture {
	t.Helper()
	f := &Fixture{Store: OpenStore(t, ""), Registry: prometheus.NewRegistry()}
	opts.Store = f.Store
	if opts.Registerer == nil {
		opts.Registerer = f.Registry
	}
	f.Engine = Start(t, opts)
	return f
}

// OpenStore opens the SQLite store at path, or at gongdan.db in a new temporary directory
// when path is "", and closes it when the test ends. A test that puts a store of its own
// around it (to hold or fail a commit) passes that to Start.
func OpenStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "gongdan.db")
	}
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("enginekit: open the store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Start starts an engine with opts, whose Store the test opened (with OpenStore, so that the
// store is closed after the engine), and closes it when the test ends.
func Start(t testing.TB, opts engine.Options) *engine.Engine {
	t.Helper()
	e, err := engine.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("enginekit: start the engine: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}
