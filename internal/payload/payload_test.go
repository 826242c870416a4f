package payload

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAgreesWithEncodingJSON(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{"the small webhook payload decodes to a map of strings", `{"model":"sale.order","id":"7"}`},
		{"the medium webhook payload decodes like encoding/json", string(mediumPayload)},
		{"null at top level decodes to nil", `null`},
		{"true and false decode to bools", `[true,false]`},
		{"a top-level string decodes to a string", `"hello"`},
		{"a top-level number decodes to int64", `42`},
		{"surrounding whitespace is allowed", " \t\r\n{\"a\" : [ 1 , 2 ] }\n\t "},
		{"empty array and object decode to non-nil empties", `{"a":[],"b":{}}`},
		{"nested arrays and objects decode recursively", `[[[]],[{}],{"a":{"b":{"c":[1,[2,[3]]]}}}]`},
		{"arrays longer than the scratch buffer keep their order", "[" + strings.Repeat("1,", 100) + "2]"},
		{"objects with many keys keep every key", manyKeys(100)},
		{"zero decodes to int64", `0`},
		{"negative zero decodes to int64 zero", `-0`},
		{"negative zero with a fraction decodes to float64", `-0.0`},
		{"a fraction decodes to float64", `1.5`},
		{"an exponent decodes to float64", `1e3`},
		{"an upper-case exponent with a sign decodes to float64", `-1.25E+2`},
		{"a negative exponent decodes to float64", `5e-1`},
		{"the smallest subnormal float decodes", `5e-324`},
		{"an underflowing float decodes to zero", `1e-400`},
		{"the largest float decodes", `1.7976931348623157e308`},
		{"2^53+1 stays exact as int64", `9007199254740993`},
		{"the largest int64 stays exact", `9223372036854775807`},
		{"the smallest int64 stays exact", `-9223372036854775808`},
		{"2^63 becomes float64", `9223372036854775808`},
		{"-2^63-1 becomes float64", `-9223372036854775809`},
		{"a twenty-digit integer becomes float64", `12345678901234567890`},
		{"a long integer becomes float64", strings.Repeat("9", 300)},
		{"simple escapes decode", `"\" \\ \/ \b \f \n \r \t"`},
		{"unicode escapes decode", `"\u0041\u00e9\u4e2d\uFFFF"`},
		{"a NUL escape decodes to a NUL byte", `"a\u0000b"`},
		{"a surrogate pair decodes to one rune", `"\ud83d\ude00"`},
		{"a lone high surrogate decodes to U+FFFD", `"\ud83d"`},
		{"a lone low surrogate decodes to U+FFFD", `"\ude00x"`},
		{"a high surrogate before a non-surrogate escape decodes to U+FFFD and the escape", `"\ud83d\u0041"`},
		{"two high surrogates then a low one decode to U+FFFD and a pair", `"\ud83d\ud83d\ude00"`},
		{"a high surrogate before a plain character decodes to U+FFFD", `"\ud83dA"`},
		{"raw multibyte UTF-8 passes through", `"héllo, 世界, 😀"`},
		{"DEL and other printable ASCII pass through", "\"\x7f~ \""},
		{"keys with escapes are unescaped", `{"a\nb":1,"\u00e9":2}`},
		{"keys differing only after unescaping are distinct", `{"a":1,"\u0061b":2}`},
		{"strings longer than the arena limit decode", `["` + strings.Repeat("x", 500) + `","` + strings.Repeat("y\\n", 200) + `"]`},
		{"many strings spill over several arena chunks", "[" + strings.Repeat(`"abcdefghijklmnopqrstuvwxyz0123456789",`, 100) + `"end"]`},
		{"an empty string decodes to an empty string", `["",{"":""}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, err := decodeReference([]byte(tt.input))
			require.NoError(t, err, "encoding/json must accept the test input")
			require.False(t, ref.dupKey || ref.overflow, "test input must obey this package's rules")

			got, err := Parse([]byte(tt.input), 0)
			assert.NoError(t, err)
			assert.Equal(t, ref.value, got)
		})
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k`)
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(`":`)
		b.WriteString(`[` + strings.Repeat("0,", i%5) + `0]`)
	}
	b.WriteByte('}')
	return b.String()
}

