package hotline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The back-off doubles from the interval to its cap, each wait jittered into its upper half.
func TestBackoffDoublesWithJitterUpToItsCap(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 30 * time.Second, 60: 30 * time.Second} {
		for range 50 {
			d := backoff(n, time.Second, 30*time.Second)
			assert.True(t, d >= want/2 && d <= want, "call %d: %s not within [%s, %s]", n, d, want/2, want)
		}
	}
}
