package httpapi

import (
	"strings"
	"unicode/utf8"
)

// maxEmailBytes is RFC 5321's limit on a whole address.
const maxEmailBytes = 254

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
