package engine

import (
	"encoding/binary"
	"math"
	"math/bits"
)

const (
	murmurC1 = 0x87c37b91114253d5
	murmurC2 = 0x4cf5ad432745937f
)

// murmur3Token returns the token Cassandra's Murmur3Partitioner gives the
// partition key key: h1 of MurmurHash3_x64_128 with seed 0, as a signed int64.
//
// It copies Cassandra's deviations from the reference hash, because a token
// that differs from the server's would send writes to the wrong replicas:
//   - tail bytes are read as Java's signed bytes, so a byte >= 0x80 is
//     sign-extended to 64 bits before it is shifted and xored in;
//   - math.MinInt64 is reserved for the ring's minimum token, so a hash equal
//     to it becomes math.MaxInt64;
//   - the empty key, which no table accepts as a partition key, gets exactly
//     that minimum token (Cassandra's `token(0x)` is math.MinInt64).
func murmur3Token(key []byte) int64 {
	if len(key) == 0 {
		return math.MinInt64
	}
	var h1, h2 uint64
	b := key
	for len(b) >= 16 {
		k1 := binary.LittleEndian.Uint64(b)
		k2 := binary.LittleEndian.Uint64(b[8:])
		b = b[16:]

		h1 ^= murmurMixK1(k1)
		h1 = bits.RotateLeft64(h1, 27) + h2
		h1 = h1*5 + 0x52dce729

		h2 ^= murmurMixK2(k2)
		h2 = bits.RotateLeft64(h2, 31) + h1
		h2 = h2*5 + 0x38495ab5
	}

	// Tail: at most 15 bytes, bytes 8..14 go to k2 and 0..7 to k1. XOR is
	// order-independent, so the sign-extension bits of a low byte may be
	// xored over the higher bytes in any order, exactly as Java does.
	if len(b) > 8 {
		var k2 uint64
		for i := 8; i < len(b); i++ {
			k2 ^= uint64(int64(int8(b[i]))) << (8 * (i - 8))
		}
		h2 ^= murmurMixK2(k2)
	}
	if len(b) > 0 {
		var k1 uint64
		for i := 0; i < len(b) && i < 8; i++ {
			k1 ^= uint64(int64(int8(b[i]))) << (8 * i)
		}
		h1 ^= murmurMixK1(k1)
	}

	n := uint64(len(key))
	h1 ^= n
	h2 ^= n
	h1 += h2
	h2 += h1
	h1 = murmurFmix(h1)
	h2 = murmurFmix(h2)
	h1 += h2

	if t := int64(h1); t != math.MinInt64 {
		return t
	}
	return math.MaxInt64
}

func murmurMixK1(k uint64) uint64 {
	k *= murmurC1
	k = bits.RotateLeft64(k, 31)
	return k * murmurC2
}

func murmurMixK2(k uint64) uint64 {
	k *= murmurC2
	k = bits.RotateLeft64(k, 33)
	return k * murmurC1
}

func murmurFmix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}
