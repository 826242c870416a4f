package script

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Objects handed in are built with Set on a prototype-less object (see
// newObject); keys that would mean something to an inherited property must
// still become plain own properties.
func TestKeysThatShadowInheritedPropertiesBecomeOwnProperties(t *testing.T) {
	h := newFakeHost()
	h.put("res.partner", map[string]any{"id": int64(1), "write": "w", "toString": "t", "__proto__": map[string]any{"polluted": true}, "_name": "n"})
	require.NoError(t, run(t, `
		const r = env['res.partner'].browse(1);
		const own = (o, k) => Object.hasOwn(o, k) && Object.getOwnPropertyDescriptor(o, k).enumerable;
		log([own(r, 'write'), own(r, 'toString'), own(r, '__proto__'), own(r, '_name'), r.polluted, r._name,
			Object.getPrototypeOf(r) === Object.getPrototypeOf(record)].join());
		log([own(payload, '__proto__'), own(payload, 'toString'), payload.polluted, Object.getPrototypeOf(payload) === Object.prototype].join());
		log([Object.keys(record).join('|'), own(record, '_name'), record._name].join());
	`, Input{
		Payload: map[string]any{"__proto__": map[string]any{"polluted": true}, "toString": "x"},
		Model:   "res.partner",
		Record:  map[string]any{"id": int64(2), "name": "Ada"},
	}, h))
	var out []string
	for _, l := range h.Logs() {
		out = append(out, l.Message)
	}
	require.Len(t, out, 3)
	assert.Equal(t, "true,true,true,true,,n,true", out[0])
	assert.Equal(t, "true,true,,true", out[1])
	assert.Equal(t, "id|name,false,res.partner", out[2])
}
