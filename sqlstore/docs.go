package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	webhook "github.com/hookline/webhook"
)

// This file stores the records of models without a table of their own:
// one row per record in the records table, keyed by (model, kind, iid,
// sid), where kind 0 is an integer id held in iid (sid is empty) and kind 1
// a string id held in sid (iid is 0). The fields are a JSON object in doc:
// TEXT on SQLite, jsonb on PostgreSQL, where strings and keys are escaped
// (see pgEscape).

// key is a normalized id.
type key struct {
	n   int64
	s   string
	str bool
}

// keyOf returns the key of id; ok is false for an id no record can have.
func keyOf(id webhook.ID) (k key, ok bool) {
	switch v := id.(type) {
	case int64:
		return key{n: v}, true
	case string:
		return key{s: v, str: true}, true
	}
	id, err := webhook.NormalizeID(id)
	if err != nil {
		return key{}, false
	}
	return keyOf(id)
}

func (k key) id() webhook.ID {
	if k.str {
		return k.s
	}
	return k.n
}

func (k key) kind() int64 {
	if k.str {
		return 1
	}
	return 0
}

func notFound(model string, id webhook.ID) error {
	return &webhook.NotFoundError{Model: model, ID: id}
}

// splitID returns the fields of values other than "id", and the id values
// gives (given false if none).
func splitID(model string, values webhook.Record) (fields map[string]any, k key, given bool, err error) {
	fields = make(map[string]any, len(values))
	for f, v := range values {
		if f != "id" {
			fields[f] = v
			continue
		}
		if v == nil {
			continue
		}
		id, err := webhook.NormalizeID(v)
		if err != nil {
			return nil, key{}, false, &webhook.FieldError{Model: model, Field: "id", Reason: err.Error()}
		}
		if id == "" {
			return nil, key{}, false, &webhook.FieldError{Model: model, Field: "id", Reason: "id is empty"}
		}
		k, _ = keyOf(id)
		given = true
	}
	return fields, k, given, nil
}

// writeFields returns the fields of a Write to the record with key k: an
// "id" equal to k is dropped, any other "id" refused.
func writeFields(model string, k key, values webhook.Record) (map[string]any, error) {
	if _, ok := values["id"]; !ok {
		// Nothing to drop: the callers only read the fields, so the
		// copy (a map per Write) is not needed.
		return values, nil
	}
	fields := make(map[string]any, len(values))
	for f, v := range values {
		if f == "id" {
			if id, err := webhook.NormalizeID(v); err == nil {
				if ik, ok := keyOf(id); ok && ik == k {
					continue
				}
			}
			return nil, &webhook.FieldError{Model: model, Field: "id", Reason: "the id of a record cannot be changed"}
		}
		fields[f] = v
	}
	return fields, nil
}

func takenError(model string, id webhook.ID) error {
	return &webhook.FieldError{Model: model, Field: "id", Reason: fmt.Sprintf("id %v is already taken", id)}
}

// cond is one field of a normalized Filter.
type cond struct {
	field string
	value any
}

// conditions normalizes a Filter, sorted by field so that the statements
// built from it are the same each time.
func conditions(model string, f webhook.Filter) ([]cond, error) {
	conds := make([]cond, 0, len(f))
	for field, v := range f {
		nv, err := normalizeDeep(v)
		if err != nil {
			return nil, &webhook.FieldError{Model: model, Field: field, Reason: "filter: " + err.Error()}
		}
		conds = append(conds, cond{field, nv})
	}
	slices.SortFunc(conds, func(a, b cond) int { return strings.Compare(a.field, b.field) })
	return conds, nil
}

// matches reports whether rec satisfies every condition; a field rec does
// not have equals nil. Searches narrow the rows in SQL and decide here, so
// that every store means the same by a Filter.
func matches(rec webhook.Record, conds []cond) bool {
	for _, c := range conds {
		if !webhook.ValuesEqual(rec[c.field], c.value) {
			return false
		}
	}
	return true
}

// idCond returns the key an "id" condition asks for; ok is false when no
// id can equal the value.
func idCond(v any) (k key, ok bool) {
	switch x := v.(type) {
	case int64:
		return key{n: x}, true
	case float64:
		if x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63 {
			return key{n: int64(x)}, true
		}
	case string:
		return key{s: x, str: true}, true
	}
	return key{}, false
}

