package httpapi

import (
	"bytes"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/engine"
)

// Query parameters and request headers, parsed without allocating and
// reported in pydantic's words with loc ["query", name] or
// ["header", name].

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

// parseInt parses an optionally signed decimal without allocating; values
// beyond ±1e18 saturate, which every caller's range rejects anyway.
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
		if n < 1e18 {
			n = n*10 + int64(c-'0')
		}
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
