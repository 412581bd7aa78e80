//go:build integration

package cassandratest

import (
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/require"
)

// TestWriteAndRead proves the local node is real: a row written with gocql
// into a keyspace of our own reads back with the same values.
func TestWriteAndRead(t *testing.T) {
	ks := Keyspace(t, "cassandratest")
	s := Session(t)
	require.NoError(t, s.Query("CREATE TABLE "+ks+".kv (k uuid PRIMARY KEY, v text, at timestamp)").Exec())

	id := gocql.MustRandomUUID()
	at := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, s.Query("INSERT INTO "+ks+".kv (k, v, at) VALUES (?, ?, ?)", id, "hello", at).Exec())

	var v string
	var got time.Time
	require.NoError(t, s.Query("SELECT v, at FROM "+ks+".kv WHERE k = ?", id).Scan(&v, &got))
	require.Equal(t, "hello", v)
	require.True(t, at.Equal(got), "timestamp round trip: wrote %v read %v", at, got)

	var version string
	require.NoError(t, s.Query("SELECT release_version FROM system.local").Scan(&version))
	require.Regexp(t, `^5\.0\.`, version, "the local node should be Cassandra 5.0")
}
