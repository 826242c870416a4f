package webhook

import (
	"reflect"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// headerValue is the CEL value of `headers`: the request headers under
// their lower-case names, repeated headers joined with ", " (the map
// headerMap builds). Most expressions read one header, such as a dedupe
// key's headers['webhook-id']: a lookup reads it from the request without
// building the map. Anything that needs the whole map (size, iteration,
// comparison, conversion) builds it once per call and answers from it.
type headerValue struct{ c *call }

var _ traits.Mapper = headerValue{}

// whole is the map as a CEL value.
func (h headerValue) whole() traits.Mapper {
	return types.DefaultTypeAdapter.NativeToValue(h.c.headerMap()).(traits.Mapper)
}

// Find looks a string key up in the request; other keys get the map's
// own answer.
func (h headerValue) Find(key ref.Val) (ref.Val, bool) {
	name, ok := key.(types.String)
	if !ok {
		return h.whole().Find(key)
	}
	v, found := h.c.header(string(name))
	if !found {
		return nil, false
	}
	return types.String(v), true
}

func (h headerValue) Get(key ref.Val) ref.Val {
	if v, found := h.Find(key); found {
		return v
	}
	return h.whole().Get(key)
}

func (h headerValue) Contains(key ref.Val) ref.Val {
	if _, ok := key.(types.String); ok {
		_, found := h.Find(key)
		return types.Bool(found)
	}
	return h.whole().Contains(key)
}

func (h headerValue) Iterator() traits.Iterator { return h.whole().Iterator() }
func (h headerValue) Size() ref.Val             { return h.whole().Size() }
func (h headerValue) ConvertToNative(t reflect.Type) (any, error) {
	return h.whole().ConvertToNative(t)
}
func (h headerValue) ConvertToType(t ref.Type) ref.Val { return h.whole().ConvertToType(t) }
func (h headerValue) Equal(other ref.Val) ref.Val      { return h.whole().Equal(other) }
func (h headerValue) Type() ref.Type                   { return types.MapType }
func (h headerValue) Value() any                       { return h.c.headerMap() }

// header returns the value headerMap holds under the lower-case name,
// without building the map.
func (c *call) header(name string) (string, bool) {
	if c.headers != nil {
		v, ok := c.headers[name]
		return v, ok
	}
	for k, vs := range c.req.Header {
		if lowerEquals(k, name) {
			return strings.Join(vs, ", "), true
		}
	}
	return "", false
}

// lowerEquals reports whether strings.ToLower(k) == lower, without
// allocating when k is ASCII, as header names are.
func lowerEquals(k, lower string) bool {
	if len(k) != len(lower) {
		return strings.ToLower(k) == lower
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 0x80 {
			return strings.ToLower(k) == lower
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
