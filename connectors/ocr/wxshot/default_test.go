package wxshot

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The default corpus draws (or comes from the cache) whole, every picture with a truth that
// lies inside it, and enough of every kind of message visible to score a reader on.
func TestDefaultCorpusDraws(t *testing.T) {
	needChromium(t)
	start := time.Now()
	shots, err := Default(context.Background())
	require.NoError(t, err)
	t.Logf("%d screenshots in %v", len(shots), time.Since(start))
	require.Len(t, shots, DefaultSize)
	kinds := map[Kind]int{}
	sides := map[Side]int{}
	for _, s := range shots {
		pic := Box{0, 0, s.Width, s.Height}
		for _, m := range s.Messages {
			assert.True(t, inside(m.Box, pic) || m.Box.Empty(), "%s message %d", s.Name, m.Index)
			if !m.CutTop && !m.CutBottom {
				kinds[m.Kind]++
				sides[m.Side]++
			}
		}
	}
	t.Logf("whole messages: %v %v", kinds, sides)
	for _, k := range []Kind{Text, Quote, Image, Sticker, Voice, File, Link, RedPacket, Transfer, Recalled, System, Divider} {
		assert.Positive(t, kinds[k], "kind %s", k)
	}
}
