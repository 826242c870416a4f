package memstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
)

func TestDeliveryClaims(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)

	t.Run("a committed claim makes the same key a duplicate until it expires", func(t *testing.T) {
		s := New()
		tx, err := s.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.(webhook.DeliveryClaimer).ClaimDelivery(ctx, "h", "k", t0, t0.Add(time.Hour)))
		require.NoError(t, tx.Commit())
		assert.ErrorIs(t, s.ClaimDelivery(ctx, "h", "k", t0.Add(time.Minute), t0.Add(2*time.Hour)), webhook.ErrDuplicate)
		assert.NoError(t, s.ClaimDelivery(ctx, "other", "k", t0, t0.Add(time.Hour)), "keys are per webhook")
		assert.NoError(t, s.ClaimDelivery(ctx, "h", "k", t0.Add(time.Hour), t0.Add(2*time.Hour)), "an expired claim is forgotten")
	})
	t.Run("a rolled-back claim is forgotten", func(t *testing.T) {
		s := New()
		tx, err := s.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.(webhook.DeliveryClaimer).ClaimDelivery(ctx, "h", "k", t0, t0.Add(time.Hour)))
		require.NoError(t, tx.Rollback())
		assert.NoError(t, s.ClaimDelivery(ctx, "h", "k", t0, t0.Add(time.Hour)))
	})
	t.Run("a claim twice in one transaction is a duplicate", func(t *testing.T) {
		s := New()
		tx, err := s.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback()
		c := tx.(webhook.DeliveryClaimer)
		require.NoError(t, c.ClaimDelivery(ctx, "h", "k", t0, t0.Add(time.Hour)))
		assert.ErrorIs(t, c.ClaimDelivery(ctx, "h", "k", t0, t0.Add(time.Hour)), webhook.ErrDuplicate)
	})
	t.Run("expired claims do not pile up", func(t *testing.T) {
		s := New()
		for i := 0; i < 10000; i++ {
			now := t0.Add(time.Duration(i) * time.Second)
			require.NoError(t, s.ClaimDelivery(ctx, "h", fmt.Sprint(i), now, now.Add(10*time.Second)))
		}
		assert.LessOrEqual(t, len(s.deliveries), 11)
		assert.LessOrEqual(t, len(s.expiry), 11)
	})
}
