// Package archtest checks the dependency rules of DESIGN.md §2 on the code as it is: which
// packages may import which, and that the pure packages do no I/O. A change that breaks a
// rule fails here, with the import that broke it.
package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// imports lists, for every package matching pattern, its imports: direct ones, or with deps
// every package it builds on.
func imports(t *testing.T, pattern string, deps bool) map[string][]string {
	t.Helper()
	format := `{{.ImportPath}} {{join .Imports " "}}`
	if deps {
		format = `{{.ImportPath}} {{join .Deps " "}}`
	}
	cmd := exec.Command("go", "list", "-f", format, pattern)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go list %s: %s", pattern, out)
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

func under(pkg string, roots ...string) bool {
	for _, r := range roots {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return true
		}
	}
	return false
}

// TestTheCoreKnowsNoConnector: intake enters at the edge; the core (and the pipeline, the
// extractors, the knowledge base and the nouns, which the connectors build on) never builds on
// a connector, nor on config, which only the binary reads.
func TestTheCoreKnowsNoConnector(t *testing.T) {
	for pkg, deps := range imports(t, "gongdan/core/...", true) {
		for _, d := range deps {
			assert.False(t, under(d, "gongdan/connectors", "gongdan/config", "gongdan/cmd"), "%s builds on %s", pkg, d)
		}
	}
	for _, pattern := range []string{"gongdan/pipeline/...", "gongdan/normalize/...", "gongdan/draft/...", "gongdan/knowledge/..."} {
		for pkg, deps := range imports(t, pattern, true) {
			for _, d := range deps {
				assert.False(t, under(d, "gongdan/core", "gongdan/connectors", "gongdan/config", "gongdan/cmd"), "%s builds on %s", pkg, d)
			}
		}
	}
}

// TestConfigIsOnTheRoof: config is read by the binary alone (DESIGN.md §2). No connector and
// no core package builds on it: the connectors get their items (yamlkit.Item) and their
// ManagerOptions from cmd/gongdan, and config knows them only through the ConnectorCheck
// cmd/gongdan passes it. The one exception is connectortest, the conformance kit, which builds
// a connector from a config file exactly as gongdan serve does; only tests import it, and
// TestTheConformanceKitIsForTestsOnly keeps it so.
func TestConfigIsOnTheRoof(t *testing.T) {
	for _, pattern := range []string{"gongdan/connectors/...", "gongdan/core/..."} {
		for pkg, deps := range imports(t, pattern, true) {
			if under(pkg, "gongdan/connectors/connectortest") {
				continue
			}
			for _, d := range deps {
				assert.False(t, under(d, "gongdan/config", "gongdan/cmd"), "%s builds on %s", pkg, d)
			}
		}
	}
}

// TestTheConformanceKitIsForTestsOnly: no package but a test builds on connectortest, so its
// use of config stays out of the binary's connectors.
func TestTheConformanceKitIsForTestsOnly(t *testing.T) {
	for pkg, deps := range imports(t, "gongdan/...", true) {
		if under(pkg, "gongdan/connectors/connectortest") {
			continue
		}
		assert.NotContains(t, deps, "gongdan/connectors/connectortest", "%s builds on the conformance kit", pkg)
	}
}

// TestTheTestKitIsForTestsOnly: the test kit (a settable clock, child processes, an engine on a
// throwaway store) is imported by tests alone. go list's Imports leaves out the imports of
// _test.go files, so any package it names as importing the kit is one of the binary's.
func TestTheTestKitIsForTestsOnly(t *testing.T) {
	for pkg, direct := range imports(t, "gongdan/...", false) {
		if under(pkg, "gongdan/internal/testkit") {
			continue
		}
		for _, d := range direct {
			assert.False(t, under(d, "gongdan/internal/testkit"), "%s imports %s, which only tests may", pkg, d)
		}
	}
	// The kit's clock, children and items build on yamlkit alone, so a pipeline or connector
	// test that uses them links no core package; the engine fixture is enginekit's.
	for _, d := range imports(t, "gongdan/internal/testkit", true)["gongdan/internal/testkit"] {
		assert.False(t, strings.HasPrefix(d, "gongdan/") && d != "gongdan/internal/yamlkit", "testkit builds on %s", d)
	}
}

