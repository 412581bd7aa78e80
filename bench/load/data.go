package load

import (
	"bytes"
	"math/rand/v2"
	"strconv"
)

// Request bodies look like real sign-ups: names from many languages (so
// the server's JSON handling sees multi-byte UTF-8), emails derived from
// them on reserved example domains, ages from teenagers to the elderly.
// Every body differs, so no cache along the way can answer for the server.

type namePart struct{ display, ascii string }

var firstNames = []namePart{
	{"Ada", "ada"}, {"Alan", "alan"}, {"Grace", "grace"}, {"Linus", "linus"},
	{"Margaret", "margaret"}, {"Dennis", "dennis"}, {"Barbara", "barbara"},
	{"Ken", "ken"}, {"Radia", "radia"}, {"Edsger", "edsger"}, {"Frances", "frances"},
	{"José", "jose"}, {"Zoë", "zoe"}, {"Søren", "soren"}, {"Chloé", "chloe"},
	{"Björn", "bjorn"}, {"Łukasz", "lukasz"}, {"Ngozi", "ngozi"}, {"Aiko", "aiko"},
	{"Hiroshi", "hiroshi"}, {"Priya", "priya"}, {"Arjun", "arjun"}, {"Mei", "mei"},
	{"Wei", "wei"}, {"Fatima", "fatima"}, {"Omar", "omar"}, {"Amara", "amara"},
	{"Kwame", "kwame"}, {"Ingrid", "ingrid"}, {"Mateo", "mateo"}, {"Lucía", "lucia"},
	{"Thandiwe", "thandiwe"}, {"Olusegun", "olusegun"}, {"Anaïs", "anais"},
	{"Dmitri", "dmitri"}, {"Yuki", "yuki"}, {"Saoirse", "saoirse"}, {"Tomás", "tomas"},
	{"Leilani", "leilani"}, {"Nikolai", "nikolai"},
}

var lastNames = []namePart{
	{"Lovelace", "lovelace"}, {"Turing", "turing"}, {"Hopper", "hopper"},
	{"Torvalds", "torvalds"}, {"Hamilton", "hamilton"}, {"Ritchie", "ritchie"},
	{"Liskov", "liskov"}, {"Thompson", "thompson"}, {"Perlman", "perlman"},
	{"Dijkstra", "dijkstra"}, {"Allen", "allen"}, {"García", "garcia"},
	{"Müller", "muller"}, {"Kierkegaard", "kierkegaard"}, {"Nakamura", "nakamura"},
	{"Okafor", "okafor"}, {"Kowalski", "kowalski"}, {"Patel", "patel"},
	{"Nguyễn", "nguyen"}, {"Zhang", "zhang"}, {"Haddad", "haddad"},
	{"Mensah", "mensah"}, {"Johansson", "johansson"}, {"Fernández", "fernandez"},
	{"Dlamini", "dlamini"}, {"O'Brien", "obrien"}, {"Ivanova", "ivanova"},
	{"Tanaka", "tanaka"}, {"Ó Súilleabháin", "osullivan"}, {"Kahananui", "kahananui"},
	{"Rossi", "rossi"}, {"Schmidt", "schmidt"}, {"da Silva", "dasilva"},
	{"van der Berg", "vanderberg"}, {"Al-Sayed", "alsayed"}, {"Kim", "kim"},
}

var emailDomains = []string{
	"example.com", "example.org", "example.net", "mail.example.com",
	"users.example.org", "corp.example.net",
}

// person is one generated user.
type person struct {
	first, last namePart
	initial     byte // 0 or a middle initial
	number      int  // disambiguates the email
	domain      string
	age         int
}

func newPerson(r *rand.Rand) person {
	p := person{
		first:  firstNames[r.IntN(len(firstNames))],
		last:   lastNames[r.IntN(len(lastNames))],
		number: r.IntN(100000),
		domain: emailDomains[r.IntN(len(emailDomains))],
		age:    ageOf(r),
	}
	if r.IntN(4) == 0 {
		p.initial = byte('A' + r.IntN(26))
	}
	return p
}

// ageOf skews towards working age, as sign-ups do, within the API's 0-150.
func ageOf(r *rand.Rand) int {
	switch n := r.IntN(100); {
	case n < 5:
		return 13 + r.IntN(5)
	case n < 85:
		return 18 + r.IntN(47)
	default:
		return 65 + r.IntN(36)
	}
}

func (p person) appendName(b []byte) []byte {
	b = append(b, p.first.display...)
	b = append(b, ' ')
	if p.initial != 0 {
		b = append(b, p.initial, '.', ' ')
	}
	return append(b, p.last.display...)
}

func (p person) appendEmail(b []byte) []byte {
	b = append(b, p.first.ascii...)
	b = append(b, '.')
	b = append(b, p.last.ascii...)
	b = strconv.AppendInt(b, int64(p.number), 10)
	b = append(b, '@')
	return append(b, p.domain...)
}

// appendUserJSON appends {"name":…,"email":…,"age":…}. The parts never
// hold a quote or backslash, so no escaping is needed.
func appendUserJSON(b []byte, r *rand.Rand) []byte {
	p := newPerson(r)
	b = append(b, `{"name":"`...)
	b = p.appendName(b)
	b = append(b, `","email":"`...)
	b = p.appendEmail(b)
	b = append(b, `","age":`...)
	b = strconv.AppendInt(b, int64(p.age), 10)
	return append(b, '}')
}

// appendBatchJSON appends {"users":[n users]}.
func appendBatchJSON(b []byte, r *rand.Rand, n int) []byte {
	b = append(b, `{"users":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendUserJSON(b, r)
	}
	return append(b, "]}"...)
}

// appendUpdateJSON appends a partial update: one, two or all three fields,
// as a profile edit would send.
func appendUpdateJSON(b []byte, r *rand.Rand) []byte {
	p := newPerson(r)
	fields := 1 + r.IntN(7) // a non-empty subset of {name, email, age} as bits
	b = append(b, '{')
	if fields&1 != 0 {
		b = append(p.appendName(append(b, `"name":"`...)), '"', ',')
	}
	if fields&2 != 0 {
		b = append(p.appendEmail(append(b, `"email":"`...)), '"', ',')
	}
	if fields&4 != 0 {
		b = append(strconv.AppendInt(append(b, `"age":`...), int64(p.age), 10), ',')
	}
	b[len(b)-1] = '}' // in place of the last field's comma
	return b
}

// scanIDs appends every "id" string value in a JSON body to dst: the user
// of a create and each user of a batch's "created" list. The API's own
// output is all it reads, so a scan for the key is enough; a quote inside a
// string value is always escaped and cannot start a false match.
func scanIDs(body []byte, dst []string) []string {
	key := []byte(`"id"`)
	for {
		j := bytes.Index(body, key)
		if j < 0 {
			return dst
		}
		v, ok := bytes.CutPrefix(bytes.TrimLeft(body[j+len(key):], " \t\n\r"), []byte(":"))
		if ok {
			v, ok = bytes.CutPrefix(bytes.TrimLeft(v, " \t\n\r"), []byte(`"`))
		}
		if !ok {
			body = body[j+1:]
			continue
		}
		id, after, found := bytes.Cut(v, []byte(`"`))
		if !found {
			return dst
		}
		dst, body = append(dst, string(id)), after
	}
}
