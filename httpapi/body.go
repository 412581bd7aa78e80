package httpapi

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	json "github.com/goccy/go-json"

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
)

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
