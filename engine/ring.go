package engine

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/gocql/gocql"
)

// errNoKeyspace: loadRing was asked about a keyspace the cluster does not have.
var errNoKeyspace = errors.New("keyspace does not exist")

// replication is what the ring needs of a keyspace's replication settings.
//
// Racks are ignored: replicas are the next distinct hosts clockwise (per data
// center for NetworkTopologyStrategy), which is what Cassandra picks when all
// nodes of a data center share one rack.
type replication struct {
	// factor is SimpleStrategy's replication_factor; unused when perDC is set.
	factor int
	// perDC holds NetworkTopologyStrategy's factor for each data center.
	perDC map[string]int
}

// parseReplication reads the replication map of system_schema.keyspaces.
func parseReplication(m map[string]string) (replication, error) {
	class := m["class"]
	// Cassandra stores the full Java class name; CREATE KEYSPACE allows both.
	class = class[strings.LastIndexByte(class, '.')+1:]
	switch class {
	case "SimpleStrategy":
		rf, err := parseFactor(m["replication_factor"])
		if err != nil {
			return replication{}, err
		}
		if rf < 1 {
			return replication{}, fmt.Errorf("SimpleStrategy replication_factor %d: must be at least 1", rf)
		}
		return replication{factor: rf}, nil
	case "NetworkTopologyStrategy":
		perDC := make(map[string]int, len(m))
		for dc, v := range m {
			if dc == "class" {
				continue
			}
			rf, err := parseFactor(v)
			if err != nil {
				return replication{}, fmt.Errorf("data center %s: %w", dc, err)
			}
			perDC[dc] = rf
		}
		return replication{perDC: perDC}, nil
	default:
		return replication{}, fmt.Errorf("unsupported replication class %q", m["class"])
	}
}

// parseFactor accepts "3" and Cassandra's transient form "3/1"; transient
// replicas still receive writes, so only the total counts here.
func parseFactor(s string) (int, error) {
	total, _, _ := strings.Cut(s, "/")
	n, err := strconv.Atoi(total)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad replication factor %q", s)
	}
	return n, nil
}

func (p replication) String() string {
	if p.perDC == nil {
		return "SimpleStrategy rf=" + strconv.Itoa(p.factor)
	}
	var b strings.Builder
	b.WriteString("NetworkTopologyStrategy")
	for _, dc := range slices.Sorted(maps.Keys(p.perDC)) {
		fmt.Fprintf(&b, " %s=%d", dc, p.perDC[dc])
	}
	return b.String()
}

// ring maps tokens to replica sets for one keyspace.
//
// A replica set is identified by its hosts, not their order: two ranges whose
// replicas are the same hosts with different primaries share one id, because
// the engine groups writes by the hosts that must store them. So RF=3 on
// three nodes gives one set, and RF=1 gives one set per node.
//
// A ring is immutable once built, so readers need no locks; the engine swaps
// in a new one atomically when the topology changes.
type ring struct {
	tokens []int64    // every host's tokens, ascending
	owner  []int      // owner[i]: replica set of the range (tokens[i-1], tokens[i]]
	hosts  [][]string // hosts[id]: the set's hosts, never modified after build
	desc   string
}

