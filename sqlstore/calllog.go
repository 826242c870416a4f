package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	webhook "github.com/hookline/webhook"
)

// The call log is one row per call: the webhook's name and the call's id
// and start time as columns, the payload byte for byte as a BLOB (BYTEA),
// and everything else as the JSON of webhook.Call. Entries are numbered in
// the order they were appended, and "newest first" means that order, as
// for webhook.MemoryCallLog.

// Append implements webhook.CallLog. It stores c, then drops the entries of
// c's webhook beyond Config.KeepCalls and, at most once a minute, those
// older than Config.MaxCallAge.
//
// The payload is kept byte for byte; the other strings of a call are kept as
// JSON text, in which bytes that are not UTF-8 read back as U+FFFD.
func (s *Store) Append(ctx context.Context, c *webhook.Call) error {
	if c == nil {
		return errors.New("sqlstore: Append: nil call")
	}
	if err := ctx.Err(); err != nil {
		return s.wrap(err)
	}
	entry := *c
	entry.Payload = ""
	text, err := json.Marshal(&entry)
	if err != nil {
		return fmt.Errorf("sqlstore: Append: %w", err)
	}
	var payload []byte
	if c.Payload != "" {
		payload = []byte(c.Payload)
	}
	var ns int64
	if !c.Time.IsZero() {
		ns = c.Time.UnixNano()
	}
	hook := s.text(c.Webhook)
	return s.inTx(ctx, func(o on) error {
		b := s.stmt()
		b.add("INSERT INTO ", s.names.calls, " (id, webhook, time_ns, payload, entry) VALUES (",
			b.arg(s.text(c.ID)), ", ", b.arg(hook), ", ", b.arg(ns), ", ", b.arg(payload), ", ", b.arg(string(text)), ")")
		if _, err := o.q.ExecContext(ctx, b.String(), b.args...); err != nil {
			return err
		}
		if s.keepCalls > 0 {
			b := s.stmt()
			b.add("DELETE FROM ", s.names.calls, " WHERE webhook = ", b.arg(hook), " AND seq <= (SELECT seq FROM ",
				s.names.calls, " WHERE webhook = ", b.arg(hook), " ORDER BY seq DESC LIMIT 1 OFFSET ", b.arg(s.keepCalls), ")")
			if _, err := o.q.ExecContext(ctx, b.String(), b.args...); err != nil {
				return err
			}
		}
		if age := s.cfg.MaxCallAge; age > 0 {
			if now := time.Now(); purgeDue(&s.lastPurge, now) {
				b := s.stmt()
				b.add("DELETE FROM ", s.names.calls, " WHERE time_ns < ", b.arg(now.Add(-age).UnixNano()))
				if _, err := o.q.ExecContext(ctx, b.String(), b.args...); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Calls implements webhook.CallLog: the entries that match q, newest
// first, at most q.Limit of them (100 when q.Limit <= 0).
func (s *Store) Calls(ctx context.Context, q webhook.CallQuery) ([]webhook.Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	b := s.stmt()
	b.add("SELECT entry, payload FROM ", s.names.calls)
	if q.Webhook != "" {
		b.add(" WHERE webhook = ", b.arg(s.text(q.Webhook)))
	}
	b.add(" ORDER BY seq DESC LIMIT ", b.arg(limit))
	var out []webhook.Call
	err := s.read(ctx, func() error {
		out = out[:0]
		rows, err := s.db.QueryContext(ctx, b.String(), b.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var entry, payload []byte
			if err := rows.Scan(&entry, &payload); err != nil {
				return err
			}
			c, err := decodeCall(entry)
			if err != nil {
				return err
			}
			c.Payload = string(payload)
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.wrap(err)
	}
	return out, nil
}

// decodeCall reads a call's JSON, keeping integer ids int64.
func decodeCall(entry []byte) (webhook.Call, error) {
	var c webhook.Call
	dec := json.NewDecoder(bytes.NewReader(entry))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("sqlstore: reading a call-log entry: %w", err)
	}
	for i := range c.Touched {
		for j, id := range c.Touched[i].IDs {
			if n, err := webhook.NormalizeID(id); err == nil {
				c.Touched[i].IDs[j] = n
			}
		}
	}
	return c, nil
}
