package measure

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/gocql/gocql"
)

// NodeSample is one reading of Cassandra's background work, the cause of
// a soak's slow windows when there is one.
type NodeSample struct {
	Time time.Time `json:"time"`
	// From system_views.thread_pools (CQL, cheap enough for every window).
	CompactionsActive  int64 `json:"compactions_active"`
	CompactionsPending int64 `json:"compactions_pending"`
	FlushesPending     int64 `json:"flushes_pending"`
	FlushesCompleted   int64 `json:"flushes_completed"` // MemtableFlushWriter, cumulative
	// PendingTasks is `nodetool compactionstats`'s estimate of pending
	// compactions, -1 when nodetool was not run for this sample.
	PendingTasks int64 `json:"nodetool_pending_compactions"`
}

// Node reads the node's thread pools over CQL and, every so often,
// `nodetool compactionstats`, which costs a JVM start (about 3 CPU
// seconds here), too much to run every 10 s beside the load.
type Node struct {
	session  *gocql.Session
	nodetool []string // command and args before "compactionstats"; nil: never
}

func NewNode(hosts []string, nodetool []string) (*Node, error) {
	s, err := Connect(hosts, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &Node{session: s, nodetool: nodetool}, nil
}

// Connect opens a session of one connection per host at consistency One,
// for reading the node's state and dropping keyspaces.
func Connect(hosts []string, timeout time.Duration) (*gocql.Session, error) {
	cluster := gocql.NewCluster(hosts...)
	cluster.Consistency = gocql.One
	cluster.Timeout = timeout
	cluster.NumConns = 1
	s, err := cluster.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("connect to cassandra at %v: %w", hosts, err)
	}
	return s, nil
}

func (n *Node) Close() { n.session.Close() }

// Sample reads the thread pools; withNodetool also runs compactionstats.
func (n *Node) Sample(ctx context.Context, withNodetool bool) (NodeSample, error) {
	s := NodeSample{Time: time.Now(), PendingTasks: -1}
	iter := n.session.Query(`SELECT name, active_tasks, pending_tasks, completed_tasks FROM system_views.thread_pools`).WithContext(ctx).Iter()
	var name string
	var active, pending, completed int64
	for iter.Scan(&name, &active, &pending, &completed) {
		switch name {
		case "CompactionExecutor":
			s.CompactionsActive, s.CompactionsPending = active, pending
		case "MemtableFlushWriter":
			s.FlushesPending, s.FlushesCompleted = pending+active, completed
		}
	}
	if err := iter.Close(); err != nil {
		return s, fmt.Errorf("read system_views.thread_pools: %w", err)
	}
	if withNodetool && len(n.nodetool) > 0 {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, n.nodetool[0], append(n.nodetool[1:], "compactionstats")...).Output()
		if err != nil {
			return s, fmt.Errorf("%v compactionstats: %w", n.nodetool, err)
		}
		s.PendingTasks = parsePendingTasks(string(out))
	}
	return s, nil
}

var pendingTasksLine = regexp.MustCompile(`(?m)^pending tasks:?\s+(\d+)`)

// parsePendingTasks reads "pending tasks  N" from nodetool compactionstats;
// -1 when absent.
func parsePendingTasks(out string) int64 {
	m := pendingTasksLine.FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// CommitLogSync describes how the node at hosts syncs its commit log, read
// from system_views.settings: "group (2ms window)", "periodic (10000ms)",
// "batch". Creates depend on it more than on anything the server does
// (docs/benchmarks.md), so every report names it.
func CommitLogSync(ctx context.Context, hosts []string) (string, error) {
	s, err := Connect(hosts, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer s.Close()
	iter := s.Query(`SELECT name, value FROM system_views.settings`).WithContext(ctx).Iter()
	settings := map[string]string{}
	var name, value string
	for iter.Scan(&name, &value) {
		settings[name] = value
	}
	if err := iter.Close(); err != nil {
		return "", fmt.Errorf("read system_views.settings: %w", err)
	}
	return describeSync(settings), nil
}

// describeSync names the sync mode and its interval from the node's
// settings (names as Cassandra 5.0 lists them, with or without units).
func describeSync(settings map[string]string) string {
	first := func(names ...string) string {
		for _, n := range names {
			if v := settings[n]; v != "" && v != "null" {
				return v
			}
		}
		return "?"
	}
	mode := first("commitlog_sync")
	switch mode {
	case "group":
		return "group (" + first("commitlog_sync_group_window", "commitlog_sync_group_window_in_ms") + " window)"
	case "periodic":
		return "periodic (" + first("commitlog_sync_period", "commitlog_sync_period_in_ms") + ")"
	}
	return mode
}
