package measure

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParsePendingTasks(t *testing.T) {
	assert.Equal(t, int64(3), parsePendingTasks("concurrent compactors 2\npending tasks                    3           \n"), "nodetool 5 format")
	assert.Equal(t, int64(-1), parsePendingTasks("nothing"), "no figure")
}
