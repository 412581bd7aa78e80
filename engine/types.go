package engine

import (
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

// UUID is a user id: 16 bytes, printed in the canonical 8-4-4-4-12 form.
// It is the engine's own type so that callers never import gocql.
type UUID [16]byte

var errBadUUID = errors.New("invalid UUID")

// ParseUUIDBytes accepts the canonical 36-character form (any letter case)
// without allocating.
func ParseUUIDBytes(s []byte) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, errBadUUID
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return UUID{}, errBadUUID
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// AppendText appends the canonical lowercase form to dst.
func (u UUID) AppendText(dst []byte) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return append(dst, buf[:]...)
}

func (u UUID) String() string { return string(u.AppendText(nil)) }

// User is one row of the users table. Timestamps have millisecond precision,
// as Cassandra stores them, and are in UTC.
type User struct {
	ID        UUID
	Name      string
	Email     string
	Age       int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewUser is a validated create request; the engine assigns id and timestamps.
type NewUser struct {
	Name  string
	Email string
	Age   int
}

// UserPatch is a partial update: nil fields keep their stored value.
type UserPatch struct {
	Name  *string
	Email *string
	Age   *int
}

// Page is one page of a table walk. Next is empty on the last page; otherwise
// it is an opaque, URL-safe token that continues the walk.
type Page struct {
	Users []User
	Next  string
}

// Consistency is a Cassandra consistency level for one request. The zero
// value means the engine's configured default.
type Consistency uint16

const (
	DefaultConsistency Consistency = 0
	One                Consistency = 0x0001
	Quorum             Consistency = 0x0004
	All                Consistency = 0x0005
	LocalQuorum        Consistency = 0x0006
	EachQuorum         Consistency = 0x0007
	LocalOne           Consistency = 0x000A
)

var consistencyNames = map[string]Consistency{
	"ONE": One, "QUORUM": Quorum, "ALL": All, "LOCAL_QUORUM": LocalQuorum,
	"EACH_QUORUM": EachQuorum, "LOCAL_ONE": LocalOne,
}

// ParseConsistency accepts ONE, LOCAL_ONE, QUORUM, LOCAL_QUORUM, ALL and
// EACH_QUORUM, in any letter case.
func ParseConsistency(s string) (Consistency, error) {
	if c, ok := consistencyNames[strings.ToUpper(strings.TrimSpace(s))]; ok {
		return c, nil
	}
	return 0, &Error{Kind: ErrInvalid, Op: "parse consistency", Cause: errors.New("unknown consistency level " + s)}
}

func (c Consistency) String() string {
	for name, v := range consistencyNames {
		if v == c {
			return name
		}
	}
	return "DEFAULT"
}

// Options are per-request settings.
type Options struct {
	Consistency Consistency
}

func consistencyToGocql(c Consistency) (gocql.Consistency, bool) {
	switch c {
	case One, Quorum, All, LocalQuorum, EachQuorum, LocalOne:
		return gocql.Consistency(c), true
	}
	return 0, false
}
