package normalize

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompileDevicePatternsNamesBadPattern(t *testing.T) {
	_, err := CompileDevicePatterns([]string{`E\d{9}`, `SN(\d+`})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `SN(\d+`)
	assert.Contains(t, err.Error(), "pattern 1")

	_, err = CompileDevicePatterns([]string{""})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "empty")

	res, err := CompileDevicePatterns([]string{`E\d{9}`})
	require.NoError(t, err)
	assert.Len(t, res, 1)
}

func TestExtractDeviceIDs(t *testing.T) {
	patterns, err := CompileDevicePatterns([]string{`E\d{9}`, `SN[:：]?\s*([A-Z0-9]{8,16})`})
	require.NoError(t, err)
	tests := []struct {
		name string
		text string
		want []Match
	}{
		{"bare serial", "设备E202308001报警", []Match{{Value: "E202308001", Text: "E202308001", Start: 6, End: 16}}},
		{"capture group is the value", "铭牌 SN：AB12CD34EF 看不清", []Match{{Value: "AB12CD34EF", Text: "SN：AB12CD34EF", Start: 7, End: 22}}},
		{"SN with space", "SN: 12345678", []Match{{Value: "12345678", Text: "SN: 12345678", Start: 0, End: 12}}},
		{"two ids in order", "E202308002和E202308001", []Match{
			{Value: "E202308002", Text: "E202308002", Start: 0, End: 10},
			{Value: "E202308001", Text: "E202308001", Start: 13, End: 23},
		}},
		{"glued to more digits", "E2023080011", nil},
		{"glued to letters before", "XE202308001", nil},
		{"too long capture", "SN:ABCDEFGH123456789", nil},
		{"none", "急停按钮失灵", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ExtractDeviceIDs(tt.text, patterns))
		})
	}
}

func TestExtractDeviceIDsOverlappingPatterns(t *testing.T) {
	patterns, err := CompileDevicePatterns([]string{`E\d{9}`, `E\d{4}`, `SN\s*(E\d{9})`})
	require.NoError(t, err)
	// E\d{4} cannot match on its own (glued to digits); SN… starts first and covers E\d{9}.
	assert.Equal(t, []Match{{Value: "E202308001", Text: "SN E202308001", Start: 0, End: 13}},
		ExtractDeviceIDs("SN E202308001", patterns))
}
