package engine

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPageStateRoundTrip(t *testing.T) {
	for _, tok := range []int64{-1 << 63, -1, 0, 1, 1<<63 - 1, 4242} {
		state := binary.BigEndian.AppendUint64(nil, uint64(tok))
		enc := encodePageState(state)
		require.NotEmpty(t, enc)
		assert.NotContainsf(t, enc, "+", "URL-safe token for %d", tok)
		assert.NotContainsf(t, enc, "/", "URL-safe token for %d", tok)
		dec, err := decodePageState(enc)
		require.NoError(t, err, "token %d", tok)
		assert.Equal(t, state, dec)
		assert.True(t, ValidPageState(enc))
	}
	assert.Empty(t, encodePageState(nil), "no state: no token")
	dec, err := decodePageState("")
	assert.NoError(t, err)
	assert.Nil(t, dec, "empty token: first page")
}

func TestPageStateRejectsMalformed(t *testing.T) {
	good := encodePageState(binary.BigEndian.AppendUint64(nil, 12345))
	v2 := encodeV2(12345)
	flipped := []byte(v2)
	flipped[len(flipped)/2] ^= 0x01
	tests := map[string]string{
		"v2 corrupted":  string(flipped),
		"truncated":     good[:len(good)-2],
		"extended":      good + "AA",
		"not base64":    "!!!!",
		"padding":       good + "=",
		"huge":          string(make([]byte, 5000)),
		"wrong version": encodeVersion(9, 12345),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := decodePageState(tok)
			assert.ErrorIs(t, err, ErrInvalid, "token %q", tok)
		})
	}
}

// encodeV2 builds a token as issued before version 3: version 2, the
// CRC32C of the state, the state.
func encodeV2(tok int64) string {
	state := binary.BigEndian.AppendUint64(nil, uint64(tok))
	buf := append([]byte{pageStateVersionV2}, binary.BigEndian.AppendUint32(nil, crc32.Checksum(state, castagnoli))...)
	return encodeRaw(append(buf, state...))
}

func TestPageStateReadsVersion2(t *testing.T) {
	neg42 := int64(-42)
	state, err := decodePageState(encodeV2(-42))
	require.NoError(t, err)
	assert.Equal(t, binary.BigEndian.AppendUint64(nil, uint64(neg42)), state)
}

// Every token the pattern of the OpenAPI document admits is a page a
// client may ask for: schema-driven clients and fuzzers never get a 422.
func TestPageStatePatternIsExact(t *testing.T) {
	re := regexp.MustCompile(PageStatePattern)
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for range 10000 {
		tok := encodePageState(binary.BigEndian.AppendUint64(nil, rng.Uint64()))
		require.Regexp(t, re, tok, "issued tokens match the pattern")
		// A token drawn from the pattern: 'A', one of [w-z0-9_-], ten more.
		b := []byte{'A', alphabet[48+rng.IntN(16)]}
		for range 10 {
			b = append(b, alphabet[rng.IntN(64)])
		}
		require.Regexp(t, re, string(b))
		_, err := decodePageState(string(b))
		require.NoError(t, err, "token %q matches the pattern", b)
	}
	assert.Regexp(t, re, "", "no token: the first page")
}

func encodeVersion(v byte, tok int64) string {
	s := encodePageState(binary.BigEndian.AppendUint64(nil, uint64(tok)))
	b, _ := decodeRaw(s)
	b[0] = v
	return encodeRaw(b)
}

// FuzzPageState: any string either decodes to an 8-byte state that encodes
// back to the same token, or is rejected as ErrInvalid; never a panic.
func FuzzPageState(f *testing.F) {
	f.Add("")
	f.Add(encodePageState(binary.BigEndian.AppendUint64(nil, 7)))
	f.Add("AgAAAAAAAAAAAAAAAAA")
	f.Add("%00")
	f.Fuzz(func(t *testing.T, tok string) {
		state, err := decodePageState(tok)
		if err != nil {
			if !assert.ErrorIs(t, err, ErrInvalid) {
				t.FailNow()
			}
			return
		}
		if tok == "" {
			return
		}
		again, err := decodePageState(encodePageState(state))
		if len(state) != 8 || err != nil || string(again) != string(state) {
			t.Fatalf("token %q decoded to %x which does not round-trip", tok, state)
		}
	})
}