// docModel is a model stored as documents.
type docModel struct {
	s    *Store
	name string
}

// text returns s as the store keeps it in a text column.
func (s *Store) text(v string) string {
	if s.pg {
		return escapeText(v)
	}
	return v
}

// untext reverses text.
func (s *Store) untext(v string) string {
	if s.pg {
		return unescapeText(v)
	}
	return v
}

// jsonParam returns the placeholder of a JSON document argument.
func (s *Store) jsonParam(b *stmt, doc string) string {
	if s.pg {
		return "CAST(CAST(" + b.arg(doc) + " AS text) AS jsonb)"
	}
	return b.arg(doc)
}

// browseChunk bounds the ids of one statement, well below both dialects'
// limits on arguments.
const browseChunk = 500

func (m docModel) browse(ctx context.Context, o on, ids []webhook.ID) ([]webhook.Record, error) {
	return browseIDs(m.name, ids, keyOf, func(chunk []key, found map[key]webhook.Record) error {
		b := m.s.stmt()
		b.add("SELECT kind, iid, sid, doc FROM ", m.s.names.records, " WHERE model = ", b.arg(m.s.text(m.name)), " AND (")
		var ints, strs []string
		for _, k := range chunk {
			if k.str {
				strs = append(strs, b.arg(m.s.text(k.s)))
			} else {
				ints = append(ints, b.arg(k.n))
			}
		}
		switch {
		case len(ints) > 0 && len(strs) > 0:
			b.add("(kind = 0 AND iid IN (", strings.Join(ints, ", "), ")) OR (kind = 1 AND sid IN (", strings.Join(strs, ", "), "))")
		case len(ints) > 0:
			b.add("kind = 0 AND iid IN (", strings.Join(ints, ", "), ")")
		default:
			b.add("kind = 1 AND sid IN (", strings.Join(strs, ", "), ")")
		}
		b.add(")")
		if lock := m.s.lock(o); lock != "" {
			b.add(" ORDER BY kind, iid, sid", lock)
		}
		return m.query(ctx, o, b, func(k key, rec webhook.Record) bool {
			found[k] = rec
			return true
		})
	})
}

// browseIDs is Browse for both kinds of model: it turns ids into keys
// with keyFor, fetches each distinct key once, browseChunk keys per call
// of fetch (which fills found), and returns the records in the order of
// ids, a repeated id getting a copy of its record.
func browseIDs(model string, ids []webhook.ID, keyFor func(webhook.ID) (key, bool),
	fetch func(chunk []key, found map[key]webhook.Record) error) ([]webhook.Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]key, len(ids))
	var uniq []key
	seen := make(map[key]bool, len(ids))
	for i, id := range ids {
		k, ok := keyFor(id)
		if !ok {
			return nil, notFound(model, id)
		}
		keys[i] = k
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, k)
		}
	}
	found := make(map[key]webhook.Record, len(uniq))
	for chunk := range slices.Chunk(uniq, browseChunk) {
		if err := fetch(chunk, found); err != nil {
			return nil, err
		}
	}
	out := make([]webhook.Record, len(ids))
	used := make(map[key]bool, len(uniq))
	for i, k := range keys {
		rec, ok := found[k]
		if !ok {
			return nil, notFound(model, k.id())
		}
		if used[k] {
			rec = cloneRecord(rec)
		}
		used[k] = true
		out[i] = rec
	}
	return out, nil
}

// query runs a statement that selects kind, iid, sid and doc, calling f
// with each record until f returns false.
func (m docModel) query(ctx context.Context, o on, b *stmt, f func(key, webhook.Record) bool) error {
	rows, err := o.q.QueryContext(ctx, b.String(), b.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, iid int64
		var sid string
		var doc sql.RawBytes
		if err := rows.Scan(&kind, &iid, &sid, &doc); err != nil {
			return err
		}
		k := key{n: iid}
		if kind == 1 {
			k = key{s: m.s.untext(sid), str: true}
		}
		fields, err := decodeObject(doc, m.s.pg)
		if err != nil {
			return fmt.Errorf("sqlstore: %s record %v: %w", m.name, k.id(), err)
		}
		rec := webhook.Record(fields)
		rec["id"] = k.id()
		if !f(k, rec) {
			return rows.Close()
		}
	}
	return rows.Err()
}