func TestParseReturnsExactTypes(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  any
	}{
		{"the largest int64 is exact", `9223372036854775807`, int64(math.MaxInt64)},
		{"the smallest int64 is exact", `-9223372036854775808`, int64(math.MinInt64)},
		{"2^63 is the nearest float64", `9223372036854775808`, float64(1 << 63)},
		{"2^53+1 is not rounded", `9007199254740993`, int64(9007199254740993)},
		{"negative zero is int64 zero", `-0`, int64(0)},
		{"a small integer is int64", `7`, int64(7)},
		{"an integer with a zero fraction is float64", `7.0`, float64(7)},
		{"an integer with an exponent is float64", `7e0`, float64(7)},
		{"a lone surrogate is U+FFFD", `"\ud800"`, "\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.input), 0)
			require.NoError(t, err)
			assert.IsType(t, tt.want, got)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		kind   Kind
		offset int
		reason string
	}{
		// Syntax.
		{"empty input is a syntax error", ``, Syntax, 0, "empty input"},
		{"whitespace-only input is a syntax error", " \n\t ", Syntax, 4, "empty input"},
		{"trailing garbage after a value is an error", `{"a":1} x`, Syntax, 8, "unexpected character 'x' after top-level value"},
		{"a second top-level value is an error", `1 2`, Syntax, 2, "unexpected character '2' after top-level value"},
		{"an unexpected character where a value belongs is an error", `[x]`, Syntax, 1, "unexpected character 'x', expected a value"},
		{"a trailing comma in an array is an error", `[1,]`, Syntax, 3, "unexpected character ']', expected a value"},
		{"a trailing comma in an object is an error", `{"a":1,}`, Syntax, 7, "unexpected character '}', expected a string key"},
		{"a missing comma in an array is an error", `[1 2]`, Syntax, 3, "unexpected character '2', expected ',' or ']'"},
		{"a missing comma in an object is an error", `{"a":1 "b":2}`, Syntax, 7, "unexpected character '\"', expected ',' or '}'"},
		{"a missing colon is an error", `{"a" 1}`, Syntax, 5, "unexpected character '1', expected ':'"},
		{"an unquoted key is an error", `{a:1}`, Syntax, 1, "unexpected character 'a', expected a string key"},
		{"a single-quoted string is an error", `'a'`, Syntax, 0, "unexpected character '\\'', expected a value"},
		{"an unclosed array is an error", `[1,2`, Syntax, 4, "unexpected end of input"},
		{"an unclosed object is an error", `{"a":1`, Syntax, 6, "unexpected end of input"},
		{"an object ending after its key is an error", `{"a"`, Syntax, 4, "unexpected end of input"},
		{"an object ending after its colon is an error", `{"a":`, Syntax, 5, "unexpected end of input"},
		{"a mismatched bracket is an error", `[1}`, Syntax, 2, "unexpected character '}', expected ',' or ']'"},
		{"an unterminated string is an error", `"abc`, Syntax, 0, "unterminated string"},
		{"a string ending in a backslash is an error", `"abc\`, Syntax, 0, "unterminated string"},
		{"a string ending after an escape is an error", `"a\n`, Syntax, 0, "unterminated string"},
		{"a raw newline in a string is an error", "\"a\nb\"", Syntax, 2, `control character '\n' in string`},
		{"a raw NUL after an escape is an error", "\"\\n\x00\"", Syntax, 3, `control character '\x00' in string`},
		{"an unknown escape is an error", `"\x41"`, Syntax, 1, `invalid escape "\\x" in string`},
		{"a short unicode escape is an error", `"\u12"`, Syntax, 1, `invalid escape "\\u12\"" in string`},
		{"a non-hex unicode escape is an error", `"\u12g4"`, Syntax, 1, `invalid escape "\\u12g4" in string`},
		{"a misspelled literal is an error", `tru`, Syntax, 0, `invalid literal "tru", expected true`},
		{"a capitalized literal is an error", `True`, Syntax, 0, "unexpected character 'T', expected a value"},
		{"a literal with a suffix is an error", `nullx`, Syntax, 4, "unexpected character 'x' after top-level value"},
		{"a wrong literal is an error", `[fals]`, Syntax, 1, `invalid literal "fals", expected false`},
		{"NaN is an error", `NaN`, Syntax, 0, "unexpected character 'N', expected a value"},
		{"Infinity is an error", `-Infinity`, Syntax, 0, `invalid number "-I"`},
		{"a leading zero is an error", `01`, Syntax, 0, `invalid number "01"`},
		{"a negative leading zero is an error", `-01`, Syntax, 0, `invalid number "-01"`},
		{"a leading plus is an error", `+1`, Syntax, 0, "unexpected character '+', expected a value"},
		{"a leading dot is an error", `.5`, Syntax, 0, "unexpected character '.', expected a value"},
		{"a trailing dot is an error", `1.`, Syntax, 0, `invalid number "1."`},
		{"a dot before an exponent is an error", `1.e5`, Syntax, 0, `invalid number "1.e"`},
		{"an empty exponent is an error", `1e`, Syntax, 0, `invalid number "1e"`},
		{"an exponent with only a sign is an error", `1e+`, Syntax, 0, `invalid number "1e+"`},
		{"a lone minus is an error", `-`, Syntax, 0, `invalid number "-"`},
		{"a hex number is an error", `0x10`, Syntax, 1, "unexpected character 'x' after top-level value"},
		{"a byte order mark is an error", "\ufeff{}", Syntax, 0, `unexpected character '\ufeff', expected a value`},
		{"a comment is an error", `[1 /* no */]`, Syntax, 3, "unexpected character '/', expected ',' or ']'"},

		// Depth.
		{"arrays one level too deep are an error", `[[[1]]]`, Depth, 2, "nested deeper than 2 levels"},
		{"objects one level too deep are an error", `{"a":{"b":{}}}`, Depth, 10, "nested deeper than 2 levels"},
		{"an empty container one level too deep is an error", `[[[]]]`, Depth, 2, "nested deeper than 2 levels"},

		// Duplicate keys.
		{"a duplicate key is an error", `{"x":1,"x":2}`, DuplicateKey, 7, `duplicate key "x"`},
		{"a duplicate key after unescaping is an error", `{"ab":1,"\u0061b":2}`, DuplicateKey, 8, `duplicate key "ab"`},
		{"a duplicate key in a nested object is an error", `[{"a":{"k":1,"z":0,"k":null}}]`, DuplicateKey, 19, `duplicate key "k"`},
		{"a duplicate empty key is an error", `{"":1,"":2}`, DuplicateKey, 6, `duplicate key ""`},
		{"a duplicate long key is quoted only in part", `{"` + strings.Repeat("k", 50) + `":1,"` + strings.Repeat("k", 50) + `":2}`, DuplicateKey, 56, `duplicate key "kkkkkkkkkkkkkkkkkkkk"...`},
		{"a duplicate key with control characters is escaped", `{"a\nb":1,"a\nb":2}`, DuplicateKey, 10, `duplicate key "a\nb"`},

		// Invalid UTF-8.
		{"invalid UTF-8 in a string is an error", "\"ab\xffc\"", InvalidUTF8, 3, "invalid UTF-8 in string"},
		{"invalid UTF-8 in a key is an error", "{\"k\xc3\":1}", InvalidUTF8, 3, "invalid UTF-8 in string"},
		{"invalid UTF-8 after an escape is an error", "\"\\n\xe2\x82\"", InvalidUTF8, 3, "invalid UTF-8 in string"},
		{"a UTF-8 encoded surrogate is an error", "\"\xed\xa0\x80\"", InvalidUTF8, 1, "invalid UTF-8 in string"},
		{"an overlong UTF-8 encoding is an error", "\"\xc0\xaf\"", InvalidUTF8, 1, "invalid UTF-8 in string"},
		{"invalid UTF-8 outside strings is an error", "[1,\xff]", InvalidUTF8, 3, "invalid UTF-8"},
		{"invalid UTF-8 after the top-level value is an error", "{} \x80", InvalidUTF8, 3, "invalid UTF-8"},

		// Number range.
		{"a float overflow is an error", `1e400`, NumberRange, 0, "number 1e400 out of range"},
		{"a negative float overflow is an error", `[-1.5e309]`, NumberRange, 1, "number -1.5e309 out of range"},
		{"an integer too large for float64 is an error", strings.Repeat("9", 400), NumberRange, 0, "number 99999999999999999999... out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			depth := 0
			if tt.kind == Depth {
				depth = 2
			}
			got, err := Parse([]byte(tt.input), depth)
			assert.Nil(t, got)
			var perr *Error
			require.ErrorAs(t, err, &perr)
			assert.Equal(t, tt.kind, perr.Kind, "kind of %v", perr)
			assert.Equal(t, tt.offset, perr.Offset, "offset of %v", perr)
			assert.Equal(t, tt.reason, perr.Reason)
		})
	}
}

