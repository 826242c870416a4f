package webhook_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookline/webhook"
)

func TestNormalizeValue(t *testing.T) {
	t.Run("Go numbers become int64 or float64 and records become maps, deeply", func(t *testing.T) {
		got, err := webhook.NormalizeValue(map[string]any{
			"i": 7, "u8": uint8(200), "f32": float32(0.5), "n": json.Number("12"), "x": json.Number("1e-3"),
			"rec": webhook.Record{"list": []any{int16(3), nil, "s", true}},
		})
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"i": int64(7), "u8": int64(200), "f32": 0.5, "n": int64(12), "x": 0.001,
			"rec": map[string]any{"list": []any{int64(3), nil, "s", true}}}, got)
	})
	t.Run("the result is a copy", func(t *testing.T) {
		in := []any{map[string]any{"a": int64(1)}}
		got, err := webhook.NormalizeValue(in)
		require.NoError(t, err)
		got.([]any)[0].(map[string]any)["a"] = int64(2)
		assert.Equal(t, int64(1), in[0].(map[string]any)["a"])
	})
	for name, v := range map[string]any{
		"NaN": math.NaN(), "Inf": math.Inf(-1), "a uint64 above int64": uint64(math.MaxUint64),
		"a struct": struct{}{}, "a []string": []string{"a"}, "a non-numeric Number": json.Number("x"),
		"nesting past 64 levels": deep(70),
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			_, err := webhook.NormalizeValue(v)
			assert.Error(t, err)
		})
	}
}

func deep(n int) any {
	var v any = "leaf"
	for i := 0; i < n; i++ {
		v = []any{v}
	}
	return v
}

func TestNormalizeID(t *testing.T) {
	for in, want := range map[any]webhook.ID{int(7): int64(7), uint32(7): int64(7), 7.0: int64(7), json.Number("9223372036854775807"): int64(math.MaxInt64), "abc": "abc"} {
		got, err := webhook.NormalizeID(in)
		require.NoError(t, err, "%T %v", in, in)
		assert.Equal(t, want, got)
	}
	for _, in := range []any{nil, 7.5, float64(1 << 60), true, float32(7), []any{1}, uint64(math.MaxUint64), json.Number("1.5")} {
		_, err := webhook.NormalizeID(in)
		assert.Error(t, err, "%T %v", in, in)
	}
}

func TestValuesEqual(t *testing.T) {
	cases := []struct {
		a, b any
		want bool
	}{
		{int64(3), 3.0, true},
		{3.0, int64(3), true},
		{int64(3), 3.5, false},
		{"3", int64(3), false},
		{int64(math.MaxInt64), float64(math.MaxInt64), false},
		{nil, nil, true},
		{nil, false, false},
		{[]any{int64(1), "a"}, []any{1.0, "a"}, true},
		{[]any{int64(1)}, []any{int64(1), int64(2)}, false},
		{map[string]any{"a": int64(1)}, map[string]any{"a": 1.0}, true},
		{map[string]any{"a": int64(1)}, map[string]any{"b": int64(1)}, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, webhook.ValuesEqual(c.a, c.b), "%#v vs %#v", c.a, c.b)
	}
}