func (m docModel) create(ctx context.Context, o on, values webhook.Record) (webhook.ID, error) {
	fields, k, given, err := splitID(m.name, values)
	if err != nil {
		return nil, err
	}
	doc, err := encodeFields(m.name, fields, m.s.pg)
	if err != nil {
		return nil, err
	}
	model := m.s.text(m.name)
	seq := m.s.names.sequences
	if given && !k.str {
		// A later assigned id must not collide with this one.
		b := m.s.stmt()
		b.add("INSERT INTO ", seq, " (model, last) VALUES (", b.arg(model), ", ", b.arg(max(k.n, 0)), ") ",
			"ON CONFLICT (model) DO UPDATE SET last = CASE WHEN excluded.last > ", seq, ".last THEN excluded.last ELSE ", seq, ".last END")
		if _, err := o.q.ExecContext(ctx, b.String(), b.args...); err != nil {
			return nil, err
		}
	}
	// An assigned id is taken only if a record was stored behind the
	// store's back; try the next one then.
	for range 100 {
		if !given {
			b := m.s.stmt()
			b.add("INSERT INTO ", seq, " (model, last) VALUES (", b.arg(model), ", 1) ",
				"ON CONFLICT (model) DO UPDATE SET last = ", seq, ".last + 1 WHERE ", seq, ".last < 9223372036854775807 ",
				"RETURNING last")
			var n int64
			if err := queryRow(ctx, o.q, []any{&n}, b.String(), b.args...); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return nil, fmt.Errorf("sqlstore: %s: no integer id left after %d", m.name, int64(math.MaxInt64))
				}
				return nil, err
			}
			k = key{n: n}
		}
		b := m.s.stmt()
		b.add("INSERT INTO ", m.s.names.records, " (model, kind, iid, sid, doc) VALUES (",
			b.arg(model), ", ", b.arg(k.kind()), ", ", b.arg(k.n), ", ", b.arg(m.s.text(k.s)), ", ", m.s.jsonParam(b, doc),
			") ON CONFLICT DO NOTHING")
		res, err := o.q.ExecContext(ctx, b.String(), b.args...)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n == 1 {
			return k.id(), nil
		}
		if given {
			return nil, takenError(m.name, k.id())
		}
	}
	return nil, fmt.Errorf("sqlstore: %s: could not assign an id", m.name)
}

// where appends the condition that selects the record with key k.
func (m docModel) where(b *stmt, k key) {
	b.add(" WHERE model = ", b.arg(m.s.text(m.name)), " AND kind = ", b.arg(k.kind()),
		" AND iid = ", b.arg(k.n), " AND sid = ", b.arg(m.s.text(k.s)))
}

func (m docModel) write(ctx context.Context, o on, id webhook.ID, values webhook.Record) error {
	k, ok := keyOf(id)
	if !ok {
		return notFound(m.name, id)
	}
	fields, err := writeFields(m.name, k, values)
	if err != nil {
		return err
	}
	patch, err := encodeFields(m.name, fields, m.s.pg)
	if err != nil {
		return err
	}
	if len(fields) == 0 {
		b := m.s.stmt()
		b.add("SELECT 1 FROM ", m.s.names.records)
		m.where(b, k)
		var one int
		if err := queryRow(ctx, o.q, []any{&one}, b.String(), b.args...); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound(m.name, k.id())
			}
			return err
		}
		return nil
	}
	b := m.s.stmt()
	if m.s.pg {
		// jsonb's || replaces the top-level keys it is given and keeps
		// the others: a Write in one statement.
		b.add("UPDATE ", m.s.names.records, " SET doc = doc || ", m.s.jsonParam(b, patch))
		m.where(b, k)
	} else {
		// SQLite's json_patch would drop fields set to null, so merge in
		// Go; the transaction holds SQLite's write lock already.
		sel := m.s.stmt()
		sel.add("SELECT doc FROM ", m.s.names.records)
		m.where(sel, k)
		var doc []byte
		if err := queryRow(ctx, o.q, []any{&doc}, sel.String(), sel.args...); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound(m.name, k.id())
			}
			return err
		}
		merged, err := mergeObjects(doc, patch)
		if err != nil {
			return fmt.Errorf("sqlstore: %s record %v: %w", m.name, k.id(), err)
		}
		b.add("UPDATE ", m.s.names.records, " SET doc = ", b.arg(merged))
		m.where(b, k)
	}
	res, err := o.q.ExecContext(ctx, b.String(), b.args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(m.name, k.id())
	}
	return nil
}

