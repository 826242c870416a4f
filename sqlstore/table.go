package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	webhook "github.com/hookline/webhook"
)

// category says how values of a column are written and read.
type category int

const (
	catPlain   category = iota // SQLite: stored as given
	catBool                    // SQLite BOOL… declared type, PostgreSQL boolean
	catJSON                    // SQLite …JSON… declared type, PostgreSQL json
	catJSONB                   // PostgreSQL jsonb
	catDate                    // SQLite DATE, DATETIME, TIME, TIMESTAMP: read as stored
	catInt                     // PostgreSQL smallint, integer, bigint
	catFloat                   // PostgreSQL real, double precision
	catNumeric                 // PostgreSQL numeric
	catText                    // PostgreSQL text, varchar, char, name
	catOther                   // PostgreSQL anything else: written through a cast from text, read through to_json
)

// column is one column of a mapped table, as found at Open.
type column struct {
	name   string
	q      string // quoted
	cat    category
	typ    string // SQLite: declared type; PostgreSQL: format_type
	bits   int    // PostgreSQL integers: 16, 32 or 64
	maxLen int    // PostgreSQL varchar(n) and char(n): n; else 0
}

// table is a model mapped to a table.
type table struct {
	s       *Store
	model   string
	q       string // quoted, qualified name
	key     *column
	keyType KeyType
	fields  map[string]*column // field name -> column
	extra   *column            // nil without Table.Extra

	// How an Integer key is assigned when Create gets no id.
	rowid          bool   // SQLite: the key is the rowid, assigned on insert
	hasDefault     bool   // PostgreSQL: the key has a default (serial, identity)
	identityAlways bool   // PostgreSQL: GENERATED ALWAYS AS IDENTITY
	seq            string // PostgreSQL: the sequence behind the key, if any

	selectList string // key, then fields in order, then extra
	order      []string
}

// introspect checks t against the database and returns the model's table.
func (s *Store) introspect(ctx context.Context, model string, t Table) (*table, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("sqlstore: Open: model %q, table %q: %s", model, t.Name, fmt.Sprintf(format, args...))
	}
	if t.Name == "" {
		return nil, fmt.Errorf("sqlstore: Open: model %q: Table.Name is empty", model)
	}
	if t.Key == "" {
		t.Key = "id"
	}
	if t.KeyType != Integer && t.KeyType != Text {
		return nil, fail("unknown KeyType %d", t.KeyType)
	}
	for _, n := range []string{t.Name, t.Schema, t.Key, t.Extra} {
		if strings.IndexByte(n, 0) >= 0 {
			return nil, fail("a name holds a NUL byte")
		}
	}
	tbl := &table{s: s, model: model, keyType: t.KeyType, q: quote(t.Name)}
	if t.Schema != "" {
		tbl.q = quote(t.Schema) + "." + quote(t.Name)
	}
	var cols []*column
	var err error
	if s.pg {
		cols, err = tbl.pgColumns(ctx, t)
	} else {
		cols, err = tbl.sqliteColumns(ctx, t)
	}
	if err != nil {
		return nil, fail("%v", err)
	}
	if len(cols) == 0 {
		return nil, fail("no such table")
	}
	byName := make(map[string]*column, len(cols))
	for _, c := range cols {
		byName[c.name] = c
	}
	tbl.key = byName[t.Key]
	if tbl.key == nil {
		return nil, fail("no key column %q", t.Key)
	}
	if s.pg {
		switch {
		case t.KeyType == Integer && tbl.key.cat != catInt:
			return nil, fail("key column %q is %s, not an integer type (set KeyType: Text?)", t.Key, tbl.key.typ)
		case t.KeyType == Text && tbl.key.cat != catText:
			return nil, fail("key column %q is %s, not a text type", t.Key, tbl.key.typ)
		}
	}
	if t.Extra != "" {
		tbl.extra = byName[t.Extra]
		if tbl.extra == nil {
			return nil, fail("no extra column %q", t.Extra)
		}
		if s.pg && tbl.extra.cat != catJSONB {
			return nil, fail("extra column %q is %s, not jsonb", t.Extra, tbl.extra.typ)
		}
		if t.Extra == t.Key {
			return nil, fail("the extra column is the key column")
		}
	}
	tbl.fields = make(map[string]*column)
	if t.Columns == nil {
		for _, c := range cols {
			if c == tbl.key || c == tbl.extra {
				continue
			}
			if c.name == "id" {
				return nil, fail(`column "id" is not the key; map the columns with Table.Columns`)
			}
			tbl.fields[c.name] = c
		}
	} else {
		for f, name := range t.Columns {
			c := byName[name]
			switch {
			case c == nil:
				return nil, fail("field %q: no column %q", f, name)
			case f == "id":
				return nil, fail(`the field "id" is the key; leave it out of Columns`)
			case c == tbl.key:
				return nil, fail("field %q: column %q is the key", f, name)
			case c == tbl.extra:
				return nil, fail("field %q: column %q is the extra column", f, name)
			}
			tbl.fields[f] = c
		}
	}
	tbl.order = make([]string, 0, len(tbl.fields))
	for f := range tbl.fields {
		tbl.order = append(tbl.order, f)
	}
	slices.Sort(tbl.order)
	exprs := []string{tbl.key.q}
	for _, f := range tbl.order {
		exprs = append(exprs, s.selectExpr(tbl.fields[f]))
	}
	if tbl.extra != nil {
		exprs = append(exprs, s.selectExpr(tbl.extra))
	}
	tbl.selectList = strings.Join(exprs, ", ")
	return tbl, nil
}

