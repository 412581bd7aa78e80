// Package harness starts and stops what is measured, for the suite, the
// sweep, the soak and the large-table run alike: the server under test
// (bin/userapi, or the naive baseline) on a port of its own, awaited on
// /ready and stopped by its pid (internal/proc); each load as a loadgen
// process of its own, whose command line is built in one place (Load);
// the keyspaces a run drops first; and the check, before anything starts,
// that what a run needs is there. Config is the core every run's config
// embeds. It must not aggregate or write reports (package report) nor
// drive load in-process (package load).
package harness
