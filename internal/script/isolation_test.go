package script

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sandboxes are pooled; these tests prove that no run can leave anything
// behind for the next one.

// roots lists everything a script can reach without creating it: the
// global object, the intrinsics a property walk from it misses, and the
// host API objects shared by all runs.
const roots = `
	const getProto = Object.getPrototypeOf;
	const roots = [
		globalThis, log, console, getProto(env['x']),
		getProto(function* () {}), getProto(async function () {}),
		getProto([][Symbol.iterator]()), getProto(new Map()[Symbol.iterator]()),
		getProto(new Set()[Symbol.iterator]()), getProto(''[Symbol.iterator]()),
		getProto(/a/[Symbol.matchAll]('')), getProto(Int8Array),
		Object.getOwnPropertyDescriptor(Function.prototype, 'caller').get,
		getProto(Promise.resolve()),
	];
	if (records.length > 0) roots.push(getProto(records[0]));
	function walk(visit) {
		const seen = new Set(), todo = roots.slice();
		while (todo.length > 0) {
			const o = todo.shift();
			if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
			seen.add(o);
			visit(o);
			todo.push(getProto(o));
			for (const k of Reflect.ownKeys(o)) {
				const d = Object.getOwnPropertyDescriptor(o, k);
				if ('value' in d) todo.push(d.value); else todo.push(d.get, d.set);
			}
		}
		return seen.size;
	}
`

// fingerprint describes every reachable object's own properties: keys,
// attributes, and the type (or, for primitives, the value) of each.
const fingerprint = roots + `
	const n = walk((o) => {
		const parts = [];
		for (const k of Reflect.ownKeys(o)) {
			const d = Object.getOwnPropertyDescriptor(o, k);
			const v = 'value' in d ? (typeof d.value === 'object' || typeof d.value === 'function' ? typeof d.value : String(d.value)) : 'accessor';
			parts.push(String(k) + ':' + v + ':' + d.writable + d.enumerable + d.configurable);
		}
		log(Object.isFrozen(o) + ' ' + Object.isExtensible(o) + ' ' + parts.join(','));
	});
	log(n + ' objects');
`

const pollute = `
	const attempts = [
		() => { Object.prototype.polluted = 1 },
		() => { String.prototype.trim = () => 'polluted' },
		() => { Array.prototype.push = function () {} },
		() => { Array.prototype[Symbol.iterator] = function* () { yield 'polluted' } },
		() => { JSON.stringify = () => 'polluted' },
		() => { globalThis.leak = 1 },
		() => { Reflect.defineProperty(globalThis, 'leak2', {value: 1}) || (() => { throw 1 })() },
		() => { Object.defineProperty(Object.prototype, 'y', {get() { return 1 }}) },
		() => { Object.setPrototypeOf(Array.prototype, null) },
		() => { delete Array.prototype.map },
		() => { Math.random = () => 4 },
		() => { Object.getPrototypeOf(function* () {}).polluted = 1 },
		() => { Object.getPrototypeOf([][Symbol.iterator]()).next = () => ({done: true}) },
		() => { Object.getPrototypeOf(Int8Array).prototype.polluted = 1 },
		() => { Error.prototype.toString = () => 'polluted' },
		() => { Error.prototype.message = 'polluted' },
		() => { TypeError.prototype.name = 'polluted' },
		() => { Object.prototype.toString = () => 'polluted' },
		() => { RegExp.prototype.exec = () => null },
		() => { Function.prototype.call = () => 1 },
		() => { Promise.prototype.then = () => 1 },
		() => { Date.prototype.toISOString = () => 'polluted' },
		() => { Object.freeze = () => 1 },
		() => { log.polluted = 1 },
		() => { console.log = () => {} },
		() => { Object.getPrototypeOf(env['x']).browse = () => 1 },
		() => { Object.getPrototypeOf(records[0]).write = () => 1 },
		() => { Object.getOwnPropertyDescriptor(Function.prototype, 'caller').get.polluted = 1 },
		() => { Object.getPrototypeOf(async function () {}).polluted = 1 },
		() => { Symbol.polluted = 1 },
	];
	let refused = 0;
	for (const a of attempts) { try { a(); } catch (e) { refused++ } }
	log(refused + '/' + attempts.length);
	Symbol.for('leak');
	var leakedVar = 1;
`

var isolationInput = Input{Model: "res.partner", Records: []map[string]any{{"id": int64(1)}}, Record: map[string]any{"id": int64(1)}}

