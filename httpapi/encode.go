package httpapi

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/userapi/userapi/engine"
)

// The response encoders are hand-written appends: a user is six fixed fields,
// and appending them to a pooled buffer costs no allocation, where a
// reflection-based encoder costs several per response. The output matches
// what FastAPI sends: compact separators, UTF-8 kept as is.

// timeLayout is RFC 3339 in UTC with exactly three fractional digits, the
// precision Cassandra keeps, so that timestamps compare as strings.
const timeLayout = "2006-01-02T15:04:05.000Z"

// appendTime appends t in timeLayout. The fixed layout is written digit by
// digit: time.AppendFormat interprets the layout on every call, which cost
// about 4% of the server's CPU per GET (two timestamps per user).
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, timeLayout) // not four digits: the general path
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	dst = append(dst, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	dst = append2(dst, int(month))
	dst = append(dst, '-')
	dst = append2(dst, day)
	dst = append(dst, 'T')
	dst = append2(dst, hour)
	dst = append(dst, ':')
	dst = append2(dst, minute)
	dst = append(dst, ':')
	dst = append2(dst, sec)
	return append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// append2 appends 0 <= n < 100 as two digits.
func append2(dst []byte, n int) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }

func appendQuotedTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = appendTime(dst, t)
	return append(dst, '"')
}

func appendUUID(dst []byte, id engine.UUID) []byte {
	dst = append(dst, '"')
	dst = id.AppendText(dst)
	return append(dst, '"')
}

// appendUser appends {id,name,email,age,created_at,updated_at}, the field
// order of the original's response model.
func appendUser(dst []byte, u *engine.User) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendUUID(dst, u.ID)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, u.Name)
	dst = append(dst, `,"email":`...)
	dst = appendString(dst, u.Email)
	dst = append(dst, `,"age":`...)
	dst = strconv.AppendInt(dst, int64(u.Age), 10)
	dst = append(dst, `,"created_at":`...)
	dst = appendQuotedTime(dst, u.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendQuotedTime(dst, u.UpdatedAt)
	return append(dst, '}')
}

func appendUsers(dst []byte, users []engine.User) []byte {
	dst = append(dst, '[')
	for i := range users {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendUser(dst, &users[i])
	}
	return append(dst, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Control characters are escaped
// as Python's json module does; invalid UTF-8 (which decoding never lets
// in) becomes U+FFFD so the output is always valid JSON.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendSeconds appends a duration in seconds as a JSON number.
func appendSeconds(dst []byte, d time.Duration) []byte {
	return strconv.AppendFloat(dst, d.Seconds(), 'f', -1, 64)
}

func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }

func appendFloat(dst []byte, f float64) []byte { return strconv.AppendFloat(dst, f, 'f', -1, 64) }