func TestParseErrorText(t *testing.T) {
	t.Run("the message names the offset and the reason", func(t *testing.T) {
		_, err := Parse([]byte(`{"model":"sale.order",x}`), 0)
		require.Error(t, err)
		assert.Equal(t, `invalid JSON at byte 22: unexpected character 'x', expected a string key`, err.Error())
	})

	hostile := []string{
		"\"\x1b[31mred\x1b[0m\"",
		"[1,\x1b[2J]",
		"{\"a\":1}\n\nFAKE LOG LINE\n",
		`{"` + strings.Repeat("\\n", 100) + `":1,"` + strings.Repeat("\\n", 100) + `":2}`,
		"\"" + strings.Repeat("\xff", 100) + "\"",
		"[" + strings.Repeat("\u202e", 50) + "]",
		`"\` + strings.Repeat("\u202e", 50) + `"`,
		"tr\u202eue",
		"1" + strings.Repeat("9", 1000) + "e999",
		"-" + strings.Repeat("\n", 50),
		`"\u` + strings.Repeat("\xff", 50) + `"`,
	}
	for _, input := range hostile {
		t.Run("hostile input stays out of the message: "+quote(input), func(t *testing.T) {
			_, err := Parse([]byte(input), 0)
			require.Error(t, err)
			msg := err.Error()
			assert.LessOrEqual(t, len(msg), 120, msg)
			for _, r := range msg {
				assert.True(t, r >= 0x20 && r < 0x7f, "message has a non-printable or non-ASCII rune %U: %s", r, msg)
			}
		})
	}
}

