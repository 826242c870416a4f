// Package payload decodes untrusted JSON webhook bodies into plain Go values
// (nil, bool, int64, float64, string, []any and map[string]any).
//
// It exists instead of encoding/json because a webhook body comes from a
// client we do not trust and every request pays for decoding it:
//
//   - Integers are exact: a literal without fraction or exponent that fits
//     int64 decodes to int64, so record ids such as 9007199254740993 are not
//     rounded through float64.
//   - Duplicate object keys are rejected instead of last-one-wins, so two
//     parts of a system cannot read different values from one body.
//   - Nesting depth is limited, and the parser is iterative: a body of a
//     million '[' is rejected at the first bracket past the limit, without
//     recursion.
//   - Invalid UTF-8 is rejected instead of silently replaced with U+FFFD.
//   - It allocates little: strings share one small arena per parse, arrays
//     and maps are allocated once at their exact size, and no reflection is
//     used.
//
// Errors are [*Error] values whose text is one line, never echoes more than
// about 20 bytes of input, and quotes what it echoes, so it is safe to return
// to the client and to log.
package payload

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultMaxDepth is the nesting limit [Parse] uses when given maxDepth <= 0.
const DefaultMaxDepth = 64

// Kind classifies an [Error] so callers can tell a malformed body from one
// that is well-formed JSON but refused by this package's stricter rules.
type Kind uint8

const (
	// Syntax means the input is not JSON: an unexpected character, a
	// malformed number, string or literal, trailing data, or an early end.
	Syntax Kind = iota
	// Depth means arrays and objects are nested deeper than the limit.
	Depth
	// DuplicateKey means an object has the same key twice (compared after
	// unescaping).
	DuplicateKey
	// InvalidUTF8 means the input contains bytes that are not valid UTF-8,
	// inside or outside a string.
	InvalidUTF8
	// NumberRange means a number is too large in magnitude for float64.
	NumberRange
)

