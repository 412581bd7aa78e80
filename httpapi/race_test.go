//go:build race

package httpapi

// raceEnabled: the race detector adds allocations, so allocation pins are
// checked only without it.
const raceEnabled = true
