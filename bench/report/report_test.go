package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMedianStat(t *testing.T) {
	assert.Equal(t, 2.0, NewStat([]float64{3, 1, 2}).Median, "odd count")
	assert.Equal(t, 2.5, NewStat([]float64{4, 1, 3, 2}).Median, "even count")
	s := NewStat([]float64{5, 1, 9})
	assert.Equal(t, []float64{5, 1, 9}, s.Values, "values keep run order")
	assert.Equal(t, 1.0, s.Min)
	assert.Equal(t, 9.0, s.Max)
	assert.Zero(t, NewStat(nil).Median)
}
