package script

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const seedScript = `const {name, email, phone} = payload;
if (name && email) {
  env['res.partner'].create({name, email, phone, company_type: 'person', customer_rank: 1});
} else {
  throw new Error("Missing required fields: 'name' and 'email'");
}
`

func run(t *testing.T, code string, in Input, h *fakeHost) error {
	t.Helper()
	p, err := Compile("test", code)
	require.NoError(t, err)
	return NewRunner(Limits{}).Run(context.Background(), p, in, h)
}

// logs runs code and returns what it logged (messages only).
func logs(t *testing.T, code string, in Input) []string {
	t.Helper()
	h := newFakeHost()
	require.NoError(t, run(t, code, in, h))
	var out []string
	for _, l := range h.Logs() {
		out = append(out, l.Message)
	}
	return out
}

func TestTheSeedScriptCreatesAContact(t *testing.T) {
	t.Run("with name and email it creates a partner with the fixed values", func(t *testing.T) {
		h := newFakeHost()
		err := run(t, seedScript, Input{
			Payload: map[string]any{"name": "Ada", "email": "ada@example.com", "phone": "+1 555"},
			Model:   "res.partner",
			Record:  map[string]any{"id": int64(2)},
			Records: []map[string]any{{"id": int64(2)}},
		}, h)
		require.NoError(t, err)
		require.Len(t, h.Writes(), 1)
		assert.Equal(t, write{"create", "res.partner", int64(101), map[string]any{
			"name": "Ada", "email": "ada@example.com", "phone": "+1 555",
			"company_type": "person", "customer_rank": int64(1),
		}}, h.Writes()[0])
	})
	t.Run("without a phone the phone key is dropped, not sent as null", func(t *testing.T) {
		h := newFakeHost()
		require.NoError(t, run(t, seedScript, Input{Payload: map[string]any{"name": "Ada", "email": "a@x"}}, h))
		assert.NotContains(t, h.Writes()[0].Values, "phone")
	})
	t.Run("without an email it throws the script's error and writes nothing", func(t *testing.T) {
		h := newFakeHost()
		err := run(t, seedScript, Input{Payload: map[string]any{"name": "Ada"}}, h)
		var te *ThrownError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, "Error", te.Name)
		assert.Equal(t, "Missing required fields: 'name' and 'email'", te.Message)
		assert.Equal(t, "Error: Missing required fields: 'name' and 'email'", te.Error())
		assert.Contains(t, te.Stack, "test:5:")
		assert.Empty(t, h.Writes())
	})
	t.Run("with a null body the payload is undefined, as in Odoo", func(t *testing.T) {
		err := run(t, seedScript, Input{}, newFakeHost())
		var te *ThrownError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, "TypeError", te.Name)
	})
}