// TestTheScreenshotCorpusIsForTestsOnly: wxshot, the second corpus of WeChat screenshots,
// starts a browser and writes files; only tests import it, so it is never linked into
// gongdan. go list's Imports leaves out the imports of _test.go files.
func TestTheScreenshotCorpusIsForTestsOnly(t *testing.T) {
	for pkg, direct := range imports(t, "gongdan/...", false) {
		if under(pkg, "gongdan/connectors/ocr/wxshot") {
			continue
		}
		assert.NotContains(t, direct, "gongdan/connectors/ocr/wxshot", "%s imports wxshot, which only tests may", pkg)
	}
}

// TestTheYAMLKitIsALeaf: both config and the connectors build on yamlkit, so it builds on
// no other gongdan package.
func TestTheYAMLKitIsALeaf(t *testing.T) {
	for pkg, deps := range imports(t, "gongdan/internal/yamlkit", true) {
		for _, d := range deps {
			assert.False(t, strings.HasPrefix(d, "gongdan/"), "%s builds on %s", pkg, d)
		}
	}
}

// TestTheNounsStandAlone: draft is the floor every part builds on (DESIGN.md §2); it builds on
// no other gongdan package.
func TestTheNounsStandAlone(t *testing.T) {
	for pkg, deps := range imports(t, "gongdan/draft/...", true) {
		for _, d := range deps {
			assert.False(t, strings.HasPrefix(d, "gongdan/"), "%s builds on %s", pkg, d)
		}
	}
}

// ioPackages are the standard packages that reach outside the process: files, network,
// database, processes, logs.
var ioPackages = []string{"os", "os/exec", "net", "net/http", "database/sql", "syscall", "io/ioutil", "io/fs", "log", "log/slog"}

// yamlkit is the one package besides the pure ones that a pure package may build on: the
// YAML shapes of calendars and policies (core/sla) need its Duration.
// TestTheYAMLKitDoesNoIO keeps that allowance safe.
const yamlkit = "gongdan/internal/yamlkit"

// TestThePurePackagesDoNoIO: ticket, routing, sla, report, draft and normalize are decided by their
// inputs alone (DESIGN.md §2): no files, network, database or processes, no other gongdan
// package that does, and no clock of their own (time is passed in).
func TestThePurePackagesDoNoIO(t *testing.T) {
	pure := []string{"gongdan/core/ticket", "gongdan/core/routing", "gongdan/core/sla", "gongdan/core/report", "gongdan/draft", "gongdan/normalize"}
	for _, p := range pure {
		direct := imports(t, p, false)[p]
		for _, d := range direct {
			assert.False(t, slices.Contains(ioPackages, d), "%s imports %s", p, d)
			if strings.HasPrefix(d, "gongdan/") {
				assert.True(t, slices.Contains(pure, d) || d == yamlkit, "%s imports %s, which is not pure", p, d)
			}
		}
		for _, f := range sources(t, p) {
			assert.NotContains(t, readFile(t, f), "time.Now()", "%s reads the clock", f)
			assert.NotContains(t, readFile(t, f), "time.LoadLocation", "%s reads the zone database (take zones from the caller)", f)
		}
	}
}

// TestTheYAMLKitDoesNoIO: the pure packages may build on yamlkit, so it reads no clock and
// imports nothing of ioPackages but log/slog, which it needs only to redact a Secret in logs
// (Secret.LogValue formats; it writes nothing).
func TestTheYAMLKitDoesNoIO(t *testing.T) {
	for _, d := range imports(t, yamlkit, false)[yamlkit] {
		assert.False(t, slices.Contains(ioPackages, d) && d != "log/slog", "%s imports %s", yamlkit, d)
	}
	for _, f := range sources(t, yamlkit) {
		text := readFile(t, f)
		assert.NotContains(t, text, "time.Now()", "%s reads the clock", f)
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, "slog.") {
				assert.Contains(t, line, "LogValue", "%s uses log/slog for more than Secret.LogValue: %s", f, strings.TrimSpace(line))
			}
		}
	}
}

// sources lists the Go files of package pkg, tests left out.
func sources(t *testing.T, pkg string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("../..", strings.TrimPrefix(pkg, "gongdan/"), "*.go"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no Go files for %s", pkg)
	return slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.go") })
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}
