package script

import (
	"context"
	"strings"
	"testing"

	"github.com/dop251/goja"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The guarded and reimplemented built-ins must behave like goja's own on
// ordinary input. Each expression is evaluated in a bare goja runtime and
// in the sandbox, both serialised with JSON.stringify (goja's in the bare
// runtime, the sandbox's own in the sandbox, so that is compared too).
func TestGuardedBuiltInsBehaveLikeTheOriginals(t *testing.T) {
	exprs := []string{
		// JSON.stringify
		`JSON.stringify({a: [1, 'two', null, true, {b: undefined, c: () => 1}], d: new Date(0), e: 'é\u2028"\\'})`,
		`JSON.stringify([undefined, function () {}, Symbol('s')])`,
		`JSON.stringify({a: 1, b: [1, 2], c: {}}, null, 2)`,
		`JSON.stringify({a: 1, b: [1, {x: []}]}, null, '--')`,
		`JSON.stringify({a: 1, b: 2, c: 3}, ['c', 'a'])`,
		`JSON.stringify({a: 1, b: 'x'}, (k, v) => typeof v === 'number' ? v * 2 : v)`,
		`JSON.stringify({toJSON() { return {t: 1} }})`,
		`JSON.stringify([NaN, Infinity, -0, 1e21, 0.1])`,
		`JSON.stringify(new String('s')) + JSON.stringify(new Number(3)) + JSON.stringify(new Boolean(false))`,
		`JSON.stringify('\ud800')`,
		`JSON.stringify(undefined) === undefined`,
		`JSON.stringify({a: JSON.rawJSON('1e1000')})`,
		`JSON.stringify({[Symbol('k')]: 1, k: 2})`,
		`JSON.stringify(Object.create({inherited: 1}, {own: {value: 2, enumerable: true}}))`,
		`JSON.parse('{"a":[1,{"b":null}]}', (k, v) => v === null ? 'n' : v)`,
		// join, toString, toLocaleString
		`[1, [2, [3, null]], undefined, 'x'].join('-')`,
		`String([1, [2, 3]]) + [].join() + [null].join() + Array(3).join('ab')`,
		`(() => { const a = [1]; a.push(a); return String(a) })()`,
		`[1, 'a', new Date(0)].toLocaleString().length > 0`,
		`Array.prototype.join.call({length: 3, 0: 'a', 2: 'c'}, '+')`,
		`new Uint8Array([1, 2, 3]).join('/') + String(new Float64Array([0.5]))`,
		// concat, flat, sort
		`'a'.concat(1, null, [2, 3], {})`,
		`[1].concat([2, [3]], 4, {length: 1, 0: 'x', [Symbol.isConcatSpreadable]: true})`,
		`[1, [2, [3, [4, [5]]]]].flat()`,
		`[1, [2, [3, [4, [5]]]]].flat(2)`,
		`[1, [2, [3, [4, [5]]]]].flat(Infinity)`,
		`[1, , [2, , 3]].flat()`,
		`[10, 9, 1, 'b', 'a', undefined, 2].sort()`,
		`[3, 1, 2].sort((a, b) => b - a)`,
		`[3, 1, 2].toSorted()`,
		`Array.from(new Float64Array([3, -0, 0, NaN, -1]).sort())`,
		// strings
		`'ab'.repeat(3) + '|' + ''.repeat(5) + '|' + 'x'.repeat(0) + '|' + 'é'.repeat(2)`,
		`'5'.padStart(3, '0') + 'x'.padEnd(5, 'ab') + 'abc'.padStart(2) + '|' + 'a'.padEnd(3)`,
		`'a,b,,c'.split(',')`,
		`'a,b,c'.split(',', 2)`,
		`'abc'.split('')`,
		`'a1b2c'.split(/\d/)`,
		`''.split(',')`,
		`'aXbXc'.replace('X', '[$&]') + 'aXbXc'.replaceAll('X', "<$'>")`,
		"'abc'.replace('b', '$`$`')",
		`'2024-01-02'.replace(/(\d+)-(\d+)-(\d+)/, '$3.$2.$1')`,
		`'2024-01-02'.replace(/(?<y>\d+)-(?<m>\d+)-(?<d>\d+)/, '$<d>/$<m>/$<y> $<nope>|')`,
		`'abc'.replace(/(b)/, '$0$1$2$10$$')`,
		`'aaa'.replace(/a/g, (m, i) => i)`,
		`'ABC'.toLowerCase() + 'straße'.toUpperCase() + 'e\u0301'.normalize('NFC').length`,
		`[...'héllo'].length + Array.from('abc').join('')`,
		`String.raw` + "`a\\n${1}b`" + ` + String.raw({raw: ['x', 'y', 'z']}, 1, 2)`,
		`encodeURIComponent('a b/é') + escape('ü')`,
		// regexps
		`/(\d+)/.exec('ab12cd')`,
		`'a1b22c333'.match(/\d+/g)`,
		`[...'a1b22'.matchAll(/\d/g)].map(m => m[0] + m.index)`,
		`'abcabc'.search(/c/) + '|' + /b/y.test('abc')`,
		`(() => { const r = /a/g; const out = []; r.test('aa'); out.push(r.lastIndex); r.test('aa'); out.push(r.lastIndex); r.test('aa'); out.push(r.lastIndex); return out })()`,
		`/(?<=a)b/.test('ab') + ' ' + /(a)\1/.test('aa') + ' ' + /^(?!x)/.test('y')`,
		`new RegExp('a+', 'gi').exec('xAAx')[0]`,
		`'x-y_z'.split(/[-_]/)`,
		// arrays
		`[1, 2, 3].indexOf(2) + [1, 2, 3].includes(3) + [1, 2, 3].lastIndexOf(1)`,
		`[1, 2, 3, 4].map(x => x * 2).filter(x => x > 2).reduce((a, b) => a + b, 0)`,
		`Array.from({length: 3}, (_, i) => i * i)`,
		`Array.prototype.slice.call({length: 2, 0: 'a', 1: 'b'})`,
		`[...[1, 2].entries()].concat([...[1, 2].keys()], [...[1, 2].values()])`,
		`Object.keys('abc').concat(Object.values([7, 8]), Object.entries({a: 1}))`,
		`Math.max.apply(null, [1, 5, 3]) + Reflect.apply(Math.min, null, [4, 2])`,
		`Array.from(new Uint8Array([5, 6]).entries())`,
		`new Int16Array(3).length + new ArrayBuffer(8).byteLength + Uint8Array.from([1, 2]).length`,
		`Array.from(new Uint8Array(new ArrayBuffer(4), 1, 2))`,
		`Object.assign({}, 'ab', [9])`,
		`[Symbol.for('x') === Symbol.for('x'), Symbol.keyFor(Symbol.for('y')), Symbol.keyFor(Symbol('z'))]`,
	}
	bare := goja.New()
	drainPool()
	for _, expr := range exprs {
		t.Run(expr, func(t *testing.T) {
			want, err := bare.RunString("JSON.stringify(" + expr + ")")
			require.NoError(t, err)
			h := newFakeHost()
			err = NewRunner(Limits{}).Run(context.Background(), mustCompile(t, "log(String(JSON.stringify("+expr+")))"), Input{}, h)
			require.NoError(t, err)
			assert.Equal(t, want.String(), h.Logs()[0].Message)
		})
	}
}

func TestGuardsLeaveTheReceiversAlone(t *testing.T) {
	t.Run("a RangeError from a guard can be caught and the script goes on", func(t *testing.T) {
		assert.Equal(t, []string{"RangeError", "after"}, logs(t,
			`try { 'x'.repeat(2**40) } catch (e) { log(e.name) } log('after')`, Input{}))
	})
	t.Run("guards work for subclasses of the guarded constructors", func(t *testing.T) {
		assert.Equal(t, []string{"true true 2 true"}, logs(t, `
			class Bytes extends Uint8Array {}
			class Re extends RegExp {}
			const b = new Bytes(2), r = new Re('a');
			log((b instanceof Bytes) + ' ' + (r instanceof RegExp) + ' ' + b.length + ' ' + r.test('a'));`, Input{}))
	})
	t.Run("the wrapped constructors keep their identity relations", func(t *testing.T) {
		assert.Equal(t, []string{"true true true true"}, logs(t, `
			log((new Uint8Array(1).constructor === Uint8Array) + ' ' + (/a/.constructor === RegExp) + ' ' +
				(Object.getPrototypeOf(Uint8Array) === Object.getPrototypeOf(Int8Array)) + ' ' + (typeof ArrayBuffer.isView === 'function'))`, Input{}))
	})
	t.Run("built-in names and lengths are unchanged", func(t *testing.T) {
		assert.Equal(t, []string{strings.Join([]string{"join 1", "repeat 1", "stringify 3", "exec 1", "RegExp 2", "Function 1"}, ",")}, logs(t, `
			log([[].join, ''.repeat, JSON.stringify, /a/.exec, RegExp, Function].map(f => f.name + ' ' + f.length).join())`, Input{}))
	})
}
