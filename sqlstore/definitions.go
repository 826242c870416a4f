package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	webhook "github.com/hookline/webhook"
)

// Definitions are kept as their JSON, one row per name.

// SaveDefinition implements webhook.DefinitionStore.
func (s *Store) SaveDefinition(ctx context.Context, d webhook.Definition) error {
	if err := ctx.Err(); err != nil {
		return s.wrap(err)
	}
	text, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("sqlstore: SaveDefinition %q: %w", d.Name, err)
	}
	return s.inTx(ctx, func(o on) error {
		b := s.stmt()
		b.add("INSERT INTO ", s.names.definitions, " (name, definition) VALUES (", b.arg(s.text(d.Name)), ", ", b.arg(string(text)),
			") ON CONFLICT (name) DO UPDATE SET definition = excluded.definition")
		_, err := o.q.ExecContext(ctx, b.String(), b.args...)
		return err
	})
}

// DeleteDefinition implements webhook.DefinitionStore.
func (s *Store) DeleteDefinition(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return s.wrap(err)
	}
	return s.inTx(ctx, func(o on) error {
		b := s.stmt()
		b.add("DELETE FROM ", s.names.definitions, " WHERE name = ", b.arg(s.text(name)))
		_, err := o.q.ExecContext(ctx, b.String(), b.args...)
		return err
	})
}

// Definitions implements webhook.DefinitionStore.
func (s *Store) Definitions(ctx context.Context) ([]webhook.Definition, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(err)
	}
	var out []webhook.Definition
	err := s.read(ctx, func() error {
		out = out[:0]
		rows, err := s.db.QueryContext(ctx, "SELECT definition FROM "+s.names.definitions)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var text []byte
			if err := rows.Scan(&text); err != nil {
				return err
			}
			var d webhook.Definition
			if err := json.Unmarshal(text, &d); err != nil {
				return fmt.Errorf("sqlstore: reading a definition: %w", err)
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.wrap(err)
	}
	slices.SortFunc(out, func(a, b webhook.Definition) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
