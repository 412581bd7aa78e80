package suite

import (
	"strconv"
	"strings"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/measure"
	"github.com/userapi/userapi/bench/report"
)

// What the suite records of the node and of the API's write batching:
// creates depend on the node's commit-log sync more than on any server, and
// the API picks its batch size from what the node gives (engine/tuner.go).

// noteTuners adds to a run's summary what the API's tuners had chosen
// by the run's end: the write batch size (userapi_engine_batch_max, label
// batch_size) and the read queries in flight per replica set
// (userapi_engine_read_group_inflight_limit, label read_inflight). The
// report shows what the engine settled on beside what it gave.
func (r *suiteRun) noteTuners(srv *harness.Server, file string) error {
	p, err := measure.NewProbe(srv.P.PID(), srv.URL)
	if err != nil {
		return err
	}
	var sum load.Summary
	if err := report.ReadJSON(file, &sum); err != nil {
		return err
	}
	if sum.Labels == nil {
		sum.Labels = map[string]string{}
	}
	for label, gauge := range map[string]string{
		LabelBatchSize:    "userapi_engine_batch_max",
		LabelReadInflight: "userapi_engine_read_group_inflight_limit",
	} {
		v, ok, err := p.Gauge(r.Ctx, gauge)
		if err != nil {
			return err
		}
		if ok {
			sum.Labels[label] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return report.WriteJSON(file, sum)
}

// syncNote says what a commit-log sync mode means for the creates measured.
func syncNote(sync string) string {
	switch {
	case strings.HasPrefix(sync, "group"), strings.HasPrefix(sync, "batch"):
		return "an acknowledged write survives kill -9, the dev node's choice; a batch's mutations wait for a sync each, so lone writes win"
	case strings.HasPrefix(sync, "periodic"):
		return "Cassandra's default and what users run: writes are acknowledged before the sync, and batches save per-request work"
	}
	return "unknown mode"
}

// LabelBatchSize labels an API run with the batch size in force at its end.
const LabelBatchSize = "batch_size"

// LabelReadInflight labels an API run with the read queries in flight per
// replica set allowed at its end.
const LabelReadInflight = "read_inflight"
