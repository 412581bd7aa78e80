package httpapi

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/engine"
)

// Query parameters and request headers, parsed without allocating (but on
// the error path) and reported in pydantic's words with loc
// ["query", name] or ["header", name].

// queryInt parses an integer query parameter; absent means def. Problems
// are recorded with loc ["query", name] in pydantic's words.
func queryInt(args *fasthttp.Args, name string, def, lo, hi int, errs *problems) int {
	if !args.Has(name) {
		return def
	}
	n, ok := parseInt(args.Peek(name))
	switch {
	case !ok:
		errs.add("int_parsing", "Input should be a valid integer, unable to parse string as an integer", "query", name)
	case n < int64(lo):
		errs.add("greater_than_equal", "Input should be greater than or equal to "+strconv.Itoa(lo), "query", name)
	case n > int64(hi):
		errs.add("less_than_equal", "Input should be less than or equal to "+strconv.Itoa(hi), "query", name)
	default:
		return int(n)
	}
	return def
}

// parseInt parses an optionally signed decimal without allocating. A value
// beyond int64 saturates at math.MaxInt64 (or -math.MaxInt64) instead of
// wrapping, so it is out of every caller's range on the side of its sign and
// the 422 names the bound it passed, as pydantic's would.
func parseInt(b []byte) (int64, bool) {
	b = bytes.TrimSpace(b)
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64 // keep checking the remaining bytes are digits
			continue
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, true
}

// consistencyNames are the accepted X-Consistency-Level values.
var consistencyNames = [...]struct {
	name string
	c    engine.Consistency
}{
	{"ONE", engine.One}, {"LOCAL_ONE", engine.LocalOne}, {"QUORUM", engine.Quorum},
	{"LOCAL_QUORUM", engine.LocalQuorum}, {"ALL", engine.All}, {"EACH_QUORUM", engine.EachQuorum},
}

// parseConsistency reads the header value without allocating (letter case
// ignored, as engine.ParseConsistency does).
func parseConsistency(v []byte) (engine.Consistency, bool) {
	v = bytes.TrimSpace(v)
	for _, n := range consistencyNames {
		if len(v) == len(n.name) && bytes.EqualFold(v, []byte(n.name)) {
			return n.c, true
		}
	}
	return 0, false
}

var (
	headerConsistency = []byte("X-Consistency-Level")
	headerTimeout     = []byte("X-Request-Timeout")
)

// requestOptions reads the headers that shape one request's engine work:
// X-Consistency-Level, and X-Request-Timeout, the client's own deadline,
// never longer than bound (the server's for that route).
func requestOptions(ctx *fasthttp.RequestCtx, bound time.Duration, errs *problems) (engine.Options, time.Duration) {
	var opt engine.Options
	if v := ctx.Request.Header.PeekBytes(headerConsistency); v != nil {
		c, ok := parseConsistency(v)
		if !ok {
			errs.add("enum", "Input should be 'ONE', 'LOCAL_ONE', 'QUORUM', 'LOCAL_QUORUM', 'ALL' or 'EACH_QUORUM'",
				"header", "x-consistency-level")
		}
		opt.Consistency = c
	}
	return opt, requestTimeout(ctx, bound, errs)
}

// requestTimeout reads X-Request-Timeout; absent, or after a problem, the
// deadline is bound.
func requestTimeout(ctx *fasthttp.RequestCtx, bound time.Duration, errs *problems) time.Duration {
	v := ctx.Request.Header.PeekBytes(headerTimeout)
	if v == nil {
		return bound
	}
	d, typ, msg := parseTimeout(v, bound)
	if typ != "" {
		in := string(v)
		*errs = append(*errs, problem{loc: []any{"header", "x-request-timeout"}, msg: msg, typ: typ, input: &in})
		return bound
	}
	return d
}

// parseTimeout reads seconds as pydantic reads a float from a string (a
// decimal with optional exponent, "inf" and "nan" spelled out; no hex, no
// digit separators), which must then be finite and greater than 0. Values
// past bound are cut to it; a positive value below a nanosecond is a
// nanosecond, an answer of 504 at once. On a problem it returns pydantic's
// error type and message.
func parseTimeout(v []byte, bound time.Duration) (d time.Duration, typ, msg string) {
	v = bytes.TrimSpace(v)
	f, err := strconv.ParseFloat(string(v), 64)
	switch {
	case (err != nil && !errors.Is(err, strconv.ErrRange)) || bytes.IndexAny(v, "xX_") >= 0:
		return 0, "float_parsing", "Input should be a valid number, unable to parse string as a number"
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, "finite_number", "Input should be a finite number"
	case f <= 0:
		return 0, "greater_than", "Input should be greater than 0"
	case f >= bound.Seconds():
		return bound, "", ""
	}
	return max(time.Duration(f*float64(time.Second)), time.Nanosecond), "", ""
}
