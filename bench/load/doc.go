// Package load generates the load: ab-style fixed request counts,
// wrk-style durations and constant-rate runs whose latency counts from
// each request's intended send time (drive.go: one worker interface, one
// pacing loop, so a stall cannot hide behind coordinated omission); each
// worker on a fasthttp-framed connection of its own, as in wrk and ab
// (conn.go); the user API's scenarios with realistic bodies and ids taken
// from responses (scenario.go, data.go, mix.go); the same reads and writes
// straight to Cassandra with gocql (raw.go), the limit the API is measured
// against; HDR latency (result.go) and its ab, wrk and JSON renderings
// (render.go, wrkparse.go reads wrk's); and the no-op server to calibrate
// against (noop.go).
//
// It must not touch the engine or httpapi (it measures the server from
// outside, as a user would), the flag package, processes other than its
// own (package harness starts servers), or any address outside
// 127.0.0.0/8 unless a caller sets AllowRemote.
package load
