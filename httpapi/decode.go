package httpapi

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/engine"
)

// Request bodies are checked in two steps: the whole body must be valid
// JSON (go-json's validator, which bounds nesting depth), then a small
// walker visits the members of the top-level object. Field names match
// exactly, as in pydantic: a reflection decoder would also accept "NAME".
// Every problem found becomes one 422 entry, with a loc like pydantic's.

// Validation limits of the contract.
const (
	maxNameChars  = 100
	minAge        = 0
	maxAge        = 150
	maxBatchUsers = 1000
	maxEmailBytes = 254
)

// jsonKind is the type of a JSON value, from its first byte.
type jsonKind uint8

const (
	kindInvalid jsonKind = iota
	kindNull
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func kindOf(raw []byte) jsonKind {
	if len(raw) == 0 {
		return kindInvalid
	}
	switch raw[0] {
	case 'n':
		return kindNull
	case 't', 'f':
		return kindBool
	case '"':
		return kindString
	case '[':
		return kindArray
	case '{':
		return kindObject
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return kindNumber
	}
	return kindInvalid
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value starting at b[i].
// b must be valid JSON (checked beforehand), so this only has to find the
// end: strings are skipped with their escapes and brackets counted, without
// recursion, so nesting depth costs no stack.
func valueEnd(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '{', '[':
			depth++
			i++
		case '}', ']':
			depth--
			i++
		default:
			// A scalar outside any container ends at a delimiter.
			i++
			if depth == 0 {
				for i < len(b) && !isSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
					i++
				}
				return i
			}
			continue
		}
		if depth == 0 {
			return i
		}
	}
	return i
}

// members calls fn with each key and raw value of the object at b[i:] (b
// valid JSON, b[i] == '{'). Keys are returned raw, without the quotes.
func members(b []byte, i int, fn func(key, raw []byte)) {
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		ks := i
		i = valueEnd(b, i)
		key := b[ks+1 : i-1]
		i = skipSpace(b, i)
		i = skipSpace(b, i+1) // ':'
		vs := i
		i = valueEnd(b, i)
		fn(key, b[vs:i])
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
}

// elements calls fn with each raw element of the array at b[i:].
func elements(b []byte, i int, fn func(idx int, raw []byte)) {
	i = skipSpace(b, i+1)
	for n := 0; i < len(b) && b[i] != ']'; n++ {
		vs := i
		i = valueEnd(b, i)
		fn(n, b[vs:i])
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
}

// keyIs reports whether a raw key equals name. A key written with escapes
// ("\u006eame") is decoded first.
func keyIs(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	var s string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	if json.Unmarshal(quoted, &s) != nil {
		return false
	}
	return s == name
}

// decodeString returns the Go string of a raw JSON string value.
func decodeString(raw []byte) (string, bool) {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, utf8.ValidString(s)
}

// parseBody checks that body is one JSON object and returns the index of
// its '{'. Otherwise it records the problem the way FastAPI does.
func parseBody(body []byte, errs *problems) (int, bool) {
	i := skipSpace(body, 0)
	if i == len(body) {
		errs.add("missing", "Field required", "body")
		return 0, false
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		errs.add("json_invalid", "JSON decode error", "body", syntaxOffset(body))
		return 0, false
	}
	if body[i] != '{' {
		errs.add("model_attributes_type", "Input should be a valid dictionary or object to extract fields from", "body")
		return 0, false
	}
	return i, true
}

// syntaxOffset finds where a body stops being JSON, for the 422's loc.
func syntaxOffset(body []byte) int {
	if !utf8.Valid(body) {
		for i := 0; i < len(body); {
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 {
				return i
			}
			i += size
		}
	}
	var v json.RawMessage
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return int(se.Offset)
	}
	return 0
}

// userFields are the raw values of one user object; nil means absent.
type userFields struct {
	name, email, age []byte
}