// mergeObjects returns the JSON object doc with the members of patch set,
// keeping the text of the other members as it is.
func mergeObjects(doc []byte, patch string) (string, error) {
	var old, add map[string]json.RawMessage
	if err := json.Unmarshal(doc, &old); err != nil {
		return "", err
	}
	if err := json.Unmarshal([]byte(patch), &add); err != nil {
		return "", err
	}
	if old == nil {
		old = make(map[string]json.RawMessage, len(add))
	}
	for k, v := range add {
		old[k] = v
	}
	keys := make([]string, 0, len(old))
	size := 2
	for k, v := range old {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	slices.Sort(keys)
	out := make([]byte, 0, size)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, k)
		out = append(out, ':')
		out = append(out, old[k]...)
	}
	return string(append(out, '}')), nil
}

func (m docModel) search(ctx context.Context, o on, conds []cond, limit int) ([]webhook.Record, error) {
	b := m.s.stmt()
	b.add("SELECT kind, iid, sid, doc FROM ", m.s.names.records, " WHERE model = ", b.arg(m.s.text(m.name)))
	var docConds []cond
	for _, c := range conds {
		if c.field != "id" {
			docConds = append(docConds, c)
			continue
		}
		k, ok := idCond(c.value)
		if !ok {
			return nil, nil
		}
		b.add(" AND kind = ", b.arg(k.kind()), " AND iid = ", b.arg(k.n), " AND sid = ", b.arg(m.s.text(k.s)))
	}
	m.s.narrow(b, "doc", docConds)
	b.add(" ORDER BY kind, iid, sid", m.s.lock(o))
	var out []webhook.Record
	err := m.query(ctx, o, b, func(_ key, rec webhook.Record) bool {
		if matches(rec, conds) {
			out = append(out, rec)
		}
		return limit <= 0 || len(out) < limit
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// narrow appends SQL conditions on the JSON object in column col that every
// record matching conds satisfies. They may let through records that do not
// match (matches decides), but never hold back one that does.
func (s *Store) narrow(b *stmt, col string, conds []cond) {
	if s.pg {
		// Containment finds every document whose fields equal the
		// filter's (and some more, for lists), comparing numbers by
		// value as the filter does.
		obj := make(map[string]any, len(conds))
		for _, c := range conds {
			if c.value != nil { // a missing field equals nil too
				obj[c.field] = c.value
			}
		}
		if len(obj) == 0 {
			return
		}
		doc, err := encodeJSON(obj, true)
		if err != nil {
			return
		}
		b.add(" AND ", col, " @> ", s.jsonParam(b, doc))
		return
	}
	for _, c := range conds {
		if c.value == nil || strings.IndexByte(c.field, 0) >= 0 {
			continue // a missing field equals nil too
		}
		// Placeholders are positional on SQLite: the key's comes first.
		b.add(" AND EXISTS (SELECT 1 FROM json_each(", col, ") WHERE key = ", b.arg(c.field), " AND ")
		switch v := c.value.(type) {
		case bool:
			if v {
				b.add("type = 'true'")
			} else {
				b.add("type = 'false'")
			}
		case int64, float64:
			b.add("type IN ('integer', 'real') AND atom = ", b.arg(v))
		case string:
			b.add("type = 'text'")
			if strings.IndexByte(v, 0) < 0 {
				b.add(" AND atom = ", b.arg(v))
			}
		case []any:
			b.add("type = 'array'")
		default:
			b.add("type = 'object'")
		}
		b.add(")")
	}
}
