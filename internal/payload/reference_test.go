package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// reference is what encoding/json makes of an input, plus the facts about it
// that this package's stricter rules look at.
type reference struct {
	// value is encoding/json's result with UseNumber, numbers converted to
	// this package's types: int64 for an integer literal that fits, else
	// float64.
	value any
	// depth is the deepest nesting of arrays and objects.
	depth int
	// dupKey says some object has a key twice.
	dupKey bool
	// overflow says some number is out of float64's range.
	overflow bool
}

// decodeReference decodes data with encoding/json. It fails when
// encoding/json refuses the input.
func decodeReference(data []byte) (reference, error) {
	// json.Valid checks the whole input, trailing data included, as
	// json.Unmarshal does; the Decoder below then sees only valid input.
	if !json.Valid(data) {
		return reference{}, errors.New("encoding/json refuses the input")
	}
	var raw any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return reference{}, err
	}
	var ref reference
	ref.value = ref.convert(raw)
	if err := ref.scan(json.NewDecoder(bytes.NewReader(data))); err != nil {
		return reference{}, err
	}
	return ref, nil
}

// convert replaces json.Number values by int64 or float64.
func (r *reference) convert(v any) any {
	switch v := v.(type) {
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			r.overflow = true
		}
		return f
	case []any:
		for i, e := range v {
			v[i] = r.convert(e)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = r.convert(e)
		}
	}
	return v
}

// scan walks the tokens of the input to find its depth and duplicate keys,
// which decoding into a map hides.
func (r *reference) scan(dec *json.Decoder) error {
	type container struct {
		obj       bool
		keys      map[string]bool
		expectKey bool
	}
	var stack []*container
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *container
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj {
			if d, ok := tok.(json.Delim); !ok || d != '}' {
				if top.expectKey {
					k := tok.(string)
					if top.keys[k] {
						r.dupKey = true
					}
					top.keys[k] = true
					top.expectKey = false
					continue
				}
				top.expectKey = true
			}
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			c := &container{obj: tok == json.Delim('{'), expectKey: true}
			if c.obj {
				c.keys = map[string]bool{}
			}
			stack = append(stack, c)
			r.depth = max(r.depth, len(stack))
		case json.Delim(']'), json.Delim('}'):
			stack = stack[:len(stack)-1]
		}
	}
}
