//go:build !race

// The race detector changes allocation counts, so these checks run only
// without it.

package payload

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAllocations(t *testing.T) {
	t.Run("the small payload costs a map, one string arena and two string boxes", func(t *testing.T) {
		_, err := Parse(smallPayload, 0)
		require.NoError(t, err)
		// A map is two allocations (header and group); the four strings
		// share one arena; each string value is boxed into an any.
		allocs := testing.AllocsPerRun(100, func() { _, _ = Parse(smallPayload, 0) })
		assert.LessOrEqual(t, allocs, 5.0)
	})

	t.Run("small integers, bools, null and empty strings cost nothing beyond their array", func(t *testing.T) {
		// An array is its backing array plus the box holding its header.
		input := []byte(`[0,1,255,true,false,null,""]`)
		allocs := testing.AllocsPerRun(100, func() { _, _ = Parse(input, 0) })
		assert.LessOrEqual(t, allocs, 2.0)
	})

	t.Run("an empty array costs nothing", func(t *testing.T) {
		input := []byte(`[]`)
		allocs := testing.AllocsPerRun(100, func() { _, _ = Parse(input, 0) })
		assert.Zero(t, allocs)
	})

	t.Run("a rejected 1,000,000-level input costs only the error", func(t *testing.T) {
		input := []byte(strings.Repeat("[", 1_000_000))
		allocs := testing.AllocsPerRun(10, func() { _, _ = Parse(input, 0) })
		assert.LessOrEqual(t, allocs, 2.0)
	})
}
