package load

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// MixEntry is one weighted operation of a mix.
type MixEntry struct {
	Op     Scenario
	Weight int
}

// Mix is a weighted choice of operations; see ParseMix.
type Mix []MixEntry

// DefaultMixText is the mix of every run that sets none: 80% get-by-id,
// 20% create, as the command line writes it.
const DefaultMixText = "read=80,write=20"

// DefaultMix is DefaultMixText parsed.
func DefaultMix() Mix { return Mix{{Get, 80}, {Create, 20}} }

// ParseMix reads "read=80,write=20" or any of get, create, batch, update,
// list, delete with integer weights; read means get and write means create.
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, FieldError("Mix", "%q is not op=weight", part)
		}
		weight, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || weight < 0 {
			return nil, FieldError("Mix", "weight %q of %s is not a non-negative integer", w, name)
		}
		op := Scenario(strings.ToLower(strings.TrimSpace(name)))
		switch op {
		case "read":
			op = Get
		case "write":
			op = Create
		}
		m = append(m, MixEntry{op, weight})
	}
	return m, m.validate()
}

func (m Mix) validate() error {
	total := 0
	seen := map[Scenario]bool{}
	for _, e := range m {
		switch e.Op {
		case Get, Create, Batch, Update, List, Delete:
		default:
			return FieldError("Mix", "unknown operation %q (want read, write, get, create, batch, update, list or delete)", e.Op)
		}
		if seen[e.Op] {
			return FieldError("Mix", "operation %s appears twice", e.Op)
		}
		seen[e.Op] = true
		total += e.Weight
	}
	if total <= 0 {
		return FieldError("Mix", "weights must add up to more than zero")
	}
	return nil
}

// String renders the mix the way ParseMix reads it.
func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = fmt.Sprintf("%s=%d", e.Op, e.Weight)
	}
	return strings.Join(parts, ",")
}

// picker is the weighted choice of a run's operations, shared by the HTTP
// and raw drivers: one operation for a single scenario, the mix's entries
// of non-zero weight for Mixed.
type picker struct {
	ops   []Scenario
	cum   []int // cumulative weights of ops
	total int
}

func newPicker(sc Scenario, mix Mix) picker {
	if sc != Mixed {
		return picker{ops: []Scenario{sc}, cum: []int{1}, total: 1}
	}
	var p picker
	for _, e := range mix {
		if e.Weight > 0 {
			p.total += e.Weight
			p.ops = append(p.ops, e.Op)
			p.cum = append(p.cum, p.total)
		}
	}
	return p
}

// pick returns the index in p.ops of the next operation.
func (p picker) pick(r *rand.Rand) int {
	if len(p.ops) == 1 {
		return 0
	}
	n := r.IntN(p.total)
	for i, c := range p.cum {
		if n < c {
			return i
		}
	}
	return len(p.ops) - 1
}

func (p picker) names() []string {
	names := make([]string, len(p.ops))
	for i, op := range p.ops {
		names[i] = string(op)
	}
	return names
}

// has reports whether any of ops can be picked.
func (p picker) has(ops ...Scenario) bool {
	return slices.ContainsFunc(ops, func(op Scenario) bool { return slices.Contains(p.ops, op) })
}
