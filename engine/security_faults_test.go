//go:build faults

package engine

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAuthAndTLS starts a separate local node (127.0.0.20) with
// PasswordAuthenticator and client TLS, and proves the engine connects only
// with the right credentials over verified TLS.
func TestAuthAndTLS(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	tlsDir := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CASSANDRA_CLUSTER=secure", "CASSANDRA_ADDR_BASE=20",
			"CASSANDRA_AUTH=1", "CASSANDRA_TLS_DIR="+tlsDir, "CASSANDRA_HEAP=512m")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%v: %s", args, out)
	}
	run("scripts/tls-certs.sh", tlsDir)
	run("scripts/cassandra.sh", "stop") // a node left from an earlier run has other certificates
	run("scripts/cassandra.sh", "start")
	t.Cleanup(func() { run("scripts/cassandra.sh", "stop") })

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	base := Config{
		Hosts: []string{"127.0.0.20"}, Keyspace: "secure_test", Logger: quiet,
		Username: "cassandra", Password: "cassandra",
		TLS:            TLSConfig{CAFile: filepath.Join(tlsDir, "ca.pem"), VerifyHost: true},
		ConnectTimeout: 5 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("right credentials over verified TLS", func(t *testing.T) {
		e, err := New(ctx, base)
		require.NoError(t, err)
		defer e.Close(ctx)
		u, err := e.CreateUser(ctx, NewUser{Name: "Sec", Email: "sec@example.com", Age: 40}, Options{})
		require.NoError(t, err)
		got, err := e.GetUser(ctx, u.ID, Options{})
		require.NoError(t, err)
		assert.Equal(t, u, got)
	})
	t.Run("wrong password", func(t *testing.T) {
		cfg := base
		cfg.Password = "wrong"
		_, err := New(ctx, cfg)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "wrong", "the password never appears in errors")
	})
	t.Run("no credentials", func(t *testing.T) {
		cfg := base
		cfg.Username, cfg.Password = "", ""
		_, err := New(ctx, cfg)
		require.Error(t, err)
	})
	t.Run("plaintext to a TLS port", func(t *testing.T) {
		cfg := base
		cfg.TLS = TLSConfig{}
		_, err := New(ctx, cfg)
		require.Error(t, err)
	})
	t.Run("untrusted CA", func(t *testing.T) {
		other := t.TempDir()
		cmd := exec.Command(filepath.Join(root, "scripts/tls-certs.sh"), other)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		cfg := base
		cfg.TLS.CAFile = filepath.Join(other, "ca.pem")
		_, err = New(ctx, cfg)
		require.Error(t, err, "a server certificate from another CA is refused")
	})
}
