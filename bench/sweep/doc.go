// Package sweep is the capacity sweep of `make sweep` (loadgen sweep): per
// scenario, the API and the raw driver at rising concurrency, then at
// rising constant rates past saturation, and the knee of each: the highest
// offered rate served within the p99 bound (report.go). Its results.json
// is what the soak takes its rate from. It runs through package harness
// and writes through package report; it must not borrow another run's code.
package sweep