func collectUser(b []byte, i int) userFields {
	var f userFields
	members(b, i, func(key, raw []byte) {
		switch {
		case keyIs(key, "name"):
			f.name = raw
		case keyIs(key, "email"):
			f.email = raw
		case keyIs(key, "age"):
			f.age = raw
		}
	})
	return f
}

// decodeNewUser validates a create request's user object at b[i:].
func decodeNewUser(b []byte, i int, loc []any, errs *problems) engine.NewUser {
	f := collectUser(b, i)
	var u engine.NewUser
	if f.name == nil {
		errs.add("missing", "Field required", at(loc, "name")...)
	} else {
		u.Name, _ = checkName(f.name, at(loc, "name"), errs)
	}
	if f.email == nil {
		errs.add("missing", "Field required", at(loc, "email")...)
	} else {
		u.Email, _ = checkEmail(f.email, at(loc, "email"), errs)
	}
	if f.age == nil {
		errs.add("missing", "Field required", at(loc, "age")...)
	} else {
		u.Age, _ = checkAge(f.age, at(loc, "age"), errs)
	}
	return u
}

// decodePatch validates an update: absent or null fields keep their value.
func decodePatch(b []byte, i int, errs *problems) engine.UserPatch {
	f := collectUser(b, i)
	var p engine.UserPatch
	if f.name != nil && kindOf(f.name) != kindNull {
		if v, ok := checkName(f.name, []any{"body", "name"}, errs); ok {
			p.Name = &v
		}
	}
	if f.email != nil && kindOf(f.email) != kindNull {
		if v, ok := checkEmail(f.email, []any{"body", "email"}, errs); ok {
			p.Email = &v
		}
	}
	if f.age != nil && kindOf(f.age) != kindNull {
		if v, ok := checkAge(f.age, []any{"body", "age"}, errs); ok {
			p.Age = &v
		}
	}
	return p
}

// decodeBatch validates {"users":[...]} with 1-1000 valid users.
func decodeBatch(body []byte, errs *problems) []engine.NewUser {
	i, ok := parseBody(body, errs)
	if !ok {
		return nil
	}
	var raw []byte
	members(body, i, func(key, v []byte) {
		if keyIs(key, "users") {
			raw = v
		}
	})
	loc := []any{"body", "users"}
	switch {
	case raw == nil:
		errs.add("missing", "Field required", loc...)
		return nil
	case kindOf(raw) != kindArray:
		errs.add("list_type", "Input should be a valid list", loc...)
		return nil
	}
	n := 0
	elements(raw, 0, func(int, []byte) { n++ })
	switch {
	case n < 1:
		errs.add("too_short", "List should have at least 1 item after validation, not 0", loc...)
		return nil
	case n > maxBatchUsers:
		errs.add("too_long", "List should have at most 1000 items after validation, not "+strconv.Itoa(n), loc...)
		return nil
	}
	users := make([]engine.NewUser, 0, n)
	elements(raw, 0, func(idx int, v []byte) {
		if kindOf(v) != kindObject {
			errs.add("model_attributes_type", "Input should be a valid dictionary or object to extract fields from", at(loc, idx)...)
			return
		}
		users = append(users, decodeNewUser(v, 0, at(loc, idx), errs))
	})
	return users
}

// checkString decodes a JSON string value, reporting a non-string or
// undecodable value at loc.
func checkString(raw []byte, loc []any, errs *problems) (string, bool) {
	if kindOf(raw) != kindString {
		errs.add("string_type", "Input should be a valid string", loc...)
		return "", false
	}
	s, ok := decodeString(raw)
	if !ok {
		errs.add("string_unicode", "Input should be a valid string, unable to parse raw data as a unicode string", loc...)
		return "", false
	}
	return s, true
}

func checkName(raw []byte, loc []any, errs *problems) (string, bool) {
	s, ok := checkString(raw, loc, errs)
	if !ok {
		return "", false
	}
	switch n := utf8.RuneCountInString(s); {
	case n < 1:
		errs.add("string_too_short", "String should have at least 1 character", loc...)
		return "", false
	case n > maxNameChars:
		errs.add("string_too_long", "String should have at most 100 characters", loc...)
		return "", false
	}
	return s, true
}

