package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/userapi/userapi/bench/suite"
)

const reportUsage = `Usage: loadgen report DIR

Aggregate a suite directory written by loadgen suite (DIR/runs/*.json,
DIR/runs/MODE__SCENARIO__REPEAT.wrk.txt, optional DIR/meta.json and
DIR/pprof/*.txt): medians per mode and scenario, the ratios API / raw and
batching on / off, the targets, and plots. It writes DIR/report.md,
DIR/results.json, DIR/throughput.{svg,png}, DIR/calibration.{svg,png} and
DIR/latency-SCENARIO.{svg,png}, and prints where report.md is. Git keeps
report.md, meta.json, a trimmed results.json and the SVGs of a run a
document cites (scripts/trim-results.sh).

Flags:
`

func runReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen report", reportUsage, stderr)
	quiet := fs.Bool("q", false, "write the files only; print nothing")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"loadgen report takes one directory"}
	}
	s, err := suite.Load(pos[0])
	if err != nil {
		return err
	}
	if err := s.Write(); err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(pos[0], "report.md"))
	}
	return nil
}
