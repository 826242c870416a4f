package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// maxValueDepth bounds how deeply NormalizeValue follows lists and maps.
const maxValueDepth = 64

// NormalizeValue returns a deep copy of v made only of the JSON-shaped
// values stores receive: nil, bool, int64, float64, string, []any and
// map[string]any. It converts every other Go integer to int64 (refusing
// unsigned values above 2^63-1), float32 to float64, a json.Number to an
// int64 when it is an integer and a float64 otherwise, and a Record to a
// map[string]any. It refuses NaN, ±Inf, values nested deeper than 64
// levels, and any other type. Stores use it so that every adapter means
// the same by a value; nil lists and maps stay nil.
func NormalizeValue(v any) (any, error) { return normalizeValue(v, 0) }

func normalizeValue(v any, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxValueDepth)
	}
	switch x := v.(type) {
	case []any:
		if x == nil {
			return v, nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			ne, err := normalizeValue(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = ne
		}
		return out, nil
	case map[string]any:
		return normalizeMap(x, depth)
	case Record:
		return normalizeMap(x, depth)
	}
	return normalizeScalar(v)
}

func normalizeMap(m map[string]any, depth int) (any, error) {
	if m == nil {
		return map[string]any(nil), nil
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		ne, err := normalizeValue(e, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", k, err)
		}
		out[k] = ne
	}
	return out, nil
}

// normalizeScalar is NormalizeValue for everything but lists and maps.
func normalizeScalar(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return v, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", x)
		}
		return v, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("%d does not fit in an int64", x)
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("%d does not fit in an int64", x)
		}
		return int64(x), nil
	case float32:
		return normalizeScalar(float64(x))
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", string(x))
		}
		return normalizeScalar(f)
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// NormalizeID converts v to an [ID]: any Go integer, an integral float64
// within ±2^53 and a json.Number holding an integer become int64; a string
// stays a string. Anything else is an error.
func NormalizeID(v any) (ID, error) {
	switch x := v.(type) {
	case nil:
		return nil, errors.New("id is null")
	case string:
		return x, nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return nil, fmt.Errorf("id %v is not an integer", x)
		}
		return int64(x), nil
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("id %s is not a 64-bit integer", x)
		}
		return n, nil
	case []any, map[string]any, Record, bool, float32:
		return nil, fmt.Errorf("id of type %T: want an integer or a string", v)
	}
	n, err := normalizeScalar(v)
	if err != nil {
		return nil, fmt.Errorf("id: %w", err)
	}
	if _, ok := n.(int64); !ok {
		return nil, fmt.Errorf("id of type %T: want an integer or a string", v)
	}
	return n, nil
}

// ValuesEqual reports whether two normalized values (see NormalizeValue)
// are equal as a [Filter] compares them: as JSON values, with integers and
// floats compared by exact numeric value (3 equals 3.0, "3" does not equal
// 3), lists element by element and maps key by key. Stores implement
// Search with it so that every adapter means the same by a Filter.
func ValuesEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return intEqualsFloat(x, y)
		}
	case float64:
		switch y := b.(type) {
		case float64:
			return x == y
		case int64:
			return intEqualsFloat(y, x)
		}
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !ValuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !ValuesEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

func intEqualsFloat(i int64, f float64) bool {
	// -2^63 <= f < 2^63 is exactly the range of float64s that convert to
	// int64 without overflow.
	return f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 && int64(f) == i
}
