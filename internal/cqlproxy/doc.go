// Package cqlproxy is a TCP proxy for tests that understands CQL v4 framing
// (uncompressed), so a test can act on one request frame: hold it, or let it
// reach Cassandra and then cut the client's connection before the answer
// arrives (the "outcome unknown" case). It never fakes Cassandra: every
// frame it lets through is answered by the real node.
//
// It owns nothing of the product: only tests import it (engine and httpapi
// integration tests, through engine.Config.Dialer). It must not import the
// engine, and never answers a frame itself.
package cqlproxy
