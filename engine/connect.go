package engine

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/gocql/gocql"
)

// Connecting: the gocql cluster configuration, TLS, and the driver's log.

func (e *Engine) clusterConfig() (*gocql.ClusterConfig, error) {
	c := e.cfg
	cluster := gocql.NewCluster(c.Hosts...)
	cluster.Port = c.Port
	cluster.ProtoVersion = 4
	cluster.Consistency, _ = consistencyToGocql(c.Consistency)
	cluster.Timeout = c.QueryTimeout
	cluster.WriteTimeout = c.QueryTimeout
	cluster.ConnectTimeout = c.ConnectTimeout
	cluster.NumConns = c.NumConns
	cluster.WriteCoalesceWaitTime = max(c.WriteCoalesceWait, 0)
	cluster.ReconnectInterval = c.ReconnectInterval
	cluster.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 1 << 30, Interval: c.ReconnectInterval}
	// gocql retries only statements marked idempotent; we mark exactly those
	// whose repetition cannot change the outcome.
	cluster.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: c.Retries}
	cluster.DefaultIdempotence = false
	cluster.Logger = slogLogger{e.log}
	if c.Dialer != nil {
		cluster.Dialer = c.Dialer
	}
	var inner gocql.HostSelectionPolicy
	if c.Datacenter != "" {
		inner = gocql.DCAwareRoundRobinPolicy(c.Datacenter)
	} else {
		inner = gocql.RoundRobinHostPolicy()
	}
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(inner, gocql.ShuffleReplicas())
	if c.Username != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: c.Username, Password: c.Password}
	}
	if c.TLS.Enabled {
		tc, err := tlsConfig(c.TLS)
		if err != nil {
			return nil, err
		}
		cluster.SslOpts = &gocql.SslOptions{Config: tc, EnableHostVerification: c.TLS.VerifyHost}
	}
	return cluster, nil
}

// connectDirect opens the second set of connections, the same as the first
// but writing each frame at once (see sessions).
func (e *Engine) connectDirect() error {
	cluster, err := e.clusterConfig() // a host policy of its own: policies hold per-session state
	if err != nil {
		return err
	}
	cluster.WriteCoalesceWaitTime = 0
	e.direct, err = cluster.CreateSession()
	return err
}

// sessions picks the connections of the next query, and names the other
// set (nil when there is one). While at most DirectBelow tasks execute it
// picks the direct ones, whose frames go out at once (an idle connection
// would hold a frame for a timer Go rounds up to about a millisecond);
// under load, the coalescing ones, whose frames share writes and so cost
// fewer syscalls per query.
//
// The two sets reconnect on their own after an outage, up to a reconnect
// interval apart, so a query the driver could not send on the picked set
// runs on the other (see unsent).
func (e *Engine) sessions() (pick, other *gocql.Session) {
	if e.direct == nil {
		return e.session, nil
	}
	if e.inflight.Load() <= int64(e.cfg.DirectBelow) {
		return e.direct, e.session
	}
	return e.session, e.direct
}

// unsent reports whether a query that ended with err should run again on
// other: gocql.ErrNoConnections means the driver found no connection and
// made no attempt, so nothing reached Cassandra and any statement may go
// again.
func unsent(err error, other *gocql.Session) bool {
	return other != nil && errors.Is(err, gocql.ErrNoConnections)
}

func (e *Engine) closeSessions() {
	if e.direct != nil {
		e.direct.Close()
	}
	e.session.Close()
}

func tlsConfig(t TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !t.VerifyHost} //nolint:gosec // host verification is the operator's choice
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("engine: TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("engine: TLS CA %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
		if !t.VerifyHost {
			// Still check the chain against the CA; only the name is not checked.
			tc.InsecureSkipVerify = true
			tc.VerifyPeerCertificate = verifyChainOnly(pool)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("engine: TLS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func verifyChainOnly(roots *x509.CertPool) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("no server certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return err
			}
			certs[i] = c
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
		return err
	}
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Print(v ...any) { s.l.Debug(fmt.Sprint(v...), "component", "gocql") }
func (s slogLogger) Printf(format string, v ...any) {
	s.l.Debug(fmt.Sprintf(format, v...), "component", "gocql")
}
func (s slogLogger) Println(v ...any) { s.l.Debug(fmt.Sprint(v...), "component", "gocql") }
