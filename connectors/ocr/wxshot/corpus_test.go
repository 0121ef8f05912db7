package wxshot

import (
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/normalize"
)

// A seed makes the same corpus every time, spec i depends on the seed and i alone, and
// another seed makes another corpus.
func TestCorpusIsDeterministic(t *testing.T) {
	a, b := Corpus(DefaultSeed, 30), Corpus(DefaultSeed, 30)
	assert.Equal(t, a, b)
	assert.Equal(t, a[:7], Corpus(DefaultSeed, 7))
	assert.NotEqual(t, a, Corpus(DefaultSeed+1, 30))
	assert.Equal(t, OverlapPair(DefaultSeed), OverlapPair(DefaultSeed))
}

// The held-out quarter is every fourth screenshot, the same for any slice of the corpus.
func TestSplitHoldsOutAQuarter(t *testing.T) {
	train, held := Split(Corpus(DefaultSeed, DefaultSize))
	assert.Len(t, held, DefaultSize/4)
	assert.Len(t, train, DefaultSize-DefaultSize/4)
	assert.Equal(t, "shot-003", held[0].Name)
	assert.Equal(t, "shot-007", held[1].Name)
	assert.Equal(t, "shot-004", train[3].Name)
}

// The default corpus has what the issue asks for: at least 200 screenshots, every width, both
// platforms and appearances, the font scales, every kind of message, each separator form,
// the keyboard, the crops, JPEG and PNG.
func TestDefaultCorpusCoversTheIssue(t *testing.T) {
	specs := Corpus(DefaultSeed, DefaultSize)
	require.GreaterOrEqual(t, len(specs), 200)
	widths := map[int]bool{}
	platforms := map[Platform]bool{}
	kinds := map[Kind]int{}
	var dark, keyboard, jpeg, png, noTitle, noAvatars, noInput, cut, minScale, maxScale, latin, bracket, two int
	forms := map[string]*regexp.Regexp{
		"today":     regexp.MustCompile(`^\d{2}:\d{2}$`),
		"twelve":    regexp.MustCompile(`^[上下]午\d{1,2}:\d{2}$`),
		"yesterday": regexp.MustCompile(`^昨天 `),
		"weekday":   regexp.MustCompile(`^星期[一二三四五六日] `),
		"date":      regexp.MustCompile(`^\d{4}年\d{1,2}月\d{1,2}日 `),
	}
	formSeen := map[string]bool{}
	for _, s := range specs {
		m := metricsOf(s.Device)
		widths[s.Device.Width] = true
		platforms[s.Device.Platform] = true
		dark += count(s.Dark)
		keyboard += count(s.Keyboard)
		jpeg += count(s.JPEG >= 60 && s.JPEG <= 90)
		png += count(s.JPEG == 0)
		noTitle += count(float64(s.Crop.Top) >= (m.StatusBar+m.TitleBar)*s.Device.Ratio-1)
		noAvatars += count(float64(s.Crop.Left) >= (m.EdgeMargin+m.Avatar)*s.Device.Ratio-1)
		noInput += count(s.Crop.Bottom > 0)
		cut += count(s.Scroll.Anchor == CutAt)
		minScale += count(s.FontScale == 0.9)
		maxScale += count(s.FontScale == 1.3)
		assert.Contains(t, Fonts, s.Font)
		for _, mem := range s.Members {
			latin += count(regexp.MustCompile(`^[A-Za-z]`).MatchString(mem.Name))
			bracket += count(regexp.MustCompile(`\(.+\)$`).MatchString(mem.Name))
			two += count(len([]rune(mem.Name)) == 2)
		}
		for _, msg := range s.Messages {
			kinds[msg.Kind]++
			for name, re := range forms {
				if re.MatchString(msg.Time) {
					formSeen[name] = true
				}
			}
		}
	}
	for _, w := range []int{720, 1080, 1170, 1242, 1284, 1440} {
		assert.True(t, widths[w], "width %d", w)
	}
	assert.Len(t, platforms, 2)
	for name := range forms {
		assert.True(t, formSeen[name], "separator form %s", name)
	}
	for _, k := range []Kind{Text, Quote, Image, Sticker, Voice, File, Link, RedPacket, Transfer, Recalled, System, Divider} {
		assert.Positive(t, kinds[k], "kind %s", k)
	}
	for name, n := range map[string]int{"dark": dark, "keyboard": keyboard, "jpeg": jpeg, "png": png, "no title bar": noTitle,
		"no avatars": noAvatars, "no input bar": noInput, "top message cut": cut, "font scale 0.9": minScale,
		"font scale 1.3": maxScale, "Latin names": latin, "names with brackets": bracket, "two-character names": two} {
		assert.Greater(t, n, 5, name)
	}
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// What the truth says a message holds is what gongdan's extractors find in its text: the
// phones (in every written form), the serials (with SerialPatterns), the address.
func TestTruthAgreesWithTheExtractors(t *testing.T) {
	patterns, err := normalize.CompileDevicePatterns(SerialPatterns)
	require.NoError(t, err)
	pair := OverlapPair(DefaultSeed)
	specs := append(Corpus(DefaultSeed, DefaultSize), pair[:]...)
	requests := 0
	for _, s := range specs {
		for i, m := range s.Messages {
			if m.Kind != Text && m.Kind != Quote {
				continue
			}
			var phones, serials []string
			for _, p := range normalize.ExtractPhones(m.Text) {
				phones = append(phones, p.Value)
			}
			for _, d := range normalize.ExtractDeviceIDs(m.Text, patterns) {
				serials = append(serials, d.Value)
			}
			assert.Equal(t, m.Phones, phones, "%s message %d: %s", s.Name, i, m.Text)
			assert.Equal(t, m.Serials, serials, "%s message %d: %s", s.Name, i, m.Text)
			a, ok := normalize.ExtractAddress(m.Text)
			if m.Address != "" {
				requests++
				if assert.True(t, ok, "%s message %d: %s", s.Name, i, m.Text) {
					assert.Contains(t, m.Address, a.Street, "%s message %d", s.Name, i)
					assert.NotEmpty(t, a.Number, "%s message %d: %s", s.Name, i, m.Text)
				}
			}
		}
	}
	assert.Greater(t, requests, 200)
}

// The overlapping pair's conversation holds two customers' requests, each with a phone, an
// address and a serial.
func TestOverlapPairHoldsTwoRequests(t *testing.T) {
	pair := OverlapPair(DefaultSeed)
	assert.Equal(t, pair[0].Messages, pair[1].Messages)
	var from []int
	for _, m := range pair[0].Messages {
		if len(m.Phones) > 0 && len(m.Serials) > 0 && m.Address != "" {
			from = append(from, m.From)
		}
	}
	assert.Len(t, from, 2)
	assert.False(t, slices.Contains(from, -1))
	assert.NotEqual(t, from[0], from[1])
}
