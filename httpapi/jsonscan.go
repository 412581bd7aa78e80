package httpapi

import (
	"bytes"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// A small walker over request bodies that are already known to be valid
// JSON (go-json's validator, which bounds nesting depth, runs first): it
// finds the members of an object and the elements of an array without
// building a tree, and decodes only the strings it is asked for.

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
