//go:build integration

package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
	"github.com/userapi/userapi/internal/cassandratest"
)

// The contract, end to end: the real server over HTTP, the real engine,
// the real Cassandra node, in a keyspace of this package's own that the
// engine creates and the test drops.

var _ Store = (*engine.Engine)(nil)

type liveAPI struct {
	*testServer
	eng     *engine.Engine
	cql     *gocql.Session
	ks      string
	timeout time.Duration
}

// startLive starts the real engine on a keyspace of its own (mods adjust
// its config) and the real server in front of it.
func startLive(t *testing.T, mods ...func(*engine.Config)) *liveAPI {
	t.Helper()
	ks := cassandratest.NewName("httpapi")
	cql := cassandratest.Session(t)
	t.Cleanup(func() { cassandratest.Drop(cql, ks) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := engine.Config{
		Hosts:    cassandratest.Hosts(),
		Keyspace: ks,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range mods {
		m(&cfg)
	}
	eng, err := engine.New(ctx, cfg)
	require.NoError(t, err, "engine.New on keyspace %s", ks)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, eng.Close(ctx))
	})
	return &liveAPI{testServer: startServer(t, eng), eng: eng, cql: cql, ks: ks}
}

func (a *liveAPI) create(t *testing.T, name, email string, age int) userJSON {
	t.Helper()
	resp, body := a.do(t, "POST", "/users", fmt.Sprintf(`{"name":%q,"email":%q,"age":%d}`, name, email, age))
	require.Equal(t, 201, resp.StatusCode, "create %s: %s", name, body)
	return decode[userJSON](t, body)
}

// rowsInTable reads every id straight from Cassandra.
func (a *liveAPI) rowsInTable(t *testing.T) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	iter := a.cql.Query("SELECT id FROM " + a.ks + ".users").PageSize(1000).Iter()
	var id gocql.UUID
	for iter.Scan(&id) {
		ids[id.String()] = true
	}
	require.NoError(t, iter.Close())
	return ids
}

// rawRow reads one row straight from Cassandra; found=false when absent.
func (a *liveAPI) rawRow(t *testing.T, id string) (name, email *string, age *int, found bool) {
	t.Helper()
	uid, err := gocql.ParseUUID(id)
	require.NoError(t, err)
	err = a.cql.Query("SELECT name, email, age FROM "+a.ks+".users WHERE id = ?", uid).
		Consistency(gocql.One).Scan(&name, &email, &age)
	if err == gocql.ErrNotFound {
		return nil, nil, nil, false
	}
	require.NoError(t, err)
	return name, email, age, true
}
