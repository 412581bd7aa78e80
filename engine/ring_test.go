package engine

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	hostA = "127.0.0.1"
	hostB = "127.0.0.2"
	hostC = "127.0.0.3"
	hostD = "127.0.0.4"
)

// threeHosts is the planned 3-node cluster: one token per node.
var threeHosts = map[string][]int64{hostA: {-100}, hostB: {0}, hostC: {100}}

func oneDC(hosts map[string][]int64) map[string]string {
	dc := make(map[string]string)
	for h := range hosts {
		dc[h] = "dc1"
	}
	return dc
}

func TestRingReplicaSet(t *testing.T) {
	type lookup struct {
		token int64
		want  []string // the owning set's hosts, in any order
	}
	all3 := []string{hostA, hostB, hostC}
	tests := []struct {
		name     string
		tokens   map[string][]int64
		dcs      map[string]string
		strategy replication
		sets     int
		lookups  []lookup
	}{
		{
			name:     "one node",
			tokens:   map[string][]int64{hostA: {0}},
			strategy: replication{factor: 1},
			sets:     1,
			lookups: []lookup{
				{math.MinInt64, []string{hostA}}, {-1, []string{hostA}}, {0, []string{hostA}},
				{1, []string{hostA}}, {math.MaxInt64, []string{hostA}},
			},
		},
		{
			name:     "three nodes rf1",
			tokens:   threeHosts,
			strategy: replication{factor: 1},
			sets:     3,
			lookups: []lookup{
				// Ranges are (prev, tok]: a ring token belongs to its own host,
				// the next value to the next host, and past the last it wraps.
				{math.MinInt64, []string{hostA}}, {-101, []string{hostA}}, {-100, []string{hostA}},
				{-99, []string{hostB}}, {0, []string{hostB}}, {1, []string{hostC}},
				{100, []string{hostC}}, {101, []string{hostA}}, {math.MaxInt64, []string{hostA}},
			},
		},
		{
			name:     "three nodes rf2",
			tokens:   threeHosts,
			strategy: replication{factor: 2},
			sets:     3,
			lookups: []lookup{
				{-100, []string{hostA, hostB}}, {0, []string{hostB, hostC}},
				{100, []string{hostC, hostA}}, {101, []string{hostA, hostB}},
			},
		},
		{
			name:     "three nodes rf3 is one set",
			tokens:   threeHosts,
			strategy: replication{factor: 3},
			sets:     1,
			lookups:  []lookup{{-100, all3}, {0, all3}, {100, all3}, {math.MaxInt64, all3}},
		},
		{
			name:     "rf above node count is capped",
			tokens:   threeHosts,
			strategy: replication{factor: 5},
			sets:     1,
			lookups:  []lookup{{0, all3}},
		},
		{
			name:     "nts one dc rf3",
			tokens:   threeHosts,
			dcs:      oneDC(threeHosts),
			strategy: replication{perDC: map[string]int{"dc1": 3}},
			sets:     1,
			lookups:  []lookup{{-100, all3}, {101, all3}},
		},
		{
			name:     "nts one dc rf1 ignores other dcs",
			tokens:   threeHosts,
			dcs:      oneDC(threeHosts),
			strategy: replication{perDC: map[string]int{"dc1": 1, "dc9": 2}},
			sets:     3,
			lookups:  []lookup{{-100, []string{hostA}}, {0, []string{hostB}}, {100, []string{hostC}}},
		},
		{
			name:     "nts two dcs one each",
			tokens:   map[string][]int64{hostA: {-100}, hostB: {0}, hostC: {100}, hostD: {200}},
			dcs:      map[string]string{hostA: "dc1", hostB: "dc2", hostC: "dc1", hostD: "dc2"},
			strategy: replication{perDC: map[string]int{"dc1": 1, "dc2": 1}},
			sets:     4,
			lookups: []lookup{
				{-100, []string{hostA, hostB}}, {0, []string{hostB, hostC}},
				{100, []string{hostC, hostD}}, {200, []string{hostD, hostA}},
			},
		},
		{
			name:     "nts skips hosts of a dc with rf0",
			tokens:   map[string][]int64{hostA: {-100}, hostB: {0}, hostC: {100}, hostD: {200}},
			dcs:      map[string]string{hostA: "dc1", hostB: "dc2", hostC: "dc1", hostD: "dc2"},
			strategy: replication{perDC: map[string]int{"dc1": 2, "dc2": 0}},
			sets:     1,
			lookups:  []lookup{{-100, []string{hostA, hostC}}, {0, []string{hostC, hostA}}},
		},
		{
			name:     "vnodes rf1",
			tokens:   map[string][]int64{hostA: {-100, 100}, hostB: {0, 200}},
			strategy: replication{factor: 1},
			sets:     2,
			lookups: []lookup{
				{-50, []string{hostB}}, {50, []string{hostA}}, {150, []string{hostB}}, {250, []string{hostA}},
			},
		},
		{
			name:     "vnodes rf2 is one set",
			tokens:   map[string][]int64{hostA: {-100, 100}, hostB: {0, 200}},
			strategy: replication{factor: 2},
			sets:     1,
			lookups:  []lookup{{-50, []string{hostA, hostB}}, {250, []string{hostA, hostB}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newRing(tt.tokens, tt.dcs, tt.strategy)
			require.NoError(t, err)
			require.Equal(t, tt.sets, r.sets(), "sets() of %v", r)
			for _, l := range tt.lookups {
				id := r.replicaSet(l.token)
				require.True(t, id >= 0 && id < r.sets(), "token %d: id %d outside 0..%d", l.token, id, r.sets()-1)
				assert.ElementsMatch(t, l.want, r.replicas(id), "replicas of token %d (set %d)", l.token, id)
			}
		})
	}
}

func TestRingReplicasOrder(t *testing.T) {
	r, err := newRing(threeHosts, nil, replication{factor: 2})
	require.NoError(t, err)
	// Each set here is reached from one range only, so its primary comes first.
	for token, want := range map[int64][]string{-100: {hostA, hostB}, 0: {hostB, hostC}, 100: {hostC, hostA}} {
		require.Equal(t, want, r.replicas(r.replicaSet(token)), "replicas of token %d", token)
	}

	r, err = newRing(threeHosts, nil, replication{factor: 3})
	require.NoError(t, err)
	// One set for all ranges: ordered from the lowest ring token's range.
	require.Equal(t, []string{hostA, hostB, hostC}, r.replicas(0), "rf3 set")
}

func TestNewRingErrors(t *testing.T) {
	tests := []struct {
		name     string
		tokens   map[string][]int64
		dcs      map[string]string
		strategy replication
	}{
		{"no hosts", nil, nil, replication{factor: 1}},
		{"hosts without tokens", map[string][]int64{hostA: nil}, nil, replication{factor: 1}},
		{"token claimed twice", map[string][]int64{hostA: {5}, hostB: {5}}, nil, replication{factor: 1}},
		{"no replica in any known dc", threeHosts, oneDC(threeHosts), replication{perDC: map[string]int{"dc9": 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newRing(tt.tokens, tt.dcs, tt.strategy)
			require.Error(t, err, "newRing(%v, %v, %v)", tt.tokens, tt.dcs, tt.strategy)
		})
	}
}

// TestRingMatchesBruteForce compares lookups on random vnode rings with a
// linear scan and a naive SimpleStrategy walk.
func TestRingMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		nHosts, nTokens, rf := 1+rng.IntN(6), 1+rng.IntN(8), 1+rng.IntN(4)
		hostTokens := make(map[string][]int64)
		seen := make(map[int64]bool)
		for h := range nHosts {
			host := "10.0.0." + strconv.Itoa(h+1)
			for range nTokens {
				tok := rng.Int64() - rng.Int64()
				if !seen[tok] {
					seen[tok] = true
					hostTokens[host] = append(hostTokens[host], tok)
				}
			}
		}
		r, err := newRing(hostTokens, nil, replication{factor: rf})
		require.NoError(t, err, "round %d", round)

		type th struct {
			tok  int64
			host string
		}
		var flat []th
		for h, toks := range hostTokens {
			for _, tok := range toks {
				flat = append(flat, th{tok, h})
			}
		}
		slices.SortFunc(flat, func(a, b th) int { return cmp.Compare(a.tok, b.tok) })

		setOf := make(map[string]int) // sorted hosts -> id, to check ids are sets
		for range 200 {
			token := rng.Int64() - rng.Int64()
			if rng.IntN(4) == 0 {
				token = flat[rng.IntN(len(flat))].tok + int64(rng.IntN(3)) - 1
			}
			start := 0 // wrap when token is past the last ring token
			for i, f := range flat {
				if f.tok >= token {
					start = i
					break
				}
			}
			var want []string
			for j := 0; j < len(flat) && len(want) < rf; j++ {
				if h := flat[(start+j)%len(flat)].host; !slices.Contains(want, h) {
					want = append(want, h)
				}
			}
			id := r.replicaSet(token)
			got := r.replicas(id)
			require.ElementsMatch(t, want, got, "round %d token %d ring %v", round, token, flat)

			slices.Sort(want)
			key := fmt.Sprint(want)
			if prev, ok := setOf[key]; ok {
				require.Equal(t, prev, id, "round %d: hosts %v under two ids", round, want)
			}
			setOf[key] = id
		}
	}
}

