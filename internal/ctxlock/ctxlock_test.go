package ctxlock

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMutex(t *testing.T) {
	t.Run("it excludes: concurrent increments are never lost", func(t *testing.T) {
		m := New()
		n := 0
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				for j := 0; j < 2000; j++ {
					require.NoError(t, m.Lock(ctx))
					n++
					m.Unlock()
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, 16*2000, n)
	})
	t.Run("a waiter gives up when its context ends", func(t *testing.T) {
		m := New()
		require.NoError(t, m.Lock(context.Background()))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		assert.ErrorIs(t, m.Lock(ctx), context.DeadlineExceeded)
		assert.Less(t, time.Since(start), time.Second)
		m.Unlock()
		assert.True(t, m.TryLock(), "the lock is free again")
	})
	t.Run("waiters that give up do not strand the others", func(t *testing.T) {
		m := New()
		require.NoError(t, m.Lock(context.Background()))
		var wg sync.WaitGroup
		got := make(chan struct{}, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+i%2*1000)*time.Millisecond)
				defer cancel()
				if m.Lock(ctx) == nil {
					got <- struct{}{}
					m.Unlock()
				}
			}(i)
		}
		time.Sleep(50 * time.Millisecond)
		m.Unlock()
		wg.Wait()
		assert.Len(t, got, 4, "every waiter whose context lasted got the lock")
	})
}

func BenchmarkContended(b *testing.B) {
	m := New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = m.Lock(ctx)
			m.Unlock()
		}
	})
}