func TestTheGlobalsDescribeTheCall(t *testing.T) {
	in := Input{
		Payload: map[string]any{"n": int64(3), "f": 1.5, "ok": true, "list": []any{"a", int64(1)}, "nested": map[string]any{"k": nil}},
		Headers: map[string]string{"X-Signature": "abc"},
		Query:   map[string]any{"debug": "1"},
		Model:   "sale.order",
		Record:  map[string]any{"id": int64(7), "name": "S00007"},
		Records: []map[string]any{{"id": int64(7), "name": "S00007"}, {"id": int64(8), "name": "S00008"}},
	}
	t.Run("payload, headers and query are plain JSON values", func(t *testing.T) {
		assert.Equal(t, []string{
			`{"f":1.5,"list":["a",1],"n":3,"nested":{"k":null},"ok":true}`,
			`{"X-Signature":"abc"}`, `{"debug":"1"}`,
		}, logs(t, `log(JSON.stringify(payload)); log(JSON.stringify(headers)); log(JSON.stringify(query))`, in))
	})
	t.Run("record is the current record and also the matching element of records", func(t *testing.T) {
		assert.Equal(t, []string{"7 S00007 sale.order", "2", "true", "7,8"}, logs(t, `
			log(record.id + ' ' + record.name + ' ' + record._name);
			log(String(records.length));
			log(String(records[0] === record));
			log(records.map(r => r.id).join());
		`, in))
	})
	t.Run("record is null when there is no current record", func(t *testing.T) {
		assert.Equal(t, []string{"null 0"}, logs(t, `log(String(record) + ' ' + records.length)`, Input{}))
	})
	t.Run("model is env of the webhook's model", func(t *testing.T) {
		assert.Equal(t, []string{"sale.order true res.partner"}, logs(t,
			`log(model._name + ' ' + (model === env['sale.order']) + ' ' + env['res.partner']._name)`, in))
	})
	t.Run("env accepts any model name and cannot be assigned to", func(t *testing.T) {
		assert.Equal(t, []string{"x.y-z TypeError"}, logs(t, `
			let e; try { env.foo = 1 } catch (err) { e = err.name }
			log(env['x.y-z']._name + ' ' + e)`, in))
	})
	t.Run("top-level return ends the script", func(t *testing.T) {
		assert.Equal(t, []string{"before"}, logs(t, `log('before'); return; log('after')`, in))
	})
	t.Run("the script runs in strict mode", func(t *testing.T) {
		assert.Equal(t, []string{"ReferenceError"}, logs(t, `try { undeclared = 1 } catch (e) { log(e.name) }`, in))
	})
	t.Run("the usual built-ins work", func(t *testing.T) {
		assert.Equal(t, []string{`2024-01-02T03:04:05.000Z|3|ab-cd|["b","a"]|{"x":1}|true|[1,2,3]|AbC`}, logs(t, `
			const parts = [
				new Date(Date.UTC(2024, 0, 2, 3, 4, 5)).toISOString(),
				Math.max(1, 3, 2),
				'ab_cd'.replace(/_/g, '-'),
				JSON.stringify(['a', 'b'].sort().reverse()),
				JSON.stringify(Object.fromEntries(new Map([['x', 1]]))),
				/^\d+$/.test('123'),
				JSON.stringify([[1], [2, [3]]].flat(Infinity)),
				'abc'.replace(/(?<first>a)b/, (m, a) => a.toUpperCase() + 'b').replace(/c$/, 'C'),
			];
			log(parts.join('|'));`, in))
	})
	t.Run("replacement patterns expand as the spec says", func(t *testing.T) {
		assert.Equal(t, []string{"[b]|$|x-a-y|a[c]c|a[a]c|b1b|a$2c|<b>"}, logs(t, `
			log([
				'abc'.replace('b', '[$&]').slice(1, 4),
				'a'.replace('a', '$$'),
				'a'.replace(/(a)/, 'x-$1-y'),
				'abc'.replace('b', "[$']"),
				'abc'.replace('b', '[$`+"`"+`]'),
				'b'.replace(/(b)/, '$11$1').slice(0, 3),
				'abc'.replace(/(b)/, '$$2'),
				'b'.replace(/(?<n>b)/, '<$<n>>'),
			].join('|'))`, in))
	})
	t.Run("Symbol.for is consistent within a run", func(t *testing.T) {
		assert.Equal(t, []string{"true k"}, logs(t, `log((Symbol.for('k') === Symbol.for('k')) + ' ' + Symbol.keyFor(Symbol.for('k')))`, in))
	})
	t.Run("assigning name, message and toString on objects still works with frozen prototypes", func(t *testing.T) {
		assert.Equal(t, []string{"ValidationError: bad", "custom", "ok"}, logs(t, `
			const e = new Error('bad'); e.name = 'ValidationError'; log(String(e));
			const o = {}; o.toString = () => 'custom'; log(String(o));
			class MyErr extends Error { constructor(m) { super(m); this.name = 'MyErr' } }
			log(new MyErr('x').name === 'MyErr' ? 'ok' : 'broken');`, in))
	})
}

