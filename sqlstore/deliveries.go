package sqlstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	webhook "github.com/hookline/webhook"
)

// Delivery claims are rows of the deliveries table keyed by webhook and
// delivery key, with the time the claim expires. A claim is one upsert that
// takes the row only when the claim in it has expired: on PostgreSQL a
// second transaction claiming the same key waits for the first (the
// unique index makes it) and then sees its claim; on SQLite transactions
// take turns anyway.

var (
	_ webhook.DeliveryClaimer = (*Store)(nil)
	_ webhook.DeliveryClaimer = (*Tx)(nil)
)

// ClaimDelivery implements webhook.DeliveryClaimer: it records at once that
// hook ran the delivery key, until expires, or returns an error matching
// webhook.ErrDuplicate when an unexpired claim exists.
func (s *Store) ClaimDelivery(ctx context.Context, hook, key string, now, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return s.wrap(err)
	}
	return s.inTx(ctx, func(o on) error { return s.claim(ctx, o, hook, key, now, expires) })
}

// ClaimDelivery implements webhook.DeliveryClaimer inside the transaction:
// the claim is visible to others from Commit on and vanishes on Rollback;
// a concurrent claim of the same key waits for this transaction to end.
func (t *Tx) ClaimDelivery(ctx context.Context, hook, key string, now, expires time.Time) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return t.s.wrap(t.s.claim(ctx, t.on(), hook, key, now, expires))
}

func (s *Store) claim(ctx context.Context, o on, hook, key string, now, expires time.Time) error {
	d := s.names.deliveries
	b := s.stmt()
	b.add("INSERT INTO ", d, " (webhook, delivery, expires_ns) VALUES (", b.arg(s.text(hook)), ", ", b.arg(s.text(key)), ", ", b.arg(expires.UnixNano()), ")",
		" ON CONFLICT (webhook, delivery) DO UPDATE SET expires_ns = excluded.expires_ns WHERE ", d, ".expires_ns <= ", b.arg(now.UnixNano()))
	res, err := o.q.ExecContext(ctx, b.String(), b.args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %w: delivery %q of webhook %q", webhook.ErrDuplicate, key, hook)
	}
	if purgeDue(&s.lastClaimPurge, now) {
		b := s.stmt()
		b.add("DELETE FROM ", d, " WHERE expires_ns <= ", b.arg(now.UnixNano()))
		if _, err := o.q.ExecContext(ctx, b.String(), b.args...); err != nil {
			return err
		}
	}
	return nil
}

// purgeDue reports, to one caller a minute, that it is time to purge.
func purgeDue(last *atomic.Int64, now time.Time) bool {
	l := last.Load()
	return now.UnixNano()-l >= int64(time.Minute) && last.CompareAndSwap(l, now.UnixNano())
}
