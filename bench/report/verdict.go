package report

import "fmt"

// Verdict statuses.
const (
	Met         = "met"
	Missed      = "missed"
	NotMeasured = "not measured"
)

// Verdict is one computed check of a run against a bound: the suite's
// targets, the soak's checks. Measured and Unit hold a single figure;
// Detail, when set, says the measurement in words instead.
type Verdict struct {
	Name     string  `json:"name"`
	Want     string  `json:"want"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit,omitempty"`
	Detail   string  `json:"detail,omitempty"`
	Status   string  `json:"status"` // met, missed, not measured
	Note     string  `json:"note,omitempty"`
	Source   string  `json:"source,omitempty"` // the issue that set the bound, or "harness"
	// Repeats is how many repeats measured the figure on their own (a
	// ratio of two runs of one repeat, or one run's p50), RepeatsMet how
	// many of those would have met the bound: how firmly the median's
	// verdict stands on a noisy machine.
	Repeats    int `json:"repeats,omitempty"`
	RepeatsMet int `json:"repeats_met,omitempty"`
}

// Check is a verdict from whether it holds.
func Check(name, want, detail string, holds bool) Verdict {
	v := Verdict{Name: name, Want: want, Detail: detail, Status: Missed}
	if holds {
		v.Status = Met
	}
	return v
}

// Holds reports whether the bound was met.
func (v Verdict) Holds() bool { return v.Status == Met }

// Value is the measurement as a table cell.
func (v Verdict) Value() string {
	switch {
	case v.Detail != "":
		return v.Detail
	case v.Status == NotMeasured:
		return "—"
	}
	return fmt.Sprintf("%.2f %s", v.Measured, v.Unit)
}

// String is the verdict as one line, for a terminal.
func (v Verdict) String() string {
	line := fmt.Sprintf("%-12s %s (want %s)", v.Status, v.Name, v.Want)
	if v.Status != NotMeasured {
		line = fmt.Sprintf("%-12s %s: %s (want %s)", v.Status, v.Name, v.Value(), v.Want)
	}
	if v.Note != "" {
		line += ", " + v.Note
	}
	if v.Repeats > 0 {
		line += fmt.Sprintf("; met in %d of %d repeats", v.RepeatsMet, v.Repeats)
	}
	return line
}