func TestRecordsAndModelsReachTheHost(t *testing.T) {
	newHost := func() *fakeHost {
		h := newFakeHost()
		h.put("res.partner", map[string]any{"id": int64(1), "name": "A", "email": "a@x"})
		h.put("res.partner", map[string]any{"id": int64(2), "name": "B", "email": "b@x"})
		h.put("sale.order", map[string]any{"id": "S7", "currency": "EUR"})
		return h
	}
	t.Run("browse of one id returns a record", func(t *testing.T) {
		assert.Equal(t, []string{`{"id":1,"email":"a@x","name":"A"} res.partner`}, logs2(t, newHost(),
			`const r = env['res.partner'].browse(1); log(JSON.stringify(r) + ' ' + r._name)`))
	})
	t.Run("browse of a list returns an array of records", func(t *testing.T) {
		assert.Equal(t, []string{"A,B"}, logs2(t, newHost(), `log(env['res.partner'].browse([1, 2]).map(r => r.name).join())`))
	})
	t.Run("browse takes string ids", func(t *testing.T) {
		assert.Equal(t, []string{"EUR"}, logs2(t, newHost(), `log(env['sale.order'].browse('S7').currency)`))
	})
	t.Run("search filters by field values and honours the limit", func(t *testing.T) {
		assert.Equal(t, []string{"B", "1"}, logs2(t, newHost(), `
			log(env['res.partner'].search({email: 'b@x'}).map(r => r.name).join());
			log(String(env['res.partner'].search({}, 1).length));`))
	})
	t.Run("write sends the values and updates the record object", func(t *testing.T) {
		h := newHost()
		assert.Equal(t, []string{"USD true"}, logs2(t, h, `
			const o = env['sale.order'].browse('S7');
			const res = o.write({currency: 'USD'});
			log(o.currency + ' ' + res);`))
		assert.Equal(t, []write{{"write", "sale.order", "S7", map[string]any{"currency": "USD"}}}, h.Writes())
	})
	t.Run("create returns the new record as the store has it", func(t *testing.T) {
		assert.Equal(t, []string{"101 C res.partner"}, logs2(t, newHost(),
			`const r = env['res.partner'].create({name: 'C'}); log(r.id + ' ' + r.name + ' ' + r._name)`))
	})
	t.Run("read and toJSON give plain copies without the methods", func(t *testing.T) {
		assert.Equal(t, []string{`true false {"id":1,"email":"a@x","name":"A"}`}, logs2(t, newHost(), `
			const r = env['res.partner'].browse(1);
			const c = r.read(); c.name = 'changed';
			log((typeof r.write === 'function') + ' ' + (typeof c.write === 'function') + ' ' + JSON.stringify(r));`))
	})
	t.Run("the record methods are not enumerable fields", func(t *testing.T) {
		assert.Equal(t, []string{"id,email,name"}, logs2(t, newHost(), `log(Object.keys(env['res.partner'].browse(1)).join())`))
	})
	t.Run("a record used as a value stands for its id", func(t *testing.T) {
		h := newHost()
		logs2(t, h, `const p = env['res.partner'].browse(2); env['sale.order'].create({partner_id: p, lines: [p]})`)
		assert.Equal(t, map[string]any{"partner_id": int64(2), "lines": []any{int64(2)}}, h.Writes()[0].Values)
	})
	t.Run("a missing record is a HostError the script can catch", func(t *testing.T) {
		assert.Equal(t, []string{"HostError res.partner(999): record not found"}, logs2(t, newHost(), `
			try { env['res.partner'].browse(999) } catch (e) { log(e.name + ' ' + e.message) }`))
	})
	t.Run("an uncaught Host error comes back wrapped around the Host's error", func(t *testing.T) {
		h := newHost()
		err := run(t, `env['res.partner'].browse(999)`, Input{}, h)
		assert.ErrorIs(t, err, errNotFound)
		var te *ThrownError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, "HostError", te.Name)
	})
	t.Run("a Host error rethrown by the script is still the Host's error", func(t *testing.T) {
		err := run(t, `try { env['res.partner'].browse(999) } catch (e) { log('x'); throw e }`, Input{}, newHost())
		assert.ErrorIs(t, err, errNotFound)
	})
	t.Run("a Host error wrapped into a new error by the script is the script's error", func(t *testing.T) {
		err := run(t, `try { env['res.partner'].browse(999) } catch (e) { throw new Error('lookup failed: ' + e.message) }`, Input{}, newHost())
		assert.NotErrorIs(t, err, errNotFound)
		assert.ErrorContains(t, err, "lookup failed")
	})
	t.Run("a failing write is a Host error too", func(t *testing.T) {
		h := newHost()
		h.failOn = map[string]error{"write": errors.New("invalid field 'x'")}
		err := run(t, `env['sale.order'].browse('S7').write({x: 1})`, Input{}, h)
		assert.ErrorContains(t, err, "invalid field 'x'")
	})
}

func logs2(t *testing.T, h *fakeHost, code string) []string {
	t.Helper()
	require.NoError(t, run(t, code, Input{Model: "res.partner"}, h))
	var out []string
	for _, l := range h.Logs() {
		out = append(out, l.Message)
	}
	return out
}