func runLogs(t *testing.T, r *Runner, code string) []string {
	t.Helper()
	h := newFakeHost()
	require.NoError(t, r.Run(context.Background(), mustCompile(t, code), isolationInput, h))
	var out []string
	for _, l := range h.Logs() {
		out = append(out, l.Message)
	}
	return out
}

func TestSandboxesAreReusedWithoutLeaks(t *testing.T) {
	drainPool()
	// The fingerprint walks every reachable object: generous limits, so
	// that a loaded machine under -race neither times it out nor retires
	// the sandbox this test wants to see reused.
	defer retireAfter.Store(retireAfter.Swap(int64(time.Minute)))
	r := NewRunner(Limits{MaxConcurrent: 1, Timeout: 30 * time.Second})

	before := runLogs(t, r, fingerprint)
	attempts := runLogs(t, r, pollute)
	builds := sandboxBuilds.Load()
	after := runLogs(t, r, fingerprint)

	t.Run("the run after the polluting run reuses its sandbox", func(t *testing.T) {
		assert.Equal(t, builds, sandboxBuilds.Load())
	})
	t.Run("every pollution attempt is refused", func(t *testing.T) {
		require.Len(t, attempts, 1)
		parts := strings.Split(attempts[0], "/")
		assert.Equal(t, parts[1], parts[0])
	})
	t.Run("everything reachable is frozen", func(t *testing.T) {
		for _, line := range before[:len(before)-1] {
			assert.True(t, strings.HasPrefix(line, "true false "), "not frozen: %s", line)
		}
	})
	t.Run("the next run sees exactly what the first saw", func(t *testing.T) {
		assert.Equal(t, before, after)
	})
	t.Run("the reachable world is not trivially small", func(t *testing.T) {
		assert.Greater(t, len(before), 500)
		assert.Contains(t, before[len(before)-1], " objects")
	})
}

func TestNoStateSurvivesBetweenRuns(t *testing.T) {
	drainPool()
	r := NewRunner(Limits{MaxConcurrent: 1})
	checks := []struct{ name, first, second, want string }{
		{"a global variable does not survive", `var v = 1; globalThis.w = 2;`, `log(typeof v + ' ' + typeof w)`, "undefined undefined"},
		{"Object.prototype pollution does not survive", `try { Object.prototype.polluted = 1 } catch (e) {}`, `log(String(({}).polluted))`, "undefined"},
		{"String.prototype pollution does not survive", `try { String.prototype.x = 1 } catch (e) {}`, `log(String(''.x))`, "undefined"},
		{"a replaced built-in does not survive", `try { JSON.parse = () => 'p' } catch (e) {}`, `log(String(JSON.parse('1')))`, "1"},
		{"a Symbol.for registration does not survive", `globalThis.s = Symbol.for('k')`, `log(String(Symbol.keyFor(Symbol('k'))))`, "undefined"},
		{"the payload of one run is not visible to the next", `payload.secret = 's'`, `log(String(payload))`, "undefined"},
		{"the env models of one run are fresh in the next", `env['x'].marker = 1`, `log(String(env['x'].marker))`, "undefined"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			h := newFakeHost()
			_ = r.Run(context.Background(), mustCompile(t, c.first), Input{Payload: map[string]any{}}, h)
			assert.Equal(t, []string{c.want}, runLogs(t, r, c.second))
		})
	}
	t.Run("a different program on the same sandbox sees nothing either", func(t *testing.T) {
		assert.Equal(t, []string{"undefined"}, runLogs(t, r, `log(String(Object.prototype.polluted))`))
	})
}

func TestASandboxIsNotReusedAfterAnAbnormalEnd(t *testing.T) {
	drainPool()
	r := NewRunner(Limits{MaxConcurrent: 1, Timeout: 50 * time.Millisecond})
	builds := sandboxBuilds.Load()
	_ = r.Run(context.Background(), mustCompile(t, `for(;;){}`), Input{}, newFakeHost())
	runLogs(t, r, `log('next')`)
	t.Run("the run after a timeout gets a new sandbox", func(t *testing.T) {
		assert.Equal(t, int64(2), sandboxBuilds.Load()-builds)
	})
	t.Run("and that sandbox is not interrupted", func(t *testing.T) {
		assert.Equal(t, []string{"ok"}, runLogs(t, r, `log('ok')`))
	})
}
