package load

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These fail before any connection is made, so they need no Cassandra.
func TestRawConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   RawConfig
		field string
	}{
		{"bad keyspace", RawConfig{Keyspace: "Drop;", Load: Load{Requests: 1}}, "Keyspace"},
		{"bad consistency", RawConfig{Consistency: "MOST", Load: Load{Requests: 1}}, "Consistency"},
		{"http scenario", RawConfig{Load: Load{Scenario: List, Requests: 1}}, "Scenario"},
		{"mix with delete", RawConfig{Load: Load{Scenario: Mixed, Mix: Mix{{Get, 1}, {Delete, 1}}, Requests: 1}}, "Mix"},
		{"remote host", RawConfig{Hosts: []string{"192.0.2.9"}, Load: Load{Requests: 1}}, "URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RunRaw(context.Background(), tc.cfg)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce, tc.name)
			assert.Equal(t, tc.field, ce.Field, tc.name)
		})
	}
}