func TestValuesComingBackAreJSONShaped(t *testing.T) {
	create := func(t *testing.T, values string) (map[string]any, error) {
		h := newFakeHost()
		err := run(t, `env['x'].create(`+values+`)`, Input{}, h)
		if err != nil {
			return nil, err
		}
		return h.Writes()[0].Values, nil
	}
	t.Run("integral numbers become int64 and others float64", func(t *testing.T) {
		v, err := create(t, `{a: 3, b: 3.0, c: 1.5, d: 6/2, e: -0, f: 2**53, g: 1e300}`)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"a": int64(3), "b": int64(3), "c": 1.5, "d": int64(3), "e": int64(0), "f": int64(1 << 53), "g": 1e300}, v)
	})
	t.Run("objects and arrays nest, undefined keys are dropped and undefined elements become null", func(t *testing.T) {
		v, err := create(t, `{o: {p: [1, 'x', null, undefined, true]}, u: undefined}`)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"o": map[string]any{"p": []any{int64(1), "x", nil, nil, true}}}, v)
	})
	t.Run("dates become ISO strings and boxed primitives unbox", func(t *testing.T) {
		v, err := create(t, `{d: new Date(Date.UTC(2024, 0, 2)), s: new String('s'), n: new Number(2)}`)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"d": "2024-01-02T00:00:00.000Z", "s": "s", "n": int64(2)}, v)
	})
	for _, c := range []struct{ name, values, message string }{
		{"a function is refused", `{f: () => 1}`, "cannot contain a function"},
		{"a symbol is refused", `{s: Symbol('x')}`, "cannot contain a Symbol"},
		{"NaN is refused", `{n: NaN}`, "cannot contain NaN"},
		{"a cycle is refused", `(() => { const o = {}; o.o = o; return o })()`, "contain a cycle"},
		{"a Map is refused", `{m: new Map()}`, "cannot contain a Map"},
		{"a non-object is refused", `42`, "must be an object"},
	} {
		t.Run(c.name+" with a TypeError", func(t *testing.T) {
			_, err := create(t, c.values)
			var te *ThrownError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, "TypeError", te.Name)
			assert.Contains(t, te.Message, c.message)
		})
	}
	t.Run("getters run and a Proxy is read through its traps", func(t *testing.T) {
		v, err := create(t, `{get a(){ return 1 }, p: new Proxy({}, {ownKeys: () => ['k'], getOwnPropertyDescriptor: () => ({value: 2, enumerable: true, configurable: true}), get: () => 2})}`)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"a": int64(1), "p": map[string]any{"k": int64(2)}}, v)
	})
}

func TestValuesHandedInAreCopies(t *testing.T) {
	payload := map[string]any{"name": "Ada", "tags": []any{"a"}, "addr": map[string]any{"city": "Paris"}}
	record := map[string]any{"id": int64(1), "name": "Ada"}
	headers := map[string]string{"X": "1"}
	h := newFakeHost()
	err := run(t, `
		payload.name = 'changed'; payload.tags.push('b'); payload.addr.city = 'Rome'; delete payload.addr;
		record.name = 'changed'; record.id = 99; headers.X = '2';
		records.length = 0;
	`, Input{Payload: payload, Record: record, Records: []map[string]any{record}, Headers: headers}, h)
	require.NoError(t, err)
	t.Run("the script's changes do not reach the Go maps", func(t *testing.T) {
		assert.Equal(t, map[string]any{"name": "Ada", "tags": []any{"a"}, "addr": map[string]any{"city": "Paris"}}, payload)
		assert.Equal(t, map[string]any{"id": int64(1), "name": "Ada"}, record)
		assert.Equal(t, map[string]string{"X": "1"}, headers)
	})
	t.Run("a __proto__ key in the payload is an own property, not a prototype", func(t *testing.T) {
		assert.Equal(t, []string{"true undefined"}, logs(t,
			`log(Object.hasOwn(payload, '__proto__') + ' ' + payload.polluted)`,
			Input{Payload: map[string]any{"__proto__": map[string]any{"polluted": true}}}))
	})
	t.Run("Go values the sandbox does not know are refused before the script runs", func(t *testing.T) {
		// The script names payload: an input a script never names is not
		// converted at all (see uses), so it cannot reach JS either way.
		err := run(t, `log(typeof payload)`, Input{Payload: map[string]any{"c": make(chan int)}}, h)
		assert.ErrorContains(t, err, "unsupported value type chan int")
	})
}

