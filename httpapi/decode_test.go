package httpapi

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
)

func TestEmailProblem(t *testing.T) {
	for _, ok := range []string{
		"a@b.co", "john.doe+tag@example.com", "x_y-z@sub.domain.example.org", "o'brien@example.ie",
		"a@bücher.de", "用户@例子.广告", "a@b-c.co", "1@2.co", "a!#$%&'*+/=?^_`{|}~-@example.com",
	} {
		assert.Empty(t, emailProblem(ok), "valid %q", ok)
	}
	for _, bad := range []string{
		"", "a", "@b.co", "a@", "a@b", "a@@b.co", "a@b@c.co", ".a@b.co", "a.@b.co", "a..b@c.co",
		"a b@c.co", "a@b .co", "a@b..co", "a@.b.co", "a@b.co.", "a@-b.co", "a@b-.co", "a@b.123",
		"a\x00@b.co", "a@b\x00.co", "a\"@b.co", "a(b)@c.co", "a@b_c.co",
		strings.Repeat("a", 65) + "@b.co", "a@" + strings.Repeat("b", 64) + ".co",
		"a@" + strings.Repeat("b.", 130) + "co",
	} {
		assert.NotEmpty(t, emailProblem(bad), "invalid %q", bad)
	}
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "10": 10, "-3": -3, "+4": 4, " 5 ": 5, "0010": 10} {
		n, ok := parseInt([]byte(in))
		assert.True(t, ok, in)
		assert.Equal(t, want, n, in)
	}
	for _, in := range []string{"", " ", "-", "+", "1.0", "1e3", "0x10", "١", "1 2"} {
		_, ok := parseInt([]byte(in))
		assert.False(t, ok, "%q", in)
	}
	n, ok := parseInt([]byte("99999999999999999999999999"))
	assert.True(t, ok)
	assert.Greater(t, n, int64(1000), "saturates high")
}

func TestParseConsistencyMatchesEngine(t *testing.T) {
	for _, in := range []string{"ONE", "one", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "ALL", "EACH_QUORUM", " all ",
		"", "TWO", "SERIAL", "LOCAL_SERIAL", "ANY", "ONE "} {
		got, ok := parseConsistency([]byte(in))
		want, err := engine.ParseConsistency(in)
		assert.Equal(t, err == nil, ok, "%q", in)
		if ok {
			assert.Equal(t, want, got, "%q", in)
		}
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"":             `""`,
		"plain":        `"plain"`,
		`q"b\`:         `"q\"b\\"`,
		"\n\r\t\b\f":   `"\n\r\t\b\f"`,
		"\x00\x1f\x7f": `"\u0000\u001f` + "\x7f" + `"`,
		"é😀<>&":        `"é😀<>&"`, // UTF-8 kept, no HTML escaping, as Python's json.dumps(ensure_ascii=False)
		"bad\xffbyte":  `"bad\ufffdbyte"`,
	} {
		assert.Equal(t, want, string(appendString(nil, in)), "%q", in)
	}
}

func TestAppendTime(t *testing.T) {
	for in, want := range map[time.Time]string{
		time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC):                             "2024-01-10T12:00:00.000Z",
		time.Date(2024, 1, 10, 12, 0, 0, 999_999_999, time.UTC):                   "2024-01-10T12:00:00.999Z",
		time.Date(2024, 1, 10, 14, 0, 0, 5_000_000, time.FixedZone("CEST", 7200)): "2024-01-10T12:00:00.005Z",
	} {
		assert.Equal(t, want, string(appendTime(nil, in)))
	}
}

// A body of the largest allowed size that is nothing but nesting must be
// rejected quickly and without exhausting the stack.
func TestDeepNestingBody(t *testing.T) {
	for _, open := range []string{"[", `{"a":`} {
		body := []byte(strings.Repeat(open, (1<<20)/len(open)))
		var errs problems
		start := time.Now()
		_, ok := parseBody(body, &errs)
		require.False(t, ok)
		assert.Equal(t, "json_invalid", errs[0].typ)
		assert.Less(t, time.Since(start), 2*time.Second, "open %q", open)
	}
	// Valid but deep nesting inside an ignored field: the walker is
	// iterative, the validator bounds depth.
	deep := `{"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `,"name":"a","email":"a@b.co","age":1}`
	var errs problems
	i, ok := parseBody([]byte(deep), &errs)
	require.True(t, ok, "%v", errs)
	u := decodeNewUser([]byte(deep), i, []any{"body"}, &errs)
	require.Empty(t, errs)
	assert.Equal(t, engine.NewUser{Name: "a", Email: "a@b.co", Age: 1}, u)
}

// Overflow is never a wrap: a number past int64 is out of range by its sign,
// and the 422 names the real bound of the parameter (issue 21, item 6).
func TestIntegerOverflowNamesTheBound(t *testing.T) {
	for _, in := range []string{"9223372036854775807", "9223372036854775808", "9999999999999999999",
		"18446744073709551617", "99999999999999999999999999"} {
		n, ok := parseInt([]byte(in))
		assert.True(t, ok, in)
		assert.Equal(t, int64(math.MaxInt64), n, "%s saturates high", in)
		n, ok = parseInt([]byte("-" + in))
		assert.True(t, ok, in)
		assert.LessOrEqual(t, n, int64(-math.MaxInt64), "-%s saturates low", in)
	}
	ts := startServer(t, newFakeStore())
	for q, want := range map[string]string{
		"/users?limit=9999999999999999999":                  "Input should be less than or equal to 1000",
		"/users?limit=-9999999999999999999":                 "Input should be greater than or equal to 1",
		"/users/stream?limit=9999999999999999999":           "Input should be less than or equal to 100000",
		"/users/stream?limit=18446744073709551617":          "Input should be less than or equal to 100000",
		"/users/stream/pages?max_pages=9999999999999999999": "Input should be less than or equal to 100",
		"/performance/sync?requests=92233720368547758070":   "Input should be less than or equal to 1000",
	} {
		resp, body := ts.do(t, "GET", q, "")
		require.Equal(t, 422, resp.StatusCode, "%s: %s", q, body)
		assert.Contains(t, string(body), want, q)
	}
}
