package engine

import (
	"encoding/binary"
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

func TestPageStateRejectsTampering(t *testing.T) {
	good := encodePageState(binary.BigEndian.AppendUint64(nil, 12345))
	flipped := []byte(good)
	flipped[len(flipped)/2] ^= 0x01
	tests := map[string]string{
		"flipped byte":  string(flipped),
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
		if len(state) != 8 || encodePageState(state) != tok {
			t.Fatalf("token %q decoded to %x which does not round-trip", tok, state)
		}
	})
}