func TestParseDepth(t *testing.T) {
	t.Run("nesting exactly at the limit is accepted", func(t *testing.T) {
		input := strings.Repeat("[", 64) + strings.Repeat("]", 64)
		_, err := Parse([]byte(input), 0)
		assert.NoError(t, err)
	})

	t.Run("mixed nesting one past the default limit is rejected", func(t *testing.T) {
		input := strings.Repeat(`[{"a":`, 32) + "1" + strings.Repeat("}]", 32)
		_, err := Parse([]byte(input), 63)
		var perr *Error
		require.ErrorAs(t, err, &perr)
		assert.Equal(t, Depth, perr.Kind)
		assert.Equal(t, "nested deeper than 63 levels", perr.Reason)
	})

	t.Run("a non-positive limit means the default", func(t *testing.T) {
		for _, limit := range []int{0, -1} {
			_, err := Parse([]byte(strings.Repeat("[", 64)+strings.Repeat("]", 64)), limit)
			assert.NoError(t, err)
			_, err = Parse([]byte(strings.Repeat("[", 65)+strings.Repeat("]", 65)), limit)
			var perr *Error
			require.ErrorAs(t, err, &perr)
			assert.Equal(t, Depth, perr.Kind)
			assert.Equal(t, "nested deeper than 64 levels", perr.Reason)
		}
	})

	for _, tt := range []struct {
		name  string
		depth int
	}{
		{"a 10,000-level input is rejected at the limit without further work", 10_000},
		{"a 1,000,000-level input is rejected at the limit without further work", 1_000_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			depth := tt.depth
			for _, open := range []string{"[", `{"a":`} {
				input := []byte(strings.Repeat(open, depth))
				start := time.Now()
				_, err := Parse(input, 0)
				elapsed := time.Since(start)

				var perr *Error
				require.ErrorAs(t, err, &perr)
				assert.Equal(t, Depth, perr.Kind)
				assert.Equal(t, 64*len(open), perr.Offset)
				assert.Less(t, elapsed, 100*time.Millisecond)
			}
		})
	}

	t.Run("a 100,000-level input parses when the limit allows it", func(t *testing.T) {
		const depth = 100_000
		input := []byte(strings.Repeat("[", depth) + "true" + strings.Repeat("]", depth))
		got, err := Parse(input, depth)
		require.NoError(t, err)
		levels := 0
		for {
			a, ok := got.([]any)
			if !ok || len(a) != 1 {
				break
			}
			got = a[0]
			levels++
		}
		assert.Equal(t, depth, levels)
		assert.Equal(t, true, got)
	})
}

