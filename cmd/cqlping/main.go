// Command cqlping answers whether a Cassandra node serves CQL: it connects,
// runs SELECT release_version FROM system.local and prints the version.
//
// It is the readiness probe of scripts/cassandra.sh and the Makefile; it exits
// 0 when the query succeeds and 1 otherwise, with the reason on stderr.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gocql/gocql"
)

func main() {
	fs := flag.NewFlagSet("cqlping", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cqlping [flags]\n\nExits 0 when the node answers a CQL query, 1 otherwise.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	host := fs.String("host", "127.0.0.1", "node address to probe (host or host:port)")
	port := fs.Int("port", 9042, "CQL native port, used when -host has no port")
	timeout := fs.Duration("timeout", 3*time.Second, "deadline for connecting and querying")
	user := fs.String("user", "", "username for PasswordAuthenticator (empty: no auth)")
	password := fs.String("password", "", "password for -user")
	ca := fs.String("ca", "", "PEM file of the CA that signed the node's certificate; enables TLS")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	version, err := ping(*host, *port, *timeout, *user, *password, *ca)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cqlping: %s: %v\n", *host, err)
		os.Exit(1)
	}
	fmt.Println(version)
}

func ping(host string, port int, timeout time.Duration, user, password, caFile string) (string, error) {
	cluster := gocql.NewCluster(host)
	cluster.Port = port
	cluster.Timeout = timeout
	cluster.ConnectTimeout = timeout
	cluster.NumConns = 1
	cluster.Consistency = gocql.One
	if user != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: user, Password: password}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return "", err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return "", fmt.Errorf("no certificate in %s", caFile)
		}
		cluster.SslOpts = &gocql.SslOptions{
			Config:                 &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			EnableHostVerification: true,
		}
	}
	session, err := cluster.CreateSession()
	if err != nil {
		return "", err
	}
	defer session.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var version string
	if err := session.Query("SELECT release_version FROM system.local").WithContext(ctx).Scan(&version); err != nil {
		return "", err
	}
	return version, nil
}
