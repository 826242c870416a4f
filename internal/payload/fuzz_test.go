package payload

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fuzzDepth is the nesting limit FuzzParse uses: small, so the fuzzer
// reaches it easily.
const fuzzDepth = 8

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"model":"sale.order","id":"7"}`,
		string(mediumPayload),
		`[1,-0,1.5e-3,9223372036854775807,-9223372036854775808,9223372036854775808]`,
		`1e400`,
		`{"a":1,"a":2}`,
		`{"a":1,"\u0061":2}`,
		`"\ud83d\ude00\ud83d\u0041\ude00"`,
		"\"\xff\"",
		"[[[[[[[[[1]]]]]]]]]",
		`{"a":[{"b":{"c":[null,true,false,""]}}]}`,
		` "\"\\\/\b\f\n\r\t\u0000" `,
		`01`,
		`[1,]`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(data, fuzzDepth)
		if err != nil {
			var perr *Error
			require.ErrorAs(t, err, &perr)
			assert.Nil(t, got)
			assert.GreaterOrEqual(t, perr.Offset, 0)
			assert.LessOrEqual(t, perr.Offset, len(data))
			assert.Less(t, len(perr.Error()), 120)
			for _, r := range perr.Error() {
				assert.True(t, r >= 0x20 && r < 0x7f, "error text has rune %U: %s", r, perr)
			}
		}

		ref, refErr := decodeReference(data)
		if err == nil {
			require.NoError(t, refErr, "Parse accepted what encoding/json refuses")
			assert.True(t, json.Valid(data))
		}
		if refErr != nil {
			return
		}
		// The rules this package adds to encoding/json's.
		var broken []Kind
		if !utf8.Valid(data) {
			broken = append(broken, InvalidUTF8)
		}
		if ref.dupKey {
			broken = append(broken, DuplicateKey)
		}
		if ref.depth > fuzzDepth {
			broken = append(broken, Depth)
		}
		if ref.overflow {
			broken = append(broken, NumberRange)
		}
		if len(broken) > 0 {
			var perr *Error
			require.ErrorAs(t, err, &perr, "Parse accepted input that breaks %v", broken)
			assert.Contains(t, broken, perr.Kind, "%v", perr)
			return
		}
		require.NoError(t, err, "Parse refused input that encoding/json accepts")
		assert.Equal(t, ref.value, got)
	})
}
