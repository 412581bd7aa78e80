package engine

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// murmur3Golden holds tokens that the real Cassandra 5.0.8 returned for
// `SELECT token(k)` on a blob partition key (the empty key via `token(0x)`).
// Keys of every length 0..33 cover each tail length with and without a full
// block, and their tail bytes >= 0x80 exercise Java's sign extension.
// TestMurmur3GoldenMatchesCassandra (integration) checks them again live.
var murmur3Golden = []struct {
	key   string // hex
	token int64
}{
	{"", -9223372036854775808},
	{"6d", -7992648410475751567},
	{"80e1", -193383708762537182},
	{"93f455", -2603001546251156029},
	{"a60768c9", 2822787154706049008},
	{"b91a7bdc3d", 8385824518558061272},
	{"cc2d8eef50b1", 7286150369149258222},
	{"df40a10263c425", -1417067447444974219},
	{"f253b41576d73899", 8997934215167167943},
	{"0566c72889ea4bac0d", 3435893994742376206},
	{"1879da3b9cfd5ebf2081", 9163041373864673369},
	{"2b8ced4eaf1071d23394f5", 1947101781808423539},
	{"3e9f0061c22384e546a70869", 2528214073071138072},
	{"51b21374d53697f859ba1b7cdd", -1194748678431691079},
	{"64c52687e849aa0b6ccd2e8ff051", -1241644947258880982},
	{"77d8399afb5cbd1e7fe041a20364c5", 3895298538015782120},
	{"8aeb4cad0e6fd03192f354b51677d839", -7325199979299333903},
	{"9dfe5fc02182e344a50667c8298aeb4cad", -8867084501916958941},
	{"b01172d33495f657b8197adb3c9dfe5fc021", -5026470827383379318},
	{"c32485e647a8096acb2c8dee4fb01172d33495", 8506997721910189111},
	{"d63798f95abb1c7dde3fa00162c32485e647a809", 8681846020798984963},
	{"e94aab0c6dce2f90f152b31475d63798f95abb1c7d", 4142405232715060314},
	{"fc5dbe1f80e142a30465c62788e94aab0c6dce2f90f1", -7690907874748415888},
	{"0f70d13293f455b61778d93a9bfc5dbe1f80e142a30465", 2830264346059744031},
	{"2283e445a60768c92a8bec4dae0f70d13293f455b61778d9", -4742994887018817147},
	{"3596f758b91a7bdc3d9eff60c12283e445a60768c92a8bec4d", 3342698586487771223},
	{"48a90a6bcc2d8eef50b11273d43596f758b91a7bdc3d9eff60c1", 8155532126734085889},
	{"5bbc1d7edf40a10263c42586e748a90a6bcc2d8eef50b11273d435", 456936662911207238},
	{"6ecf3091f253b41576d73899fa5bbc1d7edf40a10263c42586e748a9", 4002226489771051918},
	{"81e243a40566c72889ea4bac0d6ecf3091f253b41576d73899fa5bbc1d", -4024876425798914534},
	{"94f556b71879da3b9cfd5ebf2081e243a40566c72889ea4bac0d6ecf3091", 4167840738472734218},
	{"a70869ca2b8ced4eaf1071d23394f556b71879da3b9cfd5ebf2081e243a405", 5398126917415845128},
	{"ba1b7cdd3e9f0061c22384e546a70869ca2b8ced4eaf1071d23394f556b71879", 4388967294097399990},
	{"cd2e8ff051b21374d53697f859ba1b7cdd3e9f0061c22384e546a70869ca2b8ced", -7850088761562884985},
	{"ff", -4442228696663692417},
	{"ffffffffffffff", 4860178782003914630},
	{"ffffffffffffffff", 7071048584287372947},
	{"ffffffffffffffffff", 8434364767658694854},
	{"ffffffffffffffffffffffffffffff", -2195530867418009455},
	{"ffffffffffffffffffffffffffffffff", -2824192546314762522},
	{"ffffffffffffffffffffffffffffffffff", -4128212798341382003},
	{"80", -5284281814142962636},
	{"7f", 5072634478945617755},
	{"68656c6c6f", -3758069500696749310},
	{"757365722d313233343536373839306162", 4164792801498063191},
	{"00000000000000000000000000000000", 5457549051747178710},
	{"6ba7b8109dad11d180b400c04fd430c8", -6761550319734257329},
	{"f47ac10b58cc4372a5670e02b2c3d479", 3078397264688283949},
	{"0192f1a2b3c47d8e9fa0b1c2d3e4f5a6", 8752332918047370369},
}

func TestMurmur3TokenGolden(t *testing.T) {
	for _, g := range murmur3Golden {
		name := g.key
		if name == "" {
			name = "empty"
		}
		t.Run(name, func(t *testing.T) {
			key, err := hex.DecodeString(g.key)
			require.NoError(t, err, "bad golden key %q", g.key)
			require.Equal(t, g.token, murmur3Token(key), "token of key %s (%d bytes)", g.key, len(key))
		})
	}
}

func TestMurmur3TokenNeverMinForNonEmptyKeys(t *testing.T) {
	// math.MinInt64 is the ring's minimum token; Cassandra gives it only to the
	// empty key, which no table accepts.
	rng := rand.New(rand.NewPCG(1, 2))
	key := make([]byte, 64)
	for i := range 100_000 {
		k := key[:1+rng.IntN(len(key))]
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		require.NotEqual(t, int64(math.MinInt64), murmur3Token(k), "iteration %d: key %x", i, k)
	}
}

func TestMurmur3TokenAllocs(t *testing.T) {
	key := make([]byte, 33)
	allocs := testing.AllocsPerRun(1000, func() { _ = murmur3Token(key) })
	require.Zero(t, allocs, "murmur3Token must not allocate: it runs on every write")
}

func BenchmarkMurmur3Token(b *testing.B) {
	key := []byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	b.ReportAllocs()
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		_ = murmur3Token(key)
	}
}
