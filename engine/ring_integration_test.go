//go:build integration

package engine

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/internal/cassandratest"
)

// tokenTable creates keyspace.table with partition key k of type keyType.
func tokenTable(t *testing.T, s *gocql.Session, ks, table, keyType string) string {
	t.Helper()
	name := ks + "." + table
	err := s.Query("CREATE TABLE " + name + " (k " + keyType + " PRIMARY KEY, v int)").Exec()
	require.NoError(t, err, "create table %s", name)
	return name
}

// insertKeys inserts every key into table from a few goroutines: the node
// syncs its commit log per write, so one at a time takes seconds.
func insertKeys(t *testing.T, s *gocql.Session, table string, keys []any) {
	t.Helper()
	const workers = 16
	next := make(chan any)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for k := range next {
				if err := s.Query("INSERT INTO "+table+" (k, v) VALUES (?, 1)", k).Exec(); err != nil {
					errs <- fmt.Errorf("insert %x: %w", k, err)
					return
				}
			}
		})
	}
	for _, k := range keys {
		select {
		case next <- k:
		case err := <-errs:
			close(next)
			wg.Wait()
			require.NoError(t, err)
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	require.NoError(t, <-errs)
}

// requireTokens reads every row's token(k) and compares it with murmur3Token.
func requireTokens(t *testing.T, s *gocql.Session, table string, want map[string]bool) {
	t.Helper()
	iter := s.Query("SELECT k, token(k) FROM " + table).PageSize(1000).Iter()
	var k []byte
	var tok int64
	n := 0
	for iter.Scan(&k, &tok) {
		require.True(t, want[string(k)], "row %x was not inserted", k)
		require.Equal(t, tok, murmur3Token(k), "token of key %x (%d bytes)", k, len(k))
		n++
	}
	require.NoError(t, iter.Close(), "scan %s", table)
	require.Equal(t, len(want), n, "rows in %s", table)
}

func TestTokenMatchesCassandraBlob(t *testing.T) {
	ks := cassandratest.Keyspace(t, "ring")
	s := cassandratest.Session(t)
	table := tokenTable(t, s, ks, "blob_keys", "blob")

	rng := rand.New(rand.NewPCG(7, 8))
	want := make(map[string]bool)
	var keys []any
	for range 800 {
		key := make([]byte, rng.IntN(41))
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		if len(key) == 0 {
			// Cassandra refuses empty partition keys, so only token(0x) below
			// can show its token.
			err := s.Query("INSERT INTO "+table+" (k, v) VALUES (?, 1)", key).Exec()
			require.Error(t, err, "insert of the empty key")
			continue
		}
		if !want[string(key)] {
			want[string(key)] = true
			keys = append(keys, key)
		}
	}
	require.GreaterOrEqual(t, len(want), 500, "distinct keys to insert")
	insertKeys(t, s, table, keys)
	requireTokens(t, s, table, want)

	var empty int64
	err := s.Query("SELECT token(0x) FROM " + table + " LIMIT 1").Scan(&empty)
	require.NoError(t, err, "token(0x)")
	require.Equal(t, empty, murmur3Token(nil), "token of the empty key")
}

func TestTokenMatchesCassandraUUID(t *testing.T) {
	ks := cassandratest.Keyspace(t, "ring")
	s := cassandratest.Session(t)
	table := tokenTable(t, s, ks, "uuid_keys", "uuid")

	want := make(map[string]bool)
	var keys []any
	for i := range 600 {
		u := gocql.TimeUUID() // version 1 and 4 UUIDs, as the API may see both
		if i%2 == 0 {
			var err error
			u, err = gocql.RandomUUID()
			require.NoError(t, err, "random uuid")
		}
		want[string(u[:])] = true
		keys = append(keys, u)
	}
	require.Len(t, want, len(keys), "uuids are unique")
	insertKeys(t, s, table, keys)

	iter := s.Query("SELECT k, token(k) FROM " + table).PageSize(1000).Iter()
	var u gocql.UUID
	var tok int64
	n := 0
	for iter.Scan(&u, &tok) {
		require.True(t, want[string(u[:])], "row %v was not inserted", u)
		require.Equal(t, tok, murmur3Token(u[:]), "token of uuid %v", u)
		n++
	}
	require.NoError(t, iter.Close(), "scan %s", table)
	require.Equal(t, len(want), n, "rows in %s", table)
}

// TestMurmur3GoldenMatchesCassandra keeps the unit test's hard-coded table
// honest against the running server.
func TestMurmur3GoldenMatchesCassandra(t *testing.T) {
	ks := cassandratest.Keyspace(t, "ring")
	s := cassandratest.Session(t)
	table := tokenTable(t, s, ks, "golden", "blob")

	want := make(map[string]bool)
	for _, g := range murmur3Golden {
		key, err := hex.DecodeString(g.key)
		require.NoError(t, err, "bad golden key %q", g.key)
		if len(key) == 0 {
			continue // not insertable; TestTokenMatchesCassandraBlob covers token(0x)
		}
		require.NoError(t, s.Query("INSERT INTO "+table+" (k, v) VALUES (?, 1)", key).Exec(), "insert %s", g.key)
		want[string(key)] = true
		var tok int64
		require.NoError(t, s.Query("SELECT token(k) FROM "+table+" WHERE k = ?", key).Scan(&tok), "token of %s", g.key)
		require.Equal(t, g.token, tok, "golden token of key %s", g.key)
	}
	requireTokens(t, s, table, want)
}

// liveNodes returns the answering node's CQL address and every node's data
// center by CQL address, read independently of loadRing.
func liveNodes(t *testing.T, s *gocql.Session) (local string, dcs map[string]string) {
	t.Helper()
	var addr net.IP
	var dc string
	require.NoError(t, s.Query("SELECT rpc_address, data_center FROM system.local").Scan(&addr, &dc), "system.local")
	local = addr.String()
	dcs = map[string]string{local: dc}
	iter := s.Query("SELECT native_address, data_center FROM system.peers_v2").Iter()
	for iter.Scan(&addr, &dc) {
		dcs[addr.String()] = dc
	}
	require.NoError(t, iter.Close(), "system.peers_v2")
	return local, dcs
}

func TestRingLoadLive(t *testing.T) {
	s := cassandratest.Session(t)
	simple := cassandratest.Keyspace(t, "ring") // SimpleStrategy, rf 1
	local, nodes := liveNodes(t, s)

	// NetworkTopologyStrategy with rf 3 in the local data center only.
	dc := nodes[local]
	inDC := 0
	for _, d := range nodes {
		if d == dc {
			inDC++
		}
	}
	nts := cassandratest.NewName("ring")
	err := s.Query("CREATE KEYSPACE " + nts + " WITH replication = {'class': 'NetworkTopologyStrategy', '" + dc + "': 3}").Exec()
	require.NoError(t, err, "create %s", nts)
	t.Cleanup(func() { cassandratest.Drop(s, nts) })

	tests := []struct {
		name     string
		keyspace string
		size     int // replicas per token
	}{
		{"simple rf1", simple, 1},
		{"nts rf3", nts, min(3, inDC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := loadRing(s, tt.keyspace)
			require.NoError(t, err, "loadRing(%s)", tt.keyspace)
			t.Logf("ring of %s: %v", tt.keyspace, r)

			rng := rand.New(rand.NewPCG(9, 10))
			for range 1000 {
				tok := rng.Int64() - rng.Int64()
				hosts := r.replicas(r.replicaSet(tok))
				require.Len(t, hosts, tt.size, "replicas of token %d", tok)
				for _, h := range hosts {
					require.Contains(t, nodes, h, "replica of token %d is not a live node", tok)
				}
			}
			if len(nodes) == 1 {
				require.Equal(t, 1, r.sets(), "one node has one replica set")
				require.Equal(t, []string{local}, r.replicas(0), "the only replica")
			}
		})
	}

	t.Run("missing keyspace", func(t *testing.T) {
		_, err := loadRing(s, cassandratest.NewName("absent"))
		require.ErrorIs(t, err, errNoKeyspace)
	})
}