// newRing builds the ring from each host's tokens and data center.
func newRing(hostTokens map[string][]int64, hostDC map[string]string, strategy replication) (*ring, error) {
	type tokenHost struct {
		token int64
		host  string
	}
	var pairs []tokenHost
	dcHosts := make(map[string]int) // hosts that own tokens, per data center
	nHosts := 0
	for h, toks := range hostTokens {
		if len(toks) > 0 {
			dcHosts[hostDC[h]]++
			nHosts++
		}
		for _, t := range toks {
			pairs = append(pairs, tokenHost{t, h})
		}
	}
	if len(pairs) == 0 {
		return nil, errors.New("ring has no tokens")
	}
	slices.SortFunc(pairs, func(a, b tokenHost) int {
		return cmp.Or(cmp.Compare(a.token, b.token), strings.Compare(a.host, b.host))
	})

	r := &ring{
		tokens: make([]int64, len(pairs)),
		owner:  make([]int, len(pairs)),
	}
	ringHosts := make([]string, len(pairs))
	for i, p := range pairs {
		if i > 0 && p.token == pairs[i-1].token {
			// Seen briefly while a node replaces another; the caller keeps its
			// old ring and retries rather than guess an owner.
			return nil, fmt.Errorf("token %d claimed by both %s and %s", p.token, pairs[i-1].host, p.host)
		}
		r.tokens[i] = p.token
		ringHosts[i] = p.host
	}

	// How many replicas each range gets: the factor, capped by the hosts that
	// exist (Cassandra places no more, and writes then fail as unavailable).
	need := make(map[string]int)
	total := 0
	if strategy.perDC == nil {
		total = min(strategy.factor, nHosts)
	} else {
		for dc, rf := range strategy.perDC {
			need[dc] = min(rf, dcHosts[dc])
			total += need[dc]
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("%v places no replica on hosts in data centers %v", strategy, slices.Sorted(maps.Keys(dcHosts)))
	}

	ids := make(map[string]int)
	for i := range r.tokens {
		reps := walkReplicas(ringHosts, i, total, need, hostDC, strategy.perDC != nil)
		key := slices.Clone(reps)
		slices.Sort(key)
		k := strings.Join(key, "\x00")
		id, ok := ids[k]
		if !ok {
			id = len(r.hosts)
			ids[k] = id
			r.hosts = append(r.hosts, reps)
		}
		r.owner[i] = id
	}
	r.desc = fmt.Sprintf("%d hosts, %d tokens, %d replica sets, %v", nHosts, len(r.tokens), len(r.hosts), strategy)
	return r, nil
}

// walkReplicas walks the ring clockwise from position start and returns the
// first total distinct hosts, taking at most need[dc] per data center when
// perDC is set.
func walkReplicas(ringHosts []string, start, total int, need map[string]int, hostDC map[string]string, perDC bool) []string {
	left := maps.Clone(need)
	reps := make([]string, 0, total)
	for j := 0; j < len(ringHosts) && len(reps) < total; j++ {
		h := ringHosts[(start+j)%len(ringHosts)]
		if slices.Contains(reps, h) {
			continue
		}
		if perDC {
			dc := hostDC[h]
			if left[dc] == 0 {
				continue
			}
			left[dc]--
		}
		reps = append(reps, h)
	}
	return reps
}

// replicaSet returns the id (0..sets()-1) of the replica set that owns token.
// It runs on every write: no allocations, no locks.
func (r *ring) replicaSet(token int64) int {
	// A token belongs to the first ring token >= it; past the largest it
	// wraps to the smallest, as Cassandra's ranges are (prev, tok].
	i, _ := slices.BinarySearch(r.tokens, token)
	if i == len(r.tokens) {
		i = 0
	}
	return r.owner[i]
}

// replicas returns the hosts of set id in ring order, as found for the
// lowest ring token the set owns: the first host is that range's primary.
// The slice is shared by all callers and must not be modified.
func (r *ring) replicas(id int) []string { return r.hosts[id] }

// sets returns the number of distinct replica sets.
func (r *ring) sets() int { return len(r.hosts) }

func (r *ring) String() string { return r.desc }

// loadRing reads the cluster's tokens and keyspace's replication from the
// system tables of the node the session picks.
func loadRing(s *gocql.Session, keyspace string) (*ring, error) {
	var repl map[string]string
	err := s.Query(`SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?`, keyspace).Scan(&repl)
	if errors.Is(err, gocql.ErrNotFound) {
		return nil, fmt.Errorf("load ring: %s: %w", keyspace, errNoKeyspace)
	}
	if err != nil {
		return nil, fmt.Errorf("load ring: read replication of %s: %w", keyspace, err)
	}
	strategy, err := parseReplication(repl)
	if err != nil {
		return nil, fmt.Errorf("load ring: keyspace %s: %w", keyspace, err)
	}

	peers, err := readPeers(s)
	if err != nil {
		return nil, fmt.Errorf("load ring: %w", err)
	}
	local, err := readLocal(s, peers)
	if err != nil {
		return nil, fmt.Errorf("load ring: %w", err)
	}
	hostTokens := make(map[string][]int64)
	hostDC := make(map[string]string)
	for _, h := range append(peers, local) {
		if len(h.tokens) == 0 {
			continue // joining or leaving: owns nothing yet
		}
		toks := make([]int64, len(h.tokens))
		for i, t := range h.tokens {
			if toks[i], err = strconv.ParseInt(t, 10, 64); err != nil {
				return nil, fmt.Errorf("load ring: host %s: bad token %q: %w", h.addr(), t, err)
			}
		}
		hostTokens[h.addr()] = toks
		hostDC[h.addr()] = h.dc
	}
	r, err := newRing(hostTokens, hostDC, strategy)
	if err != nil {
		return nil, fmt.Errorf("load ring: keyspace %s: %w", keyspace, err)
	}
	return r, nil
}

// readPeers reads every other node from system.peers_v2 or, on servers
// older than 4.0, system.peers.
func readPeers(s *gocql.Session) ([]hostRow, error) {
	rows, err := scanHosts(s.Query(`SELECT peer, native_address, data_center, tokens FROM system.peers_v2`).Iter())
	var reqErr gocql.RequestError
	if errors.As(err, &reqErr) && reqErr.Code() == gocql.ErrCodeInvalid {
		rows, err = scanHosts(s.Query(`SELECT peer, rpc_address, data_center, tokens FROM system.peers`).Iter())
	}
	if err != nil {
		return nil, fmt.Errorf("read peers: %w", err)
	}
	return rows, nil
}

// readLocal returns the node that answered the peers query.
//
// system.local and system.peers describe whichever node serves the query, and
// gocql v1 cannot pin a query to a host: a system.local row from another node
// A names a host already in peers, while the peers' own node B would be
// missing. B is the only node absent from its own peers table, so ask again
// until system.local names a host not in peers; the driver's round robin
// reaches B within one turn of the cluster.
func readLocal(s *gocql.Session, peers []hostRow) (hostRow, error) {
	for range 3 * (len(peers) + 1) {
		rows, err := scanHosts(s.Query(`SELECT broadcast_address, rpc_address, data_center, tokens FROM system.local`).Iter())
		if err != nil {
			return hostRow{}, fmt.Errorf("read system.local: %w", err)
		}
		if len(rows) != 1 {
			return hostRow{}, fmt.Errorf("read system.local: %d rows", len(rows))
		}
		if !slices.ContainsFunc(peers, func(p hostRow) bool { return p.addr() == rows[0].addr() }) {
			return rows[0], nil
		}
	}
	return hostRow{}, fmt.Errorf("every system.local answer names a host listed in system.peers of %d nodes", len(peers))
}

// hostRow is one node as system.local or system.peers describe it.
type hostRow struct {
	listen, native net.IP // the gossip address and the CQL address
	dc             string
	tokens         []string
}

// addr is the host's CQL address: what drivers connect to and what the
// engine names hosts by.
func (h hostRow) addr() string {
	if h.native == nil || h.native.IsUnspecified() {
		return h.listen.String()
	}
	return h.native.String()
}

func scanHosts(iter *gocql.Iter) ([]hostRow, error) {
	var rows []hostRow
	var h hostRow
	for iter.Scan(&h.listen, &h.native, &h.dc, &h.tokens) {
		rows = append(rows, h)
		h = hostRow{}
	}
	return rows, iter.Close()
}
