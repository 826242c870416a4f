package sqlstore

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEscapeTextIsOneToOneAndHoldsNoNUL(t *testing.T) {
	for _, s := range []string{"", "plain", "a\x00b", "\x00", "\x01", "\x01\x02", "\x01\x03", "x\x01", "\x01plain", "héllo\x00🎉"} {
		e := escapeText(s)
		assert.NotContains(t, e, "\x00", "escapeText(%q)", s)
		assert.Equal(t, s, unescapeText(e), "round trip of %q", s)
	}
	assert.Equal(t, "plain", escapeText("plain"), "a string without NUL or the marker is stored as it is")
	assert.NotEqual(t, escapeText("\x01\x02"), escapeText("\x01"))
}

func TestFloatsKeepAFraction(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{2, "2.0"}, {-2, "-2.0"}, {1.5, "1.5"}, {1e21, "1e+21"}, {1e20, "100000000000000000000.0"},
		{1e-7, "1e-7"}, {0.000001, "0.000001"}, {math.Copysign(0, -1), "-0.0"}, {1e300, "1e+300"},
	} {
		assert.Equal(t, c.want, string(appendFloat(nil, c.f)), "%v", c.f)
	}
}

func TestNumbersDecodeToInt64OrFloat64(t *testing.T) {
	for _, c := range []struct {
		in   string
		want any
	}{
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", 9223372036854775808.0},
		{"2.0", 2.0},
		{"1e+21", 1e21},
		{"0.0000001", 1e-7},
		{"-0", int64(0)},
	} {
		got, err := number(c.in)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, c.in)
	}
}

// FuzzDocumentRoundTrip checks that a document made of fuzzed values reads
// back exactly, with and without PostgreSQL escaping.
func FuzzDocumentRoundTrip(f *testing.F) {
	f.Add("name", "value", int64(7), 1.5, true)
	f.Add("a\x00b", "\x01\x03", int64(math.MaxInt64), 2.0, false)
	f.Add("", "\x01", int64(math.MinInt64), -2.5e-300, true)
	f.Add("名前", "'; DROP TABLE x; --\"\\\n", int64(0), 1e300, false)
	f.Fuzz(func(t *testing.T, key, s string, n int64, x float64, b bool) {
		if !utf8.ValidString(key) || !utf8.ValidString(s) || math.IsNaN(x) || math.IsInf(x, 0) {
			t.Skip()
		}
		doc := map[string]any{
			key:   s,
			"n":   n,
			"x":   x,
			"b":   b,
			"nil": nil,
			"l":   []any{s, n, x, map[string]any{key: []any{}}},
		}
		if key == "n" || key == "x" || key == "b" || key == "nil" || key == "l" {
			t.Skip()
		}
		for _, esc := range []bool{false, true} {
			text, err := encodeJSON(doc, esc)
			require.NoError(t, err)
			if esc {
				require.NotContains(t, text, `\u0000`)
			}
			got, err := decodeObject([]byte(text), esc)
			require.NoError(t, err)
			require.Equal(t, doc, got, "esc %v: %s", esc, text)
		}
	})
}

func TestMergeObjectsKeepsOtherMembersAndSetsNull(t *testing.T) {
	got, err := mergeObjects([]byte(`{"a":1,"b":"x","c":[1]}`), `{"b":null,"d":2.0}`)
	require.NoError(t, err)
	assert.Equal(t, `{"a":1,"b":null,"c":[1],"d":2.0}`, got)
}

func TestEncodeRefusesWhatJSONCannotHold(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), "\xff", map[string]any{"\xff": 1}, struct{}{}, []any{make(chan int)}} {
		_, err := encodeJSON(v, false)
		assert.Error(t, err, "%#v", v)
	}
	text, err := encodeJSON(map[string]any{"s": strings.Repeat("é", 3)}, false)
	require.NoError(t, err)
	assert.Equal(t, `{"s":"ééé"}`, text)
}
