// Package cassandratest gives integration tests their own keyspace on the real
// local Cassandra node that scripts/cassandra.sh starts.
//
// It never fakes Cassandra: when the node cannot be reached, the test fails
// loudly instead of skipping, so `make test` cannot pass without a database.
package cassandratest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
)

// Hosts returns the contact points for tests: CASSANDRA_HOSTS or 127.0.0.1.
func Hosts() []string {
	if h := os.Getenv("CASSANDRA_HOSTS"); h != "" {
		var hosts []string
		for _, s := range strings.Split(h, ",") {
			if s = strings.TrimSpace(s); s != "" {
				hosts = append(hosts, s)
			}
		}
		return hosts
	}
	return []string{"127.0.0.1"}
}

// Session opens a plain gocql session to the local node (no keyspace).
func Session(t testing.TB) *gocql.Session {
	t.Helper()
	cluster := gocql.NewCluster(Hosts()...)
	cluster.Timeout = 10 * time.Second
	cluster.ConnectTimeout = 10 * time.Second
	cluster.Consistency = gocql.One
	if u := os.Getenv("CASSANDRA_USERNAME"); u != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: u, Password: os.Getenv("CASSANDRA_PASSWORD")}
	}
	s, err := cluster.CreateSession()
	if err != nil {
		t.Fatalf("cassandratest: cannot reach Cassandra at %v (start it with `make cassandra-up`): %v", Hosts(), err)
	}
	t.Cleanup(s.Close)
	return s
}

// Keyspace creates a fresh keyspace named after prefix with replication
// factor 1 and drops it when the test (or package, via TestMain) ends.
func Keyspace(t testing.TB, prefix string) string {
	t.Helper()
	s := Session(t)
	ks := NewName(prefix)
	err := s.Query("CREATE KEYSPACE " + ks +
		" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").Exec()
	if err != nil {
		t.Fatalf("cassandratest: create keyspace %s: %v", ks, err)
	}
	t.Cleanup(func() { Drop(s, ks) })
	return ks
}

// Drop removes a keyspace; errors are ignored because the node may be gone
// at the end of a fault drill, and a leftover test keyspace harms nothing.
func Drop(s *gocql.Session, ks string) {
	_ = s.Query("DROP KEYSPACE IF EXISTS " + ks).Exec()
}

// NewName returns a unique, valid keyspace name: prefix_<12 hex chars>.
func NewName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(prefix) + "_" + hex.EncodeToString(b[:])
}
