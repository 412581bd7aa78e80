package engine

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Page-state tokens carry the partition token a walk resumes after, as
// base64url(version | crc32c(state) | state) with an 8-byte big-endian
// state. The checksum rejects a tampered or truncated token here, before
// any query runs.
const pageStateVersion = 2

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errBadPageState = &Error{Kind: ErrInvalid, Op: "page state", Cause: errors.New("malformed or tampered page_state token")}

func encodePageState(state []byte) string {
	if len(state) == 0 {
		return ""
	}
	buf := make([]byte, 5+len(state))
	buf[0] = pageStateVersion
	binary.BigEndian.PutUint32(buf[1:5], crc32.Checksum(state, castagnoli))
	copy(buf[5:], state)
	return encodeRaw(buf)
}

// decodePageState returns nil for "" (the first page).
func decodePageState(token string) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	if len(token) > 4096 {
		return nil, errBadPageState
	}
	buf, err := decodeRaw(token)
	if err != nil || len(buf) != 5+8 || buf[0] != pageStateVersion {
		return nil, errBadPageState
	}
	state := buf[5:]
	if binary.BigEndian.Uint32(buf[1:5]) != crc32.Checksum(state, castagnoli) {
		return nil, errBadPageState
	}
	return state, nil
}

// ValidPageState reports whether token could have come from ListUsers, so
// the HTTP layer can reject a bad token before any work is queued.
func ValidPageState(token string) bool {
	_, err := decodePageState(token)
	return err == nil
}

func decodeRaw(s string) ([]byte, error) { return base64.RawURLEncoding.Strict().DecodeString(s) }
func encodeRaw(b []byte) string          { return base64.RawURLEncoding.EncodeToString(b) }
