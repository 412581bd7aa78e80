package measure

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDescribeSync(t *testing.T) {
	assert.Equal(t, "group (2ms window)", describeSync(map[string]string{"commitlog_sync": "group", "commitlog_sync_group_window": "2ms"}))
	assert.Equal(t, "periodic (10000ms)", describeSync(map[string]string{"commitlog_sync": "periodic", "commitlog_sync_period": "10000ms", "commitlog_sync_group_window": "0ms"}))
	assert.Equal(t, "periodic (10000)", describeSync(map[string]string{"commitlog_sync": "periodic", "commitlog_sync_period": "null", "commitlog_sync_period_in_ms": "10000"}), "older names")
	assert.Equal(t, "batch", describeSync(map[string]string{"commitlog_sync": "batch"}))
	assert.Equal(t, "?", describeSync(map[string]string{}))
}