func TestLogging(t *testing.T) {
	t.Run("log defaults to info and takes Odoo's levels", func(t *testing.T) {
		h := newFakeHost()
		require.NoError(t, run(t, `log('a'); log('b', 'debug'); log('c', 'warning'); log('d', 'warn'); log('e', 'error')`, Input{}, h))
		assert.Equal(t, []logLine{{"info", "a"}, {"debug", "b"}, {"warning", "c"}, {"warning", "d"}, {"error", "e"}}, h.Logs())
	})
	t.Run("an unknown level is a TypeError", func(t *testing.T) {
		err := run(t, `log('a', 'loud')`, Input{}, newFakeHost())
		assert.ErrorContains(t, err, "log level must be one of")
	})
	t.Run("objects are logged as JSON and errors as name and message", func(t *testing.T) {
		assert.Equal(t, []string{`{"a":[1]}`, "TypeError: x", "undefined", "12"}, logs(t,
			`log({a: [1]}); log(new TypeError('x')); log(undefined); log(12)`, Input{}))
	})
	t.Run("console maps onto log", func(t *testing.T) {
		h := newFakeHost()
		require.NoError(t, run(t, `console.log('a', {b: 1}); console.warn('w'); console.error('e'); console.debug('d')`, Input{}, h))
		assert.Equal(t, []logLine{{"info", `a {"b":1}`}, {"warning", "w"}, {"error", "e"}, {"debug", "d"}}, h.Logs())
	})
	t.Run("a run logs at most a thousand messages, then says so once", func(t *testing.T) {
		h := newFakeHost()
		require.NoError(t, run(t, `for (let i = 0; i < 5000; i++) log('m' + i)`, Input{}, h))
		lines := h.Logs()
		assert.Len(t, lines, maxLogEntries+1)
		assert.Contains(t, lines[len(lines)-1].Message, "log limit reached")
	})
	t.Run("a long message is truncated", func(t *testing.T) {
		h := newFakeHost()
		require.NoError(t, run(t, `log('x'.repeat(100000))`, Input{}, h))
		assert.Less(t, len(h.Logs()[0].Message), maxLogMessage+100)
		assert.True(t, strings.HasSuffix(h.Logs()[0].Message, "(truncated)"))
	})
}

func TestErrorsCarryTheirKind(t *testing.T) {
	t.Run("limit errors read well and match their sentinel only", func(t *testing.T) {
		timeout := &LimitError{Kind: LimitTimeout, Limit: int64(time.Second)}
		memory := &LimitError{Kind: LimitMemory, Limit: 64 << 20}
		stack := &LimitError{Kind: LimitStack, Limit: 1000}
		assert.Equal(t, "script timed out after 1s", timeout.Error())
		assert.Equal(t, "script exceeded its memory limit of 64 MiB", memory.Error())
		assert.Equal(t, "script exceeded its call stack limit of 1000 frames", stack.Error())
		assert.ErrorIs(t, timeout, ErrTimeout)
		assert.NotErrorIs(t, timeout, ErrMemory)
		assert.ErrorIs(t, memory, ErrMemory)
		assert.ErrorIs(t, stack, ErrStackOverflow)
	})
	t.Run("a syntax error names the line and column in the user's code", func(t *testing.T) {
		_, err := Compile("hook", "let a = 1;\nlet b = ;\n")
		var se *SyntaxError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 2, se.Line)
		assert.Equal(t, 9, se.Column)
		assert.Contains(t, err.Error(), "hook:2:9: ")
	})
	t.Run("a syntax error on the first line is not shifted by the wrapper", func(t *testing.T) {
		_, err := Compile("hook", "let = 1")
		var se *SyntaxError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 1, se.Line)
		assert.Less(t, se.Column, 8)
	})
	t.Run("code missing its end reports the end of the code", func(t *testing.T) {
		_, err := Compile("hook", "if (x) {\n  y()")
		var se *SyntaxError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 2, se.Line)
	})
	t.Run("runtime positions are in the user's code", func(t *testing.T) {
		err := run(t, "let x = null;\nx.f();", Input{}, newFakeHost())
		var te *ThrownError
		require.ErrorAs(t, err, &te)
		assert.Contains(t, te.Stack, "test:2:")
	})
	t.Run("default limits are filled in", func(t *testing.T) {
		l := NewRunner(Limits{}).Limits()
		assert.Equal(t, time.Second, l.Timeout)
		assert.Equal(t, 1000, l.MaxCallStack)
		assert.Equal(t, int64(64<<20), l.MaxMemory)
		assert.Positive(t, l.MaxConcurrent)
		assert.Equal(t, 100*time.Millisecond, l.QueueWait)
	})
	t.Run("Run refuses a nil program or host", func(t *testing.T) {
		r := NewRunner(Limits{})
		assert.Error(t, r.Run(context.Background(), nil, Input{}, newFakeHost()))
		p, _ := Compile("x", "1")
		assert.Error(t, r.Run(context.Background(), p, Input{}, nil))
	})
}
