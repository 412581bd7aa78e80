package engine

import (
	"context"
	"crypto/sha1"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// statements holds every CQL text the engine runs, built once at start-up
// with the keyspace qualified in; only values are bound per request.
type statements struct {
	insert   string
	get      string
	getMany  string // get of several ids: one IN query (readgroup.go)
	list     string // first page
	listFrom string // pages after a token
	probe    string
	del      string
	update   [8]string // indexed by the set of patched columns (name=1, email=2, age=4)
	ping     string

	// write timestamp slots (stamp.go)
	claimSlot, renewSlot, releaseSlot string
}

const userColumns = "id, name, email, age, created_at, updated_at"

// tombstoneTimestamp is the write timestamp of a delete. Ids are random and
// never reused, so a delete may shadow every later write to its partition:
// an update racing a delete can never bring the row back, in part or whole,
// without the four round trips of a lightweight transaction.
const tombstoneTimestamp = int64(1) << 62

func newStatements(ks string) statements {
	t := ks + ".users"
	s := statements{
		insert:   "INSERT INTO " + t + " (" + userColumns + ") VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
		get:      "SELECT " + userColumns + " FROM " + t + " WHERE id = ?",
		getMany:  "SELECT " + userColumns + " FROM " + t + " WHERE id IN ?",
		list:     "SELECT " + userColumns + " FROM " + t + " LIMIT ?",
		listFrom: "SELECT " + userColumns + " FROM " + t + " WHERE token(id) > ? LIMIT ?",
		probe:    "SELECT id FROM " + t + " LIMIT 1",
		del:      "DELETE FROM " + t + " USING TIMESTAMP ? WHERE id = ?",
		ping:     "SELECT release_version FROM system.local",

		claimSlot:   "INSERT INTO " + ks + ".stamp_slots (slot, owner) VALUES (?, ?) IF NOT EXISTS USING TTL ?",
		renewSlot:   "UPDATE " + ks + ".stamp_slots USING TTL ? SET owner = ? WHERE slot = ? IF owner = ?",
		releaseSlot: "DELETE FROM " + ks + ".stamp_slots WHERE slot = ? IF owner = ?",
	}
	for mask := range s.update {
		q := "UPDATE " + t + " USING TIMESTAMP ? SET "
		if mask&1 != 0 {
			q += "name = ?, "
		}
		if mask&2 != 0 {
			q += "email = ?, "
		}
		if mask&4 != 0 {
			q += "age = ?, "
		}
		s.update[mask] = q + "updated_at = ? WHERE id = ?"
	}
	return s
}

// tableID derives a table's id from its name, so that instances starting at
// once and racing CREATE TABLE IF NOT EXISTS all create the very same table
// instead of conflicting schema versions.
func tableID(keyspace, table string) gocql.UUID {
	sum := sha1.Sum([]byte("userapi:" + keyspace + "." + table))
	var u gocql.UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50 // version 5 (name-based, SHA-1)
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

func (e *Engine) replicationCQL() string {
	if e.cfg.Datacenter != "" {
		return fmt.Sprintf("{'class': 'NetworkTopologyStrategy', '%s': %d}", e.cfg.Datacenter, e.cfg.ReplicationFactor)
	}
	return fmt.Sprintf("{'class': 'SimpleStrategy', 'replication_factor': %d}", e.cfg.ReplicationFactor)
}

// ensureSchema creates the keyspace and table when missing and waits until
// every node agrees on the schema. Safe to run from many instances at once.
func (e *Engine) ensureSchema(ctx context.Context) error {
	start := time.Now()
	ks := e.cfg.Keyspace
	stmts := []string{
		"CREATE KEYSPACE IF NOT EXISTS " + ks + " WITH replication = " + e.replicationCQL(),
		"CREATE TABLE IF NOT EXISTS " + ks + ".users (" +
			"id uuid PRIMARY KEY, name text, email text, age int, created_at timestamp, updated_at timestamp" +
			") WITH ID = " + tableID(ks, "users").String(),
		"CREATE TABLE IF NOT EXISTS " + ks + ".stamp_slots (slot int PRIMARY KEY, owner uuid)" +
			" WITH ID = " + tableID(ks, "stamp_slots").String(),
	}
	for _, q := range stmts {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := e.session.Query(q).WithContext(qctx).Consistency(gocql.All).Exec()
		cancel()
		if err != nil {
			return classify("schema", fmt.Errorf("%s: %w", q, err))
		}
	}
	actx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := e.session.AwaitSchemaAgreement(actx); err != nil {
		return classify("schema agreement", err)
	}
	e.log.Info("schema ready", "keyspace", ks, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
