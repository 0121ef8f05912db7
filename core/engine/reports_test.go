package engine_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"gongdan/core/engine"
)

func TestGini(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0}, {[]float64{0, 0, 0}, 0}, {[]float64{5, 5, 5, 5}, 0},
		{[]float64{0, 0, 0, 10}, 0.75}, // all on one of four: (n-1)/n
		{[]float64{1, 2, 3, 4, 5}, 0.2667},
	} {
		assert.InDelta(t, tc.want, engine.Gini(tc.xs), 0.0001, "%v", tc.xs)
	}
}