func checkEmail(raw []byte, loc []any, errs *problems) (string, bool) {
	s, ok := checkString(raw, loc, errs)
	if !ok {
		return "", false
	}
	if reason := emailProblem(s); reason != "" {
		errs.add("value_error", "value is not a valid email address: "+reason, loc...)
		return "", false
	}
	return s, true
}

// emailProblem returns why s is not a usable address, or "". It follows the
// common ground of RFC 5321 and what email-validator (behind pydantic's
// EmailStr) accepts: one @, a dot-atom local part, a dotted domain of
// letters, digits and hyphens (internationalised letters allowed).
func emailProblem(s string) string {
	if len(s) > maxEmailBytes {
		return "The email address is too long."
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return "The email address is not valid. It must have exactly one @-sign."
	}
	local, domain := s[:at], s[at+1:]
	switch {
	case local == "":
		return "There must be something before the @-sign."
	case domain == "":
		return "There must be something after the @-sign."
	case len(local) > 64:
		return "The email address is too long before the @-sign."
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return "The local part of the email address has a misplaced period."
	}
	for _, r := range local {
		if r < 0x80 && !isAtext(byte(r)) && r != '.' {
			return "The email address contains invalid characters before the @-sign."
		}
		if r >= 0x80 && !isPrintableRune(r) {
			return "The email address contains invalid characters before the @-sign."
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "The part after the @-sign is not valid. It should have a period."
	}
	for _, l := range labels {
		if l == "" {
			return "An email address cannot have a period immediately after the @-sign or two periods in a row."
		}
		if len(l) > 63 {
			return "The part after the @-sign is not valid. A label is too long."
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "An email address cannot have a hyphen immediately before or after a period."
		}
		for _, r := range l {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			case r >= 0x80 && isPrintableRune(r):
			default:
				return "The part after the @-sign contains invalid characters."
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return "The part after the @-sign is not valid. It is not within a valid top-level domain."
	}
	return ""
}

// isAtext reports the ASCII characters RFC 5322 allows in a dot-atom.
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func isPrintableRune(r rune) bool {
	return r != utf8.RuneError && !(r >= 0x80 && r < 0xa0) && r != 0x2028 && r != 0x2029 && r != 0xfeff
}

// checkAge accepts what pydantic's lax int accepts from JSON: an integer, a
// float with no fractional part, or a string holding an integer.
func checkAge(raw []byte, loc []any, errs *problems) (int, bool) {
	var v float64
	switch kindOf(raw) {
	case kindNumber:
		if bytes.IndexAny(raw, ".eE") < 0 {
			n, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil { // beyond int64: out of range by its sign
				v = math.Inf(1)
				if raw[0] == '-' {
					v = math.Inf(-1)
				}
			} else {
				v = float64(n)
			}
			break
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil && !math.IsInf(f, 0) {
			errs.add("int_parsing", "Input should be a valid integer, unable to parse string as an integer", loc...)
			return 0, false
		}
		if !math.IsInf(f, 0) && f != math.Trunc(f) {
			errs.add("int_from_float", "Input should be a valid integer, got a number with a fractional part", loc...)
			return 0, false
		}
		v = f
	case kindString:
		s, _ := decodeString(raw)
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			errs.add("int_parsing", "Input should be a valid integer, unable to parse string as an integer", loc...)
			return 0, false
		}
		v = float64(n)
	default:
		errs.add("int_type", "Input should be a valid integer", loc...)
		return 0, false
	}
	switch {
	case v < minAge:
		errs.add("greater_than_equal", "Input should be greater than or equal to 0", loc...)
		return 0, false
	case v > maxAge:
		errs.add("less_than_equal", "Input should be less than or equal to 150", loc...)
		return 0, false
	}
	return int(v), true
}

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
