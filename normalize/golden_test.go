package normalize

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gongdan/configs/dictionaries"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite normalize/testdata/*/expected.json from the extractors' output")

// goldenResult is everything the extractors find in one message.
type goldenResult struct {
	Phones    []Match   `json:"phones"`
	DeviceIDs []Match   `json:"device_ids"`
	Address   *Address  `json:"address"`
	Time      *Match    `json:"time"`
	Urgency   *Match    `json:"urgency"`
	Category  *Category `json:"category"`
}

// Category is the dictionary's answer in a golden file.
type Category struct {
	Match
	Tags []string `json:"tags"`
}

// goldenNow is when every golden message is taken to have arrived: Monday 23 November 2026,
// 10:00 in Shanghai.
var goldenNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func extractAll(t *testing.T, text string) goldenResult {
	t.Helper()
	patterns, err := CompileDevicePatterns([]string{`E\d{9}`, `SN[:：]?\s*([A-Z0-9]{8,16})`})
	require.NoError(t, err)
	dict, err := LoadDictionary(bytes.NewReader(dictionaries.Faults))
	require.NoError(t, err)

	r := goldenResult{
		Phones:    ExtractPhones(text),
		DeviceIDs: ExtractDeviceIDs(text, patterns),
	}
	if a, ok := ExtractAddress(text); ok {
		r.Address = &a
	}
	if _, m, ok := ParseChineseTime(text, goldenNow); ok {
		r.Time = &m
	}
	if _, m, ok := UrgencyFromText(text, DefaultUrgencyKeywords()); ok {
		r.Urgency = &m
	}
	if _, tags, m, ok := dict.Classify(text); ok {
		r.Category = &Category{Match: m, Tags: tags}
	}
	return r
}

// TestGolden runs every extractor over testdata/<case>/input.txt and compares with expected.json.
// After a deliberate change, run `go test ./normalize/ -run TestGolden -update` and review the diff.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "input.txt"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(dirs), 8, "golden cases missing")
	for _, input := range dirs {
		dir := filepath.Dir(input)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			text, err := os.ReadFile(input)
			require.NoError(t, err)
			got := extractAll(t, string(text))
			for _, m := range allMatches(got) {
				assert.Equal(t, string(text)[m.Start:m.End], m.Text, "offsets of %q", m.Value)
			}
			gotJSON, err := json.MarshalIndent(got, "", "  ")
			require.NoError(t, err)
			gotJSON = append(gotJSON, '\n')
			expectedPath := filepath.Join(dir, "expected.json")
			if *update {
				require.NoError(t, os.WriteFile(expectedPath, gotJSON, 0o644))
			}
			want, err := os.ReadFile(expectedPath)
			require.NoError(t, err, "run with -update to create it, then review it")
			assert.JSONEq(t, string(want), string(gotJSON))
		})
	}
}

func allMatches(r goldenResult) []Match {
	ms := append(append([]Match{}, r.Phones...), r.DeviceIDs...)
	for _, m := range []*Match{r.Time, r.Urgency} {
		if m != nil {
			ms = append(ms, *m)
		}
	}
	if r.Category != nil {
		ms = append(ms, r.Category.Match)
	}
	return ms
}
