package all_test

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/connectors"
	_ "gongdan/connectors/all"
	"gongdan/connectors/wechat"
)

var update = flag.Bool("update", false, "rewrite docs/connectors from the connector specs (as gongdan connectors docs does)")

const docsDir = "../../docs/connectors"

// Every connector type's Example is what its docs and sample file show users: it must
// validate as it is, with the environment variables it references set.
func TestExamplesValidate(t *testing.T) {
	specs := connectors.Global.Specs()
	require.NotEmpty(t, specs, "no connector types registered")
	envVar := regexp.MustCompile(`\$\{([A-Z0-9_]+)`)
	for _, spec := range specs {
		t.Run(spec.Type, func(t *testing.T) {
			require.NotEmpty(t, strings.TrimSpace(spec.Example), "the spec has no Example")
			for _, m := range envVar.FindAllStringSubmatch(spec.Example, -1) {
				v := "example-secret-value-0123456789" // long enough for any secret
				if strings.HasSuffix(m[1], "AES_KEY") {
					v = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" // WeChat's EncodingAESKey: 43 characters
				}
				t.Setenv(m[1], v)
			}
			var b strings.Builder
			b.WriteString("connectors:\n")
			for _, line := range strings.Split(strings.TrimRight(spec.Example, "\n"), "\n") {
				b.WriteString("  " + line + "\n")
			}
			cfg, err := config.ParseWith(spec.Type+" example", []byte(b.String()), connectors.Global.Validate)
			if spec.Type == wechat.TypeArchive && !wechat.SDKBuilt {
				// Refused at validation on a binary without WeCom's SDK, and said why.
				require.ErrorContains(t, err, "-tags msgaudit")
				return
			}
			require.NoError(t, err)
			require.NotEmpty(t, cfg.Connectors)
			for _, c := range cfg.Connectors {
				assert.Equal(t, spec.Type, c.Type, "an example shows its own type")
			}
		})
	}
}

// The docs under docs/connectors are generated from the specs; CI fails when they are stale.
func TestDocsUpToDate(t *testing.T) {
	if *update {
		require.NoError(t, connectors.Global.WriteDocs(docsDir))
	}
	if stale := connectors.Global.StaleDocs(docsDir); len(stale) > 0 {
		t.Fatalf("connector docs are stale; run: go run ./cmd/gongdan connectors docs\n%s", strings.Join(stale, "\n"))
	}
	_, err := os.Stat(docsDir + "/README.md")
	require.NoError(t, err)
}

// A field that names a file or a folder is a KindPath, read with Conf.Path: under the data
// root (serve --data), never under the directory the process was started in.
func TestFilesAndFoldersArePaths(t *testing.T) {
	named := regexp.MustCompile(`(^|_)(file|dir|folder|path)$`)
	var check func(where string, fields []connectors.Field)
	check = func(where string, fields []connectors.Field) {
		for _, f := range fields {
			if named.MatchString(f.Name) && !f.Secret {
				assert.Equal(t, connectors.KindPath, f.Kind, "%s.%s names a file or folder", where, f.Name)
			}
			check(where+"."+f.Name, f.Fields)
		}
	}
	for _, spec := range connectors.Global.Specs() {
		check(spec.Type, spec.Fields)
	}
}