// selectExpr is how a column is read: as what the driver returns for it
// when that is JSON-shaped, else as text to convert.
func (s *Store) selectExpr(c *column) string {
	switch c.cat {
	case catDate:
		// An expression has no declared type, so the driver does not
		// turn the stored text into a time.Time.
		return "coalesce(" + c.q + ", NULL)"
	case catNumeric, catJSON, catJSONB:
		return "CAST(" + c.q + " AS text)"
	case catOther:
		return "CAST(to_json(" + c.q + ") AS text)"
	}
	return c.q
}

func (t *table) sqliteColumns(ctx context.Context, tt Table) ([]*column, error) {
	schema := tt.Schema
	if schema == "" {
		schema = "main"
	}
	rows, err := t.s.db.QueryContext(ctx, "SELECT name, type, pk FROM pragma_table_info(?, ?) ORDER BY cid", tt.Name, schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []*column
	pks := 0
	keyPK := false
	for rows.Next() {
		var name, typ string
		var pk int
		if err := rows.Scan(&name, &typ, &pk); err != nil {
			return nil, err
		}
		c := &column{name: name, q: quote(name), typ: typ}
		u := strings.ToUpper(typ)
		switch {
		case strings.Contains(u, "BOOL"):
			c.cat = catBool
		case strings.Contains(u, "JSON"):
			c.cat = catJSON
		case u == "DATE" || u == "DATETIME" || u == "TIME" || u == "TIMESTAMP":
			c.cat = catDate
		}
		if pk > 0 {
			pks++
			keyPK = keyPK || name == tt.Key
		}
		if name == tt.Key && pk > 0 && u == "INTEGER" {
			t.rowid = true
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, nil
	}
	if pks != 1 {
		keyPK, t.rowid = false, false
	}
	if t.rowid {
		var wr int
		err := t.s.db.QueryRowContext(ctx, "SELECT wr FROM pragma_table_list WHERE schema = ? AND name = ?", schema, tt.Name).Scan(&wr)
		if err != nil {
			return nil, err
		}
		t.rowid = wr == 0
	}
	if !keyPK {
		var n int
		err := t.s.db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_index_list(?1, ?2) AS il
			WHERE il."unique" = 1 AND il.partial = 0
			AND (SELECT count(*) FROM pragma_index_info(il.name, ?2)) = 1
			AND (SELECT name FROM pragma_index_info(il.name, ?2)) = ?3`, tt.Name, schema, tt.Key).Scan(&n)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("key column %q is neither the primary key nor alone in a unique index", tt.Key)
		}
	}
	return cols, nil
}

func (t *table) pgColumns(ctx context.Context, tt Table) ([]*column, error) {
	var exists bool
	if err := t.s.db.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", t.q).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return nil, nil
	}
	rows, err := t.s.db.QueryContext(ctx, `SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), ty.typname::text,
			a.atttypmod, a.atthasdef, a.attidentity::text
		FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, t.q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []*column
	for rows.Next() {
		var name, typ, typname, identity string
		var typmod int64
		var hasDef bool
		if err := rows.Scan(&name, &typ, &typname, &typmod, &hasDef, &identity); err != nil {
			return nil, err
		}
		c := &column{name: name, q: quote(name), typ: typ}
		switch typname {
		case "int2":
			c.cat, c.bits = catInt, 16
		case "int4":
			c.cat, c.bits = catInt, 32
		case "int8":
			c.cat, c.bits = catInt, 64
		case "float4", "float8":
			c.cat = catFloat
		case "numeric":
			c.cat = catNumeric
		case "bool":
			c.cat = catBool
		case "text", "name":
			c.cat = catText
		case "varchar", "bpchar":
			c.cat = catText
			if typmod > 4 {
				c.maxLen = int(typmod - 4)
			}
		case "json":
			c.cat = catJSON
		case "jsonb":
			c.cat = catJSONB
		default:
			c.cat = catOther
		}
		if name == tt.Key {
			t.hasDefault = hasDef || identity != ""
			t.identityAlways = identity == "a"
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var unique bool
	err = t.s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
			WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnkeyatts = 1
			AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = $2)`, t.q, tt.Key).Scan(&unique)
	if err != nil {
		return nil, err
	}
	if !unique && slices.ContainsFunc(cols, func(c *column) bool { return c.name == tt.Key }) {
		return nil, fmt.Errorf("key column %q is neither the primary key nor alone in a unique index", tt.Key)
	}
	var seq sql.NullString
	if err := t.s.db.QueryRowContext(ctx, "SELECT pg_get_serial_sequence($1, $2)", t.q, tt.Key).Scan(&seq); err == nil {
		t.seq = seq.String
	}
	return cols, nil
}

// keyFor returns the key of id in this table; ok is false when no record
// can have it.
func (t *table) keyFor(id webhook.ID) (key, bool) {
	k, ok := keyOf(id)
	if !ok || k.str != (t.keyType == Text) {
		return key{}, false
	}
	if k.str && t.s.pg && strings.IndexByte(k.s, 0) >= 0 {
		return key{}, false
	}
	return k, true
}

func (t *table) keyArg(b *stmt, k key) string {
	if k.str {
		return b.arg(k.s)
	}
	return b.arg(k.n)
}

// orderBy orders rows by id, text ids by byte order.
func (t *table) orderBy() string {
	if t.keyType == Text && t.s.pg {
		return " ORDER BY " + t.key.q + ` COLLATE "C"`
	}
	return " ORDER BY " + t.key.q
}

// query runs a statement that selects selectList, calling f with each
// record until f returns false.
func (t *table) query(ctx context.Context, o on, b *stmt, f func(key, webhook.Record) bool) error {
	rows, err := o.q.QueryContext(ctx, b.String(), b.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 1 + len(t.order)
	if t.extra != nil {
		n++
	}
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		k, err := t.keyFrom(vals[0])
		if err != nil {
			return err
		}
		rec := make(webhook.Record, n)
		for i, f := range t.order {
			v, err := t.s.fromColumn(t.fields[f], vals[1+i])
			if err != nil {
				return fmt.Errorf("sqlstore: %s record %v, field %q: %w", t.model, k.id(), f, err)
			}
			rec[f] = v
		}
		if t.extra != nil {
			if raw, ok := textOf(vals[n-1]); ok {
				extra, err := decodeObject(raw, t.s.pg)
				if err != nil {
					return fmt.Errorf("sqlstore: %s record %v, column %q: %w", t.model, k.id(), t.extra.name, err)
				}
				for f, v := range extra {
					if _, isColumn := t.fields[f]; !isColumn && f != "id" {
						rec[f] = v
					}
				}
			}
		}
		rec["id"] = k.id()
		if !f(k, rec) {
			return rows.Close()
		}
	}
	return rows.Err()
}

func (t *table) keyFrom(v any) (key, error) {
	switch x := v.(type) {
	case int64:
		if t.keyType == Text {
			return key{s: strconv.FormatInt(x, 10), str: true}, nil
		}
		return key{n: x}, nil
	case string:
		if t.keyType == Text {
			return key{s: x, str: true}, nil
		}
	case []byte:
		if t.keyType == Text {
			return key{s: string(x), str: true}, nil
		}
	}
	return key{}, fmt.Errorf("sqlstore: %s: key column %q holds %T %v", t.model, t.key.name, v, v)
}

// textOf returns the bytes of a text value; ok is false for NULL.
func textOf(v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return []byte(x), true
	case []byte:
		return x, true
	}
	return nil, false
}

// fromColumn converts what the driver returned for a column (as selected by
// selectExpr) to a record value.
func (s *Store) fromColumn(c *column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.cat {
	case catJSON, catJSONB, catOther:
		raw, ok := textOf(v)
		if !ok {
			break
		}
		d, err := decodeJSON(raw, false)
		if err != nil {
			if c.cat == catJSON && !s.pg {
				return string(raw), nil // SQLite: not JSON after all
			}
			return nil, err
		}
		return d, nil
	case catNumeric:
		raw, ok := textOf(v)
		if !ok {
			break
		}
		if n, err := number(string(raw)); err == nil {
			return n, nil
		}
		return string(raw), nil // NaN, Infinity
	case catBool:
		if n, ok := v.(int64); ok && (n == 0 || n == 1) {
			return n == 1, nil
		}
	}
	switch x := v.(type) {
	case []byte:
		return string(x), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case float32:
		return float64(x), nil
	}
	return v, nil
}

// bind adds the argument that writes v to column c and returns its SQL
// expression. risky reports an expression the database may refuse for the
// value (a cast), which would end a PostgreSQL transaction.
func (t *table) bind(b *stmt, c *column, field string, v any) (expr string, risky bool, err error) {
	v, err = normalize(v)
	if err != nil {
		return "", false, fieldError(t.model, field, err)
	}
	bad := func(want string) (string, bool, error) {
		return "", false, &webhook.FieldError{Model: t.model, Field: field,
			Reason: fmt.Sprintf("column %q is %s: want %s, not %T", c.name, c.typ, want, v)}
	}
	if v == nil {
		return b.arg(nil), false, nil
	}
	if !t.s.pg {
		switch x := v.(type) {
		case []any, map[string]any:
			doc, err := encodeJSON(x, false)
			if err != nil {
				return "", false, fieldError(t.model, field, err)
			}
			return b.arg(doc), false, nil
		}
		if c.cat == catJSON {
			doc, _ := encodeJSON(v, false)
			return b.arg(doc), false, nil
		}
		return b.arg(v), false, nil
	}
	cast := func(text string) (string, bool, error) {
		if strings.IndexByte(text, 0) >= 0 {
			return "", false, &webhook.FieldError{Model: t.model, Field: field,
				Reason: fmt.Sprintf("column %q is %s, which cannot hold a NUL byte", c.name, c.typ)}
		}
		return "CAST(CAST(" + b.arg(text) + " AS text) AS " + c.typ + ")", true, nil
	}
	switch c.cat {
	case catInt:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case float64:
			if x != math.Trunc(x) || x < -(1<<63) || x >= 1<<63 {
				return bad("an integer")
			}
			n = int64(x)
		default:
			return bad("an integer")
		}
		if c.bits < 64 && (n < -(1<<(c.bits-1)) || n >= 1<<(c.bits-1)) {
			return "", false, &webhook.FieldError{Model: t.model, Field: field,
				Reason: fmt.Sprintf("%d is out of range for column %q (%s)", n, c.name, c.typ)}
		}
		return b.arg(n), false, nil
	case catFloat:
		switch x := v.(type) {
		case int64:
			return b.arg(float64(x)), false, nil
		case float64:
			return b.arg(x), false, nil
		}
		return bad("a number")
	case catNumeric:
		switch x := v.(type) {
		case int64:
			return cast(strconv.FormatInt(x, 10))
		case float64:
			return cast(strconv.FormatFloat(x, 'g', -1, 64))
		}
		return bad("a number")
	case catBool:
		if _, ok := v.(bool); ok {
			return b.arg(v), false, nil
		}
		return bad("a boolean")
	case catText:
		x, ok := v.(string)
		if !ok {
			return bad("a string")
		}
		if strings.IndexByte(x, 0) >= 0 {
			return "", false, &webhook.FieldError{Model: t.model, Field: field,
				Reason: fmt.Sprintf("column %q is %s, which cannot hold a NUL byte", c.name, c.typ)}
		}
		if c.maxLen > 0 && utf8.RuneCountInString(x) > c.maxLen {
			return "", false, &webhook.FieldError{Model: t.model, Field: field,
				Reason: fmt.Sprintf("%d characters do not fit column %q (%s)", utf8.RuneCountInString(x), c.name, c.typ)}
		}
		return b.arg(x), false, nil
	case catJSON, catJSONB:
		doc, err := encodeJSON(v, false)
		if err != nil {
			return "", false, fieldError(t.model, field, err)
		}
		if c.cat == catJSONB && strings.Contains(doc, `\u0000`) {
			return "", false, &webhook.FieldError{Model: t.model, Field: field,
				Reason: fmt.Sprintf("column %q is jsonb, which cannot hold a NUL byte", c.name)}
		}
		expr, _, err := cast(doc)
		return expr, false, err
	}
	// catOther: the column's own input syntax, from text.
	switch x := v.(type) {
	case string:
		return cast(x)
	case bool:
		return cast(strconv.FormatBool(x))
	case int64:
		return cast(strconv.FormatInt(x, 10))
	case float64:
		return cast(strconv.FormatFloat(x, 'g', -1, 64))
	}
	doc, err := encodeJSON(v, false)
	if err != nil {
		return "", false, fieldError(t.model, field, err)
	}
	return cast(doc)
}

// assignment is a column and the SQL expression that writes its new value.
type assignment struct {
	col  *column
	expr string
}

// split binds the fields of values to columns, in a stable order, and
// returns those without a column of their own, refusing them when the table
// has no extra column.
func (t *table) split(b *stmt, values map[string]any) (sets []assignment, extra map[string]any, risky bool, err error) {
	// A Write sets few fields: sort their names on the stack.
	var buf [8]string
	names := buf[:0]
	for f := range values {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		c, ok := t.fields[f]
		if !ok {
			if t.extra == nil {
				return nil, nil, false, &webhook.FieldError{Model: t.model, Field: f}
			}
			if extra == nil {
				extra = make(map[string]any)
			}
			extra[f] = values[f]
			continue
		}
		expr, r, err := t.bind(b, c, f, values[f])
		if err != nil {
			return nil, nil, false, err
		}
		sets = append(sets, assignment{c, expr})
		risky = risky || r
	}
	return sets, extra, risky, nil
}

// guarded runs f; in a PostgreSQL transaction, when risky, inside a
// savepoint, so that a value the database refuses fails the operation but
// not the transaction.
func (t *table) guarded(ctx context.Context, o on, risky bool, f func() error) error {
	if !risky || !o.tx || !t.s.pg {
		return f()
	}
	if _, err := o.q.ExecContext(ctx, "SAVEPOINT sqlstore_write"); err != nil {
		return err
	}
	if err := f(); err != nil {
		if _, rerr := o.q.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sqlstore_write"); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	_, err := o.q.ExecContext(ctx, "RELEASE SAVEPOINT sqlstore_write")
	return err
}

func (t *table) browse(ctx context.Context, o on, ids []webhook.ID) ([]webhook.Record, error) {
	return browseIDs(t.model, ids, t.keyFor, func(chunk []key, found map[key]webhook.Record) error {
		b := t.s.stmt()
		b.add("SELECT ", t.selectList, " FROM ", t.q, " WHERE ", t.key.q, " IN (")
		for i, k := range chunk {
			if i > 0 {
				b.add(", ")
			}
			b.add(t.keyArg(b, k))
		}
		b.add(")")
		if lock := t.s.lock(o); lock != "" {
			b.add(t.orderBy(), lock)
		}
		return t.query(ctx, o, b, func(k key, rec webhook.Record) bool {
			found[k] = rec
			return true
		})
	})
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}

func (t *table) create(ctx context.Context, o on, values webhook.Record) (webhook.ID, error) {
	fields, k, given, err := splitID(t.model, values)
	if err != nil {
		return nil, err
	}
	if given {
		if k.str != (t.keyType == Text) {
			want := "an integer"
			if t.keyType == Text {
				want = "a string"
			}
			return nil, &webhook.FieldError{Model: t.model, Field: "id", Reason: fmt.Sprintf("id %#v: the table's ids are %s", k.id(), want)}
		}
		if k.str && t.s.pg && strings.IndexByte(k.s, 0) >= 0 {
			return nil, &webhook.FieldError{Model: t.model, Field: "id", Reason: "a text key cannot hold a NUL byte"}
		}
	}
	if !given && t.keyType == Integer && t.s.pg && !t.hasDefault {
		return nil, &webhook.FieldError{Model: t.model, Field: "id",
			Reason: fmt.Sprintf("key column %q has no default: give the id", t.key.name)}
	}
	for range 100 {
		id, done, err := t.insert(ctx, o, fields, k, given)
		if err != nil || done {
			return id, err
		}
		if given {
			return nil, takenError(t.model, k.id())
		}
		// An assigned id was taken by a record created with that id:
		// take the next one.
	}
	return nil, fmt.Errorf("sqlstore: %s: could not assign an id", t.model)
}

// insert runs one INSERT; done is false when the id was taken.
func (t *table) insert(ctx context.Context, o on, fields map[string]any, k key, given bool) (id webhook.ID, done bool, err error) {
	b := t.s.stmt()
	var cols, exprs []string
	var keyExpr string
	switch {
	case given:
	case t.keyType == Text:
		k, given = key{s: newUUID(), str: true}, true
	case !t.s.pg && !t.rowid:
		// Writers take turns on SQLite, so the largest key stays the
		// largest until this transaction ends.
		var last sql.NullInt64
		if err := queryRow(ctx, o.q, []any{&last}, "SELECT max("+t.key.q+") FROM "+t.q); err != nil {
			return nil, false, err
		}
		if last.Int64 == math.MaxInt64 {
			return nil, false, fmt.Errorf("sqlstore: %s: no integer id left after %d", t.model, last.Int64)
		}
		k, given = key{n: max(last.Int64, 0) + 1}, true
	}
	if given {
		keyExpr = t.keyArg(b, k)
		cols, exprs = append(cols, t.key.q), append(exprs, keyExpr)
	}
	sets, extra, risky, err := t.split(b, fields)
	if err != nil {
		return nil, false, err
	}
	for _, a := range sets {
		cols, exprs = append(cols, a.col.q), append(exprs, a.expr)
	}
	if len(extra) > 0 {
		doc, err := encodeFields(t.model, extra, t.s.pg)
		if err != nil {
			return nil, false, err
		}
		cols, exprs = append(cols, t.extra.q), append(exprs, t.s.jsonParam(b, doc))
	}
	// The statement's text comes after its arguments were numbered.
	q := &strings.Builder{}
	q.WriteString("INSERT INTO " + t.q)
	if len(cols) == 0 {
		q.WriteString(" DEFAULT VALUES")
	} else {
		q.WriteString(" (" + strings.Join(cols, ", ") + ")")
		if given && t.identityAlways {
			q.WriteString(" OVERRIDING SYSTEM VALUE")
		}
		q.WriteString(" VALUES (" + strings.Join(exprs, ", ") + ")")
	}
	if t.s.pg || given {
		q.WriteString(" ON CONFLICT (" + t.key.q + ") DO NOTHING")
	}
	q.WriteString(" RETURNING " + t.key.q)
	var got any
	err = t.guarded(ctx, o, risky, func() error {
		return queryRow(ctx, o.q, []any{&got}, q.String(), b.args...)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	nk, err := t.keyFrom(got)
	if err != nil {
		return nil, false, err
	}
	if t.s.pg && t.seq != "" && keyExpr != "" && nk.n > 0 {
		// A sequence does not know about ids given to it; move it past
		// this one so that it does not assign it again. (setval is not
		// transactional: a rollback leaves a gap, no harm.)
		_, err := o.q.ExecContext(ctx, `SELECT setval(CAST($1 AS regclass), $2)
			WHERE $2 > coalesce(pg_sequence_last_value(CAST($1 AS regclass)), 0)`, t.seq, nk.n)
		if err != nil {
			return nil, false, err
		}
	}
	return nk.id(), true, nil
}

func (t *table) write(ctx context.Context, o on, id webhook.ID, values webhook.Record) error {
	k, ok := t.keyFor(id)
	if !ok {
		return notFound(t.model, id)
	}
	fields, err := writeFields(t.model, k, values)
	if err != nil {
		return err
	}
	b := t.s.stmt()
	sets, extra, risky, err := t.split(b, fields)
	if err != nil {
		return err
	}
	where := func(b *stmt) string { return " WHERE " + t.key.q + " = " + t.keyArg(b, k) }
	if len(sets) == 0 && len(extra) == 0 {
		sel := t.s.stmt()
		sel.add("SELECT 1 FROM ", t.q, where(sel))
		var one int
		if err := queryRow(ctx, o.q, []any{&one}, sel.String(), sel.args...); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound(t.model, k.id())
			}
			return err
		}
		return nil
	}
	// One builder for the statement rather than a string per assignment
	// joined: a Write runs once per call.
	var q strings.Builder
	q.Grow(len(t.q) + len(t.key.q) + 32*(len(sets)+1) + 32)
	q.WriteString("UPDATE ")
	q.WriteString(t.q)
	q.WriteString(" SET ")
	for i, a := range sets {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(a.col.q)
		q.WriteString(" = ")
		q.WriteString(a.expr)
	}
	if len(extra) > 0 {
		if len(sets) > 0 {
			q.WriteString(", ")
		}
		patch, err := encodeFields(t.model, extra, t.s.pg)
		if err != nil {
			return err
		}
		if t.s.pg {
			q.WriteString(t.extra.q + " = coalesce(" + t.extra.q + ", '{}'::jsonb) || " + t.s.jsonParam(b, patch))
		} else {
			sel := t.s.stmt()
			sel.add("SELECT ", t.extra.q, " FROM ", t.q, where(sel))
			var doc sql.NullString
			if err := queryRow(ctx, o.q, []any{&doc}, sel.String(), sel.args...); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return notFound(t.model, k.id())
				}
				return err
			}
			old := doc.String
			if !doc.Valid || old == "" {
				old = "{}"
			}
			merged, err := mergeObjects([]byte(old), patch)
			if err != nil {
				return fmt.Errorf("sqlstore: %s record %v, column %q: %w", t.model, k.id(), t.extra.name, err)
			}
			q.WriteString(t.extra.q + " = " + b.arg(merged))
		}
	}
	q.WriteString(" WHERE ")
	q.WriteString(t.key.q)
	q.WriteString(" = ")
	q.WriteString(t.keyArg(b, k))
	var n int64
	err = t.guarded(ctx, o, risky, func() error {
		res, err := o.q.ExecContext(ctx, q.String(), b.args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(t.model, k.id())
	}
	return nil
}

func (t *table) search(ctx context.Context, o on, conds []cond, limit int) ([]webhook.Record, error) {
	b := t.s.stmt()
	b.add("SELECT ", t.selectList, " FROM ", t.q, " WHERE TRUE")
	var extraConds []cond
	for _, c := range conds {
		if c.field == "id" {
			k, ok := idCond(c.value)
			if !ok || k.str != (t.keyType == Text) {
				return nil, nil
			}
			b.add(" AND ", t.key.q, " = ", t.keyArg(b, k))
			continue
		}
		col, ok := t.fields[c.field]
		if !ok {
			if t.extra != nil {
				extraConds = append(extraConds, c)
			} else if c.value != nil {
				return nil, nil // no record has the field, which equals nil only
			}
			continue
		}
		if !t.narrowColumn(b, col, c.value) {
			return nil, nil
		}
	}
	if t.extra != nil {
		t.s.narrow(b, t.extra.q, extraConds)
	}
	b.add(t.orderBy(), t.s.lock(o))
	var out []webhook.Record
	err := t.query(ctx, o, b, func(_ key, rec webhook.Record) bool {
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

// narrowColumn appends a condition on column c that every row whose value
// reads as equal to v satisfies; it returns false when no row can.
func (t *table) narrowColumn(b *stmt, c *column, v any) bool {
	if v == nil {
		b.add(" AND ", c.q, " IS NULL")
		return true
	}
	if !t.s.pg {
		switch x := v.(type) {
		case bool, int64, float64:
			if c.cat != catJSON {
				b.add(" AND ", c.q, " = ", b.arg(x))
			}
		case string:
			// A BLOB reads as a string but equals no text in SQL.
			if c.cat != catJSON && strings.IndexByte(x, 0) < 0 {
				b.add(" AND (", c.q, " = ", b.arg(x), " OR typeof(", c.q, ") = 'blob')")
			}
		}
		return true
	}
	switch c.cat {
	case catInt:
		k, ok := idCond(v)
		if !ok || k.str {
			return false
		}
		b.add(" AND ", c.q, " = ", b.arg(k.n))
	case catFloat, catNumeric:
		var f float64
		switch x := v.(type) {
		case int64:
			f = float64(x)
		case float64:
			f = x
		default:
			return false
		}
		// Compared as float8, which may let through a value that only
		// rounds to f; matches decides.
		b.add(" AND CAST(", c.q, " AS float8) = ", b.arg(f))
	case catBool:
		x, ok := v.(bool)
		if !ok {
			return false
		}
		b.add(" AND ", c.q, " = ", b.arg(x))
	case catText:
		x, ok := v.(string)
		if !ok || strings.IndexByte(x, 0) >= 0 {
			return false
		}
		b.add(" AND ", c.q, " = ", b.arg(x))
	case catJSONB:
		doc, err := encodeJSON(v, false)
		if err != nil || strings.Contains(doc, `\u0000`) {
			return false
		}
		b.add(" AND ", c.q, " = ", t.s.jsonParam(b, doc))
	}
	return true
}