// String returns the kind's name, such as "duplicate key".
func (k Kind) String() string {
	switch k {
	case Syntax:
		return "syntax"
	case Depth:
		return "depth"
	case DuplicateKey:
		return "duplicate key"
	case InvalidUTF8:
		return "invalid UTF-8"
	case NumberRange:
		return "number range"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Error describes why [Parse] refused its input. Its Error text is one line
// of the form "invalid JSON at byte 17: unexpected character 'x'".
type Error struct {
	// Offset is the byte offset in the input where the problem was found.
	Offset int
	// Kind classifies the problem.
	Kind Kind
	// Reason says what is wrong. It quotes at most about 20 bytes of the
	// input, escaped, so it holds no control bytes or invalid UTF-8.
	Reason string
}

// Error returns "invalid JSON at byte OFFSET: REASON".
func (e *Error) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Parse decodes one JSON value from data. Whitespace may surround the value;
// anything else after it is an error, and so is empty or all-whitespace
// input. Values decode to nil, bool, int64, float64, string, []any and
// map[string]any: a number without fraction or exponent that fits int64
// becomes int64, any other number float64. Arrays and objects may nest at
// most maxDepth levels; maxDepth <= 0 means [DefaultMaxDepth]. Every error is
// an [*Error].
//
// Strings of up to 128 bytes in the result share backing arrays of at most
// 1 KiB, so keeping one string from the result keeps at most that much
// memory alive; the input itself is never retained. Parse is safe for
// concurrent use.
func Parse(data []byte, maxDepth int) (any, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	p := parser{data: data}
	v, err := p.parse(maxDepth)
	if err != nil {
		return nil, err
	}
	return v, nil
}

const (
	// arenaChunk is the largest backing array that short strings share.
	arenaChunk = 1024
	// arenaMaxString is the longest string that goes into the arena; longer
	// ones get their own allocation.
	arenaMaxString = 128
	// maxQuote is how many input bytes an error reason quotes at most.
	maxQuote = 20
)

// plain[c] is true for bytes that a string may contain as they are and that
// need no further check: printable ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// emptyArray is the boxed empty array every "[]" decodes to. Sharing it is
// safe: a boxed slice header cannot be changed, and an empty slice has no
// elements to change.
var emptyArray any = []any{}

type parser struct {
	data  []byte
	arena strings.Builder // shared backing array for short strings
	buf   []byte          // scratch for unescaping
}

// frame is an open array or object.
type frame struct {
	vals int  // index in vals of the container's first element
	keys int  // index in keys of an object's first key
	obj  bool // object, not array
}

// key is an object key and where it started in the input.
type key struct {
	s   string
	off int
}

func (p *parser) parse(maxDepth int) (any, error) {
	data := p.data
	n := len(data)

	// Elements of all open containers, kept in shared stacks so each array
	// or map is allocated once, at its final size, when it closes. The
	// initial backing arrays live on the goroutine stack.
	var (
		frameBuf [DefaultMaxDepth]frame
		valBuf   [32]any
		keyBuf   [16]key
	)
	stack := frameBuf[:0]
	vals := valBuf[:0]
	keys := keyBuf[:0]

	i := skipWS(data, 0)
	if i == n {
		return nil, p.fail(Syntax, i, "empty input")
	}

	var v any
	for {
		// A value starts at i.
		if i >= n {
			return nil, p.fail(Syntax, i, "unexpected end of input")
		}
		switch c := data[i]; c {
		case '{':
			if len(stack) >= maxDepth {
				return nil, p.fail(Depth, i, "nested deeper than "+strconv.Itoa(maxDepth)+" levels")
			}
			i = skipWS(data, i+1)
			if i < n && data[i] == '}' {
				v = map[string]any{}
				i++
				break
			}
			stack = append(stack, frame{vals: len(vals), keys: len(keys), obj: true})
			k, j, err := p.key(i)
			if err != nil {
				return nil, err
			}
			keys = append(keys, key{k, i})
			i = j
			continue
		case '[':
			if len(stack) >= maxDepth {
				return nil, p.fail(Depth, i, "nested deeper than "+strconv.Itoa(maxDepth)+" levels")
			}
			i = skipWS(data, i+1)
			if i < n && data[i] == ']' {
				v = emptyArray
				i++
				break
			}
			stack = append(stack, frame{vals: len(vals), keys: len(keys)})
			continue
		case '"':
			s, j, err := p.str(i)
			if err != nil {
				return nil, err
			}
			v, i = s, j
		case 't':
			if err := p.literal(i, "true"); err != nil {
				return nil, err
			}
			v, i = true, i+4
		case 'f':
			if err := p.literal(i, "false"); err != nil {
				return nil, err
			}
			v, i = false, i+5
		case 'n':
			if err := p.literal(i, "null"); err != nil {
				return nil, err
			}
			v, i = nil, i+4
		default:
			if c != '-' && (c < '0' || c > '9') {
				return nil, p.unexpected(i, ", expected a value")
			}
			num, j, err := p.number(i)
			if err != nil {
				return nil, err
			}
			v, i = num, j
		}

		// v is a complete value ending before i: add it to the enclosing
		// container and close every container that ends here.
		for {
			if len(stack) == 0 {
				i = skipWS(data, i)
				if i != n {
					return nil, p.unexpected(i, " after top-level value")
				}
				return v, nil
			}
			vals = append(vals, v)
			i = skipWS(data, i)
			if i >= n {
				return nil, p.fail(Syntax, i, "unexpected end of input")
			}
			top := stack[len(stack)-1]
			c := data[i]
			if c == ',' {
				i = skipWS(data, i+1)
				if top.obj {
					k, j, err := p.key(i)
					if err != nil {
						return nil, err
					}
					keys = append(keys, key{k, i})
					i = j
				}
				break // to the next value
			}
			if top.obj {
				if c != '}' {
					return nil, p.unexpected(i, ", expected ',' or '}'")
				}
				elems, ks := vals[top.vals:], keys[top.keys:]
				m := make(map[string]any, len(elems))
				for x, e := range elems {
					m[ks[x].s] = e
					if len(m) != x+1 {
						return nil, p.fail(DuplicateKey, ks[x].off, "duplicate key "+quote(ks[x].s))
					}
				}
				v = m
			} else {
				if c != ']' {
					return nil, p.unexpected(i, ", expected ',' or ']'")
				}
				elems := vals[top.vals:]
				a := make([]any, len(elems))
				copy(a, elems)
				v = a
			}
			vals = vals[:top.vals]
			keys = keys[:top.keys]
			stack = stack[:len(stack)-1]
			i++
		}
	}
}

// key parses an object key starting at i, and the colon and whitespace after
// it. It returns the key and the offset of the value.
func (p *parser) key(i int) (string, int, error) {
	data := p.data
	if i >= len(data) {
		return "", i, p.fail(Syntax, i, "unexpected end of input")
	}
	if data[i] != '"' {
		return "", i, p.unexpected(i, ", expected a string key")
	}
	k, j, err := p.str(i)
	if err != nil {
		return "", j, err
	}
	j = skipWS(data, j)
	if j >= len(data) {
		return "", j, p.fail(Syntax, j, "unexpected end of input")
	}
	if data[j] != ':' {
		return "", j, p.unexpected(j, ", expected ':'")
	}
	return k, skipWS(data, j+1), nil
}

// str parses the string whose opening quote is at i. It returns the string
// and the offset after the closing quote.
func (p *parser) str(i int) (string, int, error) {
	data := p.data
	start := i + 1
	j := start
	for j < len(data) {
		c := data[j]
		if plain[c] {
			j++
			continue
		}
		switch {
		case c == '"':
			return p.intern(data[start:j], start), j + 1, nil
		case c == '\\':
			return p.strEscaped(i, j)
		case c < 0x20:
			return "", j, p.fail(Syntax, j, "control character "+strconv.QuoteRuneToASCII(rune(c))+" in string")
		default:
			r, size := utf8.DecodeRune(data[j:])
			if r == utf8.RuneError && size == 1 {
				return "", j, p.fail(InvalidUTF8, j, "invalid UTF-8 in string")
			}
			j += size
		}
	}
	return "", j, p.fail(Syntax, i, "unterminated string")
}

// strEscaped continues str at the first backslash, at j, of the string whose
// opening quote is at i.
func (p *parser) strEscaped(i, j int) (string, int, error) {
	data := p.data
	buf := append(p.buf[:0], data[i+1:j]...)
	for j < len(data) {
		c := data[j]
		if plain[c] {
			buf = append(buf, c)
			j++
			continue
		}
		switch {
		case c == '"':
			p.buf = buf
			return p.intern(buf, i+1), j + 1, nil
		case c == '\\':
			if j+1 >= len(data) {
				return "", j, p.fail(Syntax, i, "unterminated string")
			}
			switch e := data[j+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(data, j+2)
				if !ok {
					return "", j, p.fail(Syntax, j, "invalid escape "+quoteBytes(data[j:min(j+6, len(data))])+" in string")
				}
				j += 6
				if utf16.IsSurrogate(r) {
					// A surrogate must be the first half of a pair; a lone
					// one becomes U+FFFD, as in encoding/json.
					r2, ok := rune(-1), false
					if j+1 < len(data) && data[j] == '\\' && data[j+1] == 'u' {
						r2, ok = hex4(data, j+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						r = dec
						j += 6
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				return "", j, p.fail(Syntax, j, "invalid escape "+quoteBytes(data[j:j+2])+" in string")
			}
			j += 2
		case c < 0x20:
			return "", j, p.fail(Syntax, j, "control character "+strconv.QuoteRuneToASCII(rune(c))+" in string")
		default:
			r, size := utf8.DecodeRune(data[j:])
			if r == utf8.RuneError && size == 1 {
				return "", j, p.fail(InvalidUTF8, j, "invalid UTF-8 in string")
			}
			buf = append(buf, data[j:j+size]...)
			j += size
		}
	}
	p.buf = buf
	return "", j, p.fail(Syntax, i, "unterminated string")
}

// hex4 decodes the four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// intern returns b as a string. Short strings are copied into a shared
// arena so that a document's strings cost one allocation between them; off
// is where b's text started in the input, which bounds how much string data
// can still follow.
func (p *parser) intern(b []byte, off int) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaMaxString {
		return string(b)
	}
	a := &p.arena
	if a.Cap()-a.Len() < len(b) {
		// Start a new chunk, sized for what is left of the input. The old
		// chunk stays alive only through the strings already cut from it.
		*a = strings.Builder{}
		a.Grow(max(len(b), min(len(p.data)-off, arenaChunk)))
	}
	start := a.Len()
	a.Write(b)
	// Builder never changes bytes it has handed out through String, and
	// Grow above guarantees Write does not reallocate, so the substring
	// stays valid while the arena fills up.
	return a.String()[start:]
}

// literal checks that the literal lit (true, false or null) is at i.
func (p *parser) literal(i int, lit string) error {
	data := p.data
	if len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit {
		return nil
	}
	end := i + 1
	for end < len(data) && end-i < len(lit) && isLetter(data[end]) {
		end++
	}
	return p.fail(Syntax, i, "invalid literal "+quoteBytes(data[i:end])+", expected "+lit)
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number parses the number starting at i, which holds '-' or a digit. It
// returns an int64 or float64 and the offset after the number.
func (p *parser) number(i int) (any, int, error) {
	data := p.data
	n := len(data)
	start := i
	neg := data[i] == '-'
	if neg {
		i++
	}
	if i >= n || !isDigit(data[i]) {
		return nil, i, p.badNumber(start, i)
	}
	var u uint64 // wraps for more than 19 digits; then unused
	intStart := i
	if data[i] == '0' {
		i++
		if i < n && isDigit(data[i]) {
			return nil, i, p.badNumber(start, i)
		}
	} else {
		for i < n && isDigit(data[i]) {
			u = u*10 + uint64(data[i]-'0')
			i++
		}
	}
	digits := i - intStart
	integer := true
	if i < n && data[i] == '.' {
		integer = false
		i++
		if i >= n || !isDigit(data[i]) {
			return nil, i, p.badNumber(start, i)
		}
		for i < n && isDigit(data[i]) {
			i++
		}
	}
	if i < n && (data[i] == 'e' || data[i] == 'E') {
		integer = false
		i++
		if i < n && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= n || !isDigit(data[i]) {
			return nil, i, p.badNumber(start, i)
		}
		for i < n && isDigit(data[i]) {
			i++
		}
	}
	// 19 decimal digits always fit in uint64.
	if integer && digits <= 19 {
		if !neg && u <= 1<<63-1 {
			return int64(u), i, nil
		}
		if neg && u <= 1<<63 {
			return int64(-u), i, nil
		}
	}
	f, err := strconv.ParseFloat(string(data[start:i]), 64)
	if err != nil {
		// The text is well-formed, so the only possible error is range.
		return nil, start, p.fail(NumberRange, start, "number "+clip(data[start:i])+" out of range")
	}
	return f, i, nil
}

// badNumber reports a malformed number that starts at start; the byte at
// bad, if any, is the first that does not fit.
func (p *parser) badNumber(start, bad int) error {
	return p.fail(Syntax, start, "invalid number "+quoteBytes(p.data[start:min(bad+1, len(p.data))]))
}

// unexpected reports the byte at i, which does not fit where it is; context
// completes the sentence.
func (p *parser) unexpected(i int, context string) error {
	data := p.data
	r, size := rune(data[i]), 1
	if r >= utf8.RuneSelf {
		r, size = utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return p.fail(InvalidUTF8, i, "invalid UTF-8")
		}
	}
	return p.fail(Syntax, i, "unexpected character "+strconv.QuoteRuneToASCII(r)+context)
}

func (p *parser) fail(kind Kind, off int, reason string) error {
	return &Error{Offset: off, Kind: kind, Reason: reason}
}

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// quote quotes at most maxQuote bytes of s, cut at a rune boundary, in ASCII.
func quote(s string) string {
	if len(s) <= maxQuote {
		return strconv.QuoteToASCII(s)
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.QuoteToASCII(s[:cut]) + "..."
}

// quoteBytes is quote for input bytes, which may be invalid UTF-8.
func quoteBytes(b []byte) string {
	if len(b) <= maxQuote {
		return fmt.Sprintf("%+q", b)
	}
	return fmt.Sprintf("%+q...", b[:maxQuote])
}

// clip returns a validated number's text, cut to maxQuote bytes. Number
// text is ASCII digits, signs, '.', 'e' and 'E' only, so needs no quoting.
func clip(b []byte) string {
	if len(b) <= maxQuote {
		return string(b)
	}
	return string(b[:maxQuote]) + "..."
}
