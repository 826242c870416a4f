package script

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompileAcceptsOrdinaryJavaScript(t *testing.T) {
	valid := map[string]string{
		"the seed script":                 seedScript,
		"a regexp after an if condition":  "if (payload) /x/.test('x');",
		"division after parentheses":      "let a = 4, b = 2; const x = (a + b) / 2 / (a - b) / 1;",
		"a regexp containing slashes":     `const r = /[/(]+\/[)]/g; const s = /a\/b/;`,
		"a regexp after a block":          "{ }\n/re/.test('re');",
		"postfix increment then division": "let a = 1; const x = a++ / 2;",
		"brackets inside strings":         `const s = "(((" + '[[[' + "{{{";`,
		"brackets inside comments":        "// (((\n/* [[[ {{{ */ const x = 1;",
		"nested template literals":        "const a = 1; const s = `a ${`b ${a} c`} d ${ {x: 1}.x }`;",
		"a template with braces":          "const s = `{ } ${ '}' } {`;",
		"arrow functions and closures":    "const f = x => y => x + y; [1, 2].map(v => ({v})).filter(({v}) => v > 1);",
		"labels and loops":                "outer: for (let i = 0; i < 2; i++) { inner: for (;;) { break outer; } }",
		"classes, getters and async":      "class A { #p = 1; get p() { return this.#p } static s() {} } async function f() { await null }",
		"destructuring and spread":        "const {a = 1, ...rest} = {b: 2}; const [x, , y = 3] = [1, 2]; Math.max(...[1, 2]);",
		"optional chaining and nullish":   "const o = null; const v = o?.a?.[0] ?? 'd';",
		"unicode identifiers and strings": "const café = 'naïve \u2028 ok'; const ü = café;",
		"keywords as property names":      "const o = {return: 1, typeof: 2}; const r = o.return / o.typeof;",
		"object literals in expressions":  "const o = {a: {b: {c: [1, {d: 2}]}}}; const z = {} / 1;",
		"a switch with cases":             "switch (payload) { case 1: break; default: }",
		"a regexp as a return value":      "function f() { return /x/g } f();",
		"JSON-like data":                  `const data = {"items": [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}]};`,
	}
	for name, code := range valid {
		t.Run(name+" compiles", func(t *testing.T) {
			_, err := Compile("ok", code)
			assert.NoError(t, err)
		})
	}
}

func TestCompileRefusesWhatWouldEscapeOrExhaust(t *testing.T) {
	refused := []struct{ name, code, message string }{
		{"code that closes the wrapper function early", "}); let leaked = 1; (function(){", ""},
		{"code that calls the wrapper and starts a new statement", "})(); globalThis.x = 1; (function(){", ""},
		{"code that ends the wrapper inside a comment trick", "} /* */ ); (function(){", ""},
		{"a BigInt literal", "const n = 10n ** 9n;", "BigInt"},
		{"a script over the size limit", "x = 1;" + strings.Repeat(" ", MaxSourceSize), "larger than"},
		{"invalid UTF-8", "x = '\xff'", "UTF-8"},
	}
	for _, c := range refused {
		t.Run(c.name+" is a syntax error", func(t *testing.T) {
			_, err := Compile("bad", c.code)
			var se *SyntaxError
			require.ErrorAs(t, err, &se)
			assert.Contains(t, se.Message, c.message)
		})
	}
}

func TestCompileBoundsTheParser(t *testing.T) {
	// Each of these makes goja's parser or compiler superlinear or
	// recursive enough to overflow the goroutine stack (which kills the
	// process) at these sizes; Compile must refuse them quickly.
	nested := map[string]string{
		"parentheses":           strings.Repeat("(", 1e6) + "1" + strings.Repeat(")", 1e6),
		"brackets":              "x = " + strings.Repeat("[", 30000) + strings.Repeat("]", 30000),
		"blocks":                strings.Repeat("{", 20000) + strings.Repeat("}", 20000),
		"labelled blocks":       strings.Repeat("{a:", 20000) + "1" + strings.Repeat("}", 20000),
		"arrow functions":       "f = " + strings.Repeat("x=>", 20000) + "1",
		"labels":                strings.Repeat("a:", 30000) + "1",
		"template literals":     "x = " + strings.Repeat("`${", 20000) + "1" + strings.Repeat("}`", 20000),
		"a long operator chain": "x = " + strings.Repeat("1+", 30000) + "1",
		"unary operators":       "x = " + strings.Repeat("!", 60000) + "1",
		"brackets hidden after a regexp lookalike": "x = (a) / " + strings.Repeat("(", 30000) + "1" + strings.Repeat(")", 30000) + " / 2",
		"brackets after a string full of closers":  "x = (\"" + strings.Repeat(")", 20000) + "\", " + strings.Repeat("(", 20000) + "1" + strings.Repeat(")", 20000) + ")",
	}
	for name, code := range nested {
		t.Run("deeply nested "+name+" are refused in milliseconds", func(t *testing.T) {
			if len(code) > MaxSourceSize {
				code = code[:MaxSourceSize] // still far over the nesting limit
			}
			start := time.Now()
			_, err := Compile("deep", code)
			assert.Error(t, err)
			assert.Less(t, time.Since(start), scaled(200*time.Millisecond))
		})
	}
	t.Run("a full-size script of flat constructs compiles in well under a second", func(t *testing.T) {
		for _, unit := range []string{"1,", "a:1,", "x=>1;", "/a/;", "f(1);", "'a'+1;", "function f(){}"} {
			code := "x = [" + strings.Repeat(unit, (MaxSourceSize-10)/len(unit)) + "]"
			start := time.Now()
			_, _ = Compile("flat", code)
			assert.Less(t, time.Since(start), scaled(500*time.Millisecond), unit)
		}
	})
	t.Run("nesting within the limit compiles", func(t *testing.T) {
		_, err := Compile("ok", "x = "+strings.Repeat("[", 100)+strings.Repeat("]", 100))
		assert.NoError(t, err)
	})
}