func TestParseReplication(t *testing.T) {
	tests := []struct {
		in      map[string]string
		want    replication
		wantErr bool
	}{
		{in: map[string]string{"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "1"}, want: replication{factor: 1}},
		{in: map[string]string{"class": "SimpleStrategy", "replication_factor": "3"}, want: replication{factor: 3}},
		{in: map[string]string{"class": "SimpleStrategy", "replication_factor": "3/1"}, want: replication{factor: 3}},
		{
			in:   map[string]string{"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "dc1": "3", "dc2": "0"},
			want: replication{perDC: map[string]int{"dc1": 3, "dc2": 0}},
		},
		{in: map[string]string{"class": "SimpleStrategy"}, wantErr: true},
		{in: map[string]string{"class": "SimpleStrategy", "replication_factor": "0"}, wantErr: true},
		{in: map[string]string{"class": "SimpleStrategy", "replication_factor": "x"}, wantErr: true},
		{in: map[string]string{"class": "NetworkTopologyStrategy", "dc1": "-1"}, wantErr: true},
		{in: map[string]string{"class": "org.apache.cassandra.locator.LocalStrategy"}, wantErr: true},
		{in: map[string]string{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			got, err := parseReplication(tt.in)
			if tt.wantErr {
				require.Error(t, err, "parseReplication(%v)", tt.in)
				return
			}
			require.NoError(t, err, "parseReplication(%v)", tt.in)
			require.Equal(t, tt.want, got, "parseReplication(%v)", tt.in)
		})
	}
}

func TestRingString(t *testing.T) {
	r, err := newRing(threeHosts, nil, replication{factor: 1})
	require.NoError(t, err)
	require.Equal(t, "3 hosts, 3 tokens, 3 replica sets, SimpleStrategy rf=1", r.String())

	r, err = newRing(threeHosts, oneDC(threeHosts), replication{perDC: map[string]int{"dc2": 1, "dc1": 3}})
	require.NoError(t, err)
	require.Equal(t, "3 hosts, 3 tokens, 1 replica sets, NetworkTopologyStrategy dc1=3 dc2=1", r.String())
}

func TestRingReplicaSetAllocs(t *testing.T) {
	r, err := newRing(threeHosts, nil, replication{factor: 1})
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(1000, func() { _ = r.replicaSet(42) })
	require.Zero(t, allocs, "replicaSet must not allocate: it runs on every write")
}

func BenchmarkRingReplicaSet(b *testing.B) {
	// Three nodes with Cassandra's default 16 vnodes each.
	rng := rand.New(rand.NewPCG(5, 6))
	hostTokens := make(map[string][]int64)
	for _, h := range []string{hostA, hostB, hostC} {
		for range 16 {
			hostTokens[h] = append(hostTokens[h], rng.Int64()-rng.Int64())
		}
	}
	r, err := newRing(hostTokens, nil, replication{factor: 1})
	require.NoError(b, err)
	key := []byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	tok := murmur3Token(key)
	b.ReportAllocs()
	for b.Loop() {
		_ = r.replicaSet(tok)
	}
}
