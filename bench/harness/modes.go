package harness

import (
	"slices"

	"github.com/userapi/userapi/bench/load"
)

// What a run measures, in the order reports show them.
const (
	ModeAPI         = "api"        // bin/userapi as shipped
	ModeRaw         = "raw"        // loadgen raw: the same queries straight to Cassandra
	ModeAPINoBatch  = "api-batch1" // bin/userapi with batching off
	ModeNaive       = "naive"      // the baseline handler, bench/naive
	ModeLoadgenNoop = "loadgen-noop"
	ModeWrkNoop     = "wrk-noop"
	ModeNoop        = "noop" // the calibration: ModeLoadgenNoop and ModeWrkNoop
)

var modeOrder = []string{ModeAPI, ModeRaw, ModeAPINoBatch, ModeNaive, ModeLoadgenNoop, ModeWrkNoop}

var modeTitles = map[string]string{
	ModeAPI:         "API",
	ModeRaw:         "raw CQL",
	ModeAPINoBatch:  "API, batching off",
	ModeNaive:       "naive baseline",
	ModeLoadgenNoop: "loadgen, no-op server",
	ModeWrkNoop:     "wrk, no-op server",
}

// Title is a mode's name in a report.
func Title(mode string) string {
	if t, ok := modeTitles[mode]; ok {
		return t
	}
	return mode
}

// ModeRank orders modes as reports show them; unknown ones last.
func ModeRank(m string) int {
	if i := slices.Index(modeOrder, m); i >= 0 {
		return i
	}
	return len(modeOrder)
}

// ScenarioGetOne is get-by-id on one connection: the latency of a request
// that waits behind nothing.
const ScenarioGetOne = "get-c1"

// ScenarioRank orders scenarios as reports show them.
func ScenarioRank(sc string) string {
	order := map[string]string{string(load.Get): "0", string(load.Create): "1", string(load.Mixed): "2", "mix": "2", ScenarioGetOne: "3", "noop": "9"}
	if o, ok := order[sc]; ok {
		return o + sc
	}
	return "5" + sc
}

// Distinct lists key(x) of xs in first-seen order, each once.
func Distinct[T any](xs []T, key func(T) string) []string {
	var out []string
	for _, x := range xs {
		if k := key(x); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// Modes lists the known modes among names in report order.
func Modes(names []string) []string {
	out := slices.Clone(names)
	slices.SortStableFunc(out, func(a, b string) int { return ModeRank(a) - ModeRank(b) })
	return out
}
