package sqlstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	webhook "github.com/hookline/webhook"
)

// This file turns record values into the JSON text of documents and back.
//
// Documents are written by appendJSON rather than encoding/json so that a
// float64 with an integral value keeps a fraction ("2.0"): reading a
// document back then tells int64 from float64 by the form of the number, and
// both round-trip exactly. Numbers are decoded with json.Number, so an int64
// never passes through a float64.

// pgEscape is the marker that starts an escaped string in a PostgreSQL text
// value or JSON document. PostgreSQL text cannot hold NUL, and jsonb rejects
// \u0000, so a string that contains NUL, or that starts with the marker
// itself, is stored as the marker followed by the string with every U+0001
// written as U+0001 U+0002 and every NUL as U+0001 U+0003. Every other string
// is stored as it is, so the mapping is one-to-one and equality of stored
// strings is equality of the originals.
const pgEscape = "\x01"

var pgEscaper = strings.NewReplacer("\x01", "\x01\x02", "\x00", "\x01\x03")

// escapeText returns s as PostgreSQL stores it (see pgEscape).
func escapeText(s string) string {
	if !strings.HasPrefix(s, pgEscape) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return pgEscape + pgEscaper.Replace(s)
}

// unescapeText reverses escapeText. A string that is not a well-formed
// escape is returned as it is.
func unescapeText(s string) string {
	if !strings.HasPrefix(s, pgEscape) {
		return s
	}
	body := s[len(pgEscape):]
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != 0x01 {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(body) {
			return s
		}
		switch body[i+1] {
		case 0x02:
			b.WriteByte(0x01)
		case 0x03:
			b.WriteByte(0x00)
		default:
			return s
		}
		i++
	}
	return b.String()
}

// valueError is a problem with one value, reported by the caller as a
// *webhook.FieldError for the field that holds it.
type valueError struct{ reason string }

func (e *valueError) Error() string { return e.reason }

func valueErrorf(format string, args ...any) error {
	return &valueError{fmt.Sprintf(format, args...)}
}

// fieldError turns err from checking the value of field into a
// *webhook.FieldError.
func fieldError(model, field string, err error) error {
	var fe *webhook.FieldError
	if errors.As(err, &fe) {
		return err
	}
	return &webhook.FieldError{Model: model, Field: field, Reason: err.Error()}
}

// normalize returns v as one of nil, bool, int64, float64, string, []any or
// map[string]any, converting the other Go integers, float32, json.Number
// and webhook.Record; it refuses anything else, NaN and ±Inf. Lists and maps
// are not copied: callers encode the result at once.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, []any, map[string]any:
		return v, nil
	case string:
		if !utf8.ValidString(x) {
			return nil, valueErrorf("the string is not valid UTF-8")
		}
		return v, nil
	case webhook.Record:
		return map[string]any(x), nil
	}
	// Scalars of other types: NormalizeValue converts them without
	// copying anything.
	n, err := webhook.NormalizeValue(v)
	if err != nil {
		return nil, valueErrorf("%s", err.Error())
	}
	return n, nil
}

// appendJSON appends the JSON text of v to b. With esc, strings and keys are
// escaped for PostgreSQL (see pgEscape).
func appendJSON(b []byte, v any, esc bool) ([]byte, error) {
	v, err := normalize(v)
	if err != nil {
		return b, err
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		return appendFloat(b, x), nil
	case string:
		if esc {
			x = escapeText(x)
		}
		return appendString(b, x), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, e, esc); err != nil {
				return b, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		return appendObject(b, x, esc)
	}
	panic("sqlstore: normalize returned a " + fmt.Sprintf("%T", v))
}

// appendObject appends m as a JSON object with its keys in byte order, so
// that the same record always has the same text.
func appendObject(b []byte, m map[string]any, esc bool) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !utf8.ValidString(k) {
			return b, valueErrorf("the key %q is not valid UTF-8", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		ek := k
		if esc {
			ek = escapeText(k)
		}
		b = appendString(b, ek)
		b = append(b, ':')
		var err error
		if b, err = appendJSON(b, m[k], esc); err != nil {
			return b, fmt.Errorf("%q: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

// appendFloat writes f as encoding/json does, adding ".0" to a number that
// would otherwise read back as an integer.
func appendFloat(b []byte, f float64) []byte {
	start := len(b)
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Shorten e-09 to e-9, as encoding/json does.
		n := len(b)
		if n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	if bytes.IndexByte(b[start:], '.') < 0 {
		b = append(b, ".0"...)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. s is valid UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// encodeJSON returns the JSON text of v.
func encodeJSON(v any, esc bool) (string, error) {
	b, err := appendJSON(nil, v, esc)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// encodeFields returns the JSON object of values, reporting a bad value as a
// *webhook.FieldError for its field.
func encodeFields(model string, values map[string]any, esc bool) (string, error) {
	for k, v := range values {
		if _, err := appendJSON(nil, v, esc); err != nil {
			return "", fieldError(model, k, err)
		}
		if !utf8.ValidString(k) {
			return "", &webhook.FieldError{Model: model, Field: k, Reason: "the field name is not valid UTF-8"}
		}
	}
	return encodeJSON(values, esc)
}

// decodeJSON reads one JSON value: integers as int64 (as float64 when they
// do not fit), other numbers as float64, and, with esc, strings and keys
// unescaped (see pgEscape).
func decodeJSON(data []byte, esc bool) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return fromJSON(v, esc)
}

// decodeObject reads a JSON object; JSON null reads as an empty one.
func decodeObject(data []byte, esc bool) (map[string]any, error) {
	v, err := decodeJSON(data, esc)
	if err != nil {
		return nil, err
	}
	switch m := v.(type) {
	case map[string]any:
		return m, nil
	case nil:
		return map[string]any{}, nil
	}
	return nil, fmt.Errorf("document is a %T, not a JSON object", v)
}

func fromJSON(v any, esc bool) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return number(string(x))
	case string:
		if esc {
			return unescapeText(x), nil
		}
		return x, nil
	case []any:
		for i, e := range x {
			var err error
			if x[i], err = fromJSON(e, esc); err != nil {
				return nil, err
			}
		}
		return x, nil
	case map[string]any:
		if esc {
			out := make(map[string]any, len(x))
			for k, e := range x {
				d, err := fromJSON(e, esc)
				if err != nil {
					return nil, err
				}
				out[unescapeText(k)] = d
			}
			return out, nil
		}
		for k, e := range x {
			d, err := fromJSON(e, esc)
			if err != nil {
				return nil, err
			}
			x[k] = d
		}
		return x, nil
	}
	return v, nil
}

// number converts a JSON number: an integer that fits is an int64, anything
// else a float64.
func number(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("number %q: %w", s, err)
	}
	return f, nil
}

// normalizeDeep returns a deep copy of v made of normalized values only; it
// is how filter values are prepared for webhook.ValuesEqual.
func normalizeDeep(v any) (any, error) {
	v, err := normalize(v)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case []any:
		if x == nil {
			return x, nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			if out[i], err = normalizeDeep(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		if x == nil {
			return x, nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if out[k], err = normalizeDeep(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

// cloneValue returns a deep copy of a decoded value.
func cloneValue(v any) any {
	switch x := v.(type) {
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	case map[string]any:
		if x == nil {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cloneValue(e)
		}
		return out
	}
	return v
}

func cloneRecord(r webhook.Record) webhook.Record {
	out := make(webhook.Record, len(r))
	for k, v := range r {
		out[k] = cloneValue(v)
	}
	return out
}