func TestErrorKinds(t *testing.T) {
	t.Run("every kind has a name", func(t *testing.T) {
		assert.Equal(t, "syntax", Syntax.String())
		assert.Equal(t, "depth", Depth.String())
		assert.Equal(t, "duplicate key", DuplicateKey.String())
		assert.Equal(t, "invalid UTF-8", InvalidUTF8.String())
		assert.Equal(t, "number range", NumberRange.String())
		assert.Equal(t, "Kind(9)", Kind(9).String())
	})

	t.Run("callers can tell kinds apart through wrapping", func(t *testing.T) {
		_, err := Parse([]byte(`{"id":1,"id":2}`), 0)
		wrapped := errors.Join(errors.New("webhook body"), err)
		var perr *Error
		require.ErrorAs(t, wrapped, &perr)
		assert.Equal(t, DuplicateKey, perr.Kind)
	})
}

func TestParseEmptyArrays(t *testing.T) {
	t.Run("appending to one decoded empty array leaves the others empty", func(t *testing.T) {
		got, err := Parse([]byte(`[[],[]]`), 0)
		require.NoError(t, err)
		outer := got.([]any)
		first := outer[0].([]any)
		first = append(first, "x")
		assert.Equal(t, []any{"x"}, first)
		assert.Equal(t, []any{[]any{}, []any{}}, outer)
		again, err := Parse([]byte(`[]`), 0)
		require.NoError(t, err)
		assert.Equal(t, []any{}, again)
	})
}

func TestParseDoesNotRetainInput(t *testing.T) {
	t.Run("changing the input after parsing leaves the result unchanged", func(t *testing.T) {
		input := []byte(`{"model":"sale.order","note":"a\nb","id":"7"}`)
		got, err := Parse(input, 0)
		require.NoError(t, err)
		for i := range input {
			input[i] = 'X'
		}
		assert.Equal(t, map[string]any{"model": "sale.order", "note": "a\nb", "id": "7"}, got)
	})

	t.Run("concurrent parses do not share state", func(t *testing.T) {
		done := make(chan any)
		for range 8 {
			go func() {
				for range 200 {
					v, _ := Parse(mediumPayload, 0)
					_ = v
				}
				done <- nil
			}()
		}
		for range 8 {
			<-done
		}
		want, err := decodeReference(mediumPayload)
		require.NoError(t, err)
		got, err := Parse(mediumPayload, 0)
		require.NoError(t, err)
		assert.Equal(t, want.value, got)
	})
}
