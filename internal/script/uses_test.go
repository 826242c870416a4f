package script

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Inputs a script never names are not converted; these tests show that a
// script that does reach them, by any spelling, still gets them.
func TestInputsAreThereForEveryWayOfNamingThem(t *testing.T) {
	in := Input{
		Payload: map[string]any{"a": int64(1)},
		Headers: map[string]string{"x-id": "h1"},
		Query:   map[string]any{"q": "v"},
		Model:   "res.partner",
		Record:  map[string]any{"id": int64(2)},
		Records: []map[string]any{{"id": int64(2)}},
	}
	cases := map[string]string{
		"by name":               `log(headers['x-id'] + query.q + records.length)`,
		"through arguments":     `log(arguments[1]['x-id'] + arguments[2].q + arguments[4].length)`,
		"with a unicode escape": `log(h\u0065aders['x-id'] + q\u0075ery.q + r\u0065cords.length)`,
		"in a nested function":  `const f = () => headers['x-id'] + query.q + records.length; log(f())`,
	}
	for name, code := range cases {
		t.Run("a script naming its inputs "+name+" sees them", func(t *testing.T) {
			p, err := Compile("uses", code)
			require.NoError(t, err)
			h := newFakeHost()
			require.NoError(t, NewRunner(Limits{}).Run(context.Background(), p, in, h))
			logs := h.Logs()
			require.Len(t, logs, 1)
			assert.Equal(t, "h1v1", logs[0].Message)
		})
	}
	others := map[string]string{
		"by name":               `log(payload.a + '' + record.id + env['x.y']._name + model._name)`,
		"through arguments":     `log(arguments[0].a + '' + arguments[3].id + arguments[5]['x.y']._name + arguments[6]._name)`,
		"with a unicode escape": `log(p\u0061yload.a + '' + r\u0065cord.id + \u0065nv['x.y']._name + m\u006fdel._name)`,
	}
	for name, code := range others {
		t.Run("a script naming payload, record, env and model "+name+" sees them", func(t *testing.T) {
			p, err := Compile("uses", code)
			require.NoError(t, err)
			h := newFakeHost()
			require.NoError(t, NewRunner(Limits{}).Run(context.Background(), p, in, h))
			logs := h.Logs()
			require.Len(t, logs, 1)
			assert.Equal(t, "12x.yres.partner", logs[0].Message)
		})
	}
	t.Run("a script that names none of them still runs", func(t *testing.T) {
		p, err := Compile("uses", `log(String(payload.a) + record.id)`)
		require.NoError(t, err)
		h := newFakeHost()
		require.NoError(t, NewRunner(Limits{}).Run(context.Background(), p, in, h))
		require.Len(t, h.Logs(), 1)
		assert.Equal(t, "12", h.Logs()[0].Message)
	})
}
