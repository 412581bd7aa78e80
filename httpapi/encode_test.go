package httpapi

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAppendTimeMatchesAppendFormat: the hand-written formatter writes what
// time.AppendFormat writes for the layout, for any instant and zone.
func TestAppendTimeMatchesAppendFormat(t *testing.T) {
	zone := time.FixedZone("UTC-7", -7*3600)
	cases := []time.Time{
		time.Date(2026, 11, 29, 10, 4, 5, 999_999_999, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 1_000_000, zone),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 15, 12, 0, 0, 0, time.UTC),
		time.UnixMilli(0),
		{},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100_000; i++ {
		cases = append(cases, time.Unix(r.Int64N(400_000_000_000)-62_135_596_800, r.Int64N(1e9)).In(zone))
	}
	for _, tc := range cases {
		want := tc.UTC().AppendFormat(nil, timeLayout)
		require.Equal(t, string(want), string(appendTime(nil, tc)), "%v", tc)
	}
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2026, 11, 29, 10, 4, 5, 123_456_789, time.UTC)
	buf := make([]byte, 0, 64)
	b.Run("appendTime", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = appendTime(buf[:0], tm)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = tm.UTC().AppendFormat(buf[:0], timeLayout)
		}
	})
}
