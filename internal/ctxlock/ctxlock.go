// Package ctxlock is a mutual-exclusion lock whose Lock gives up when a
// context ends.
//
// The obvious way to write one, a channel of capacity one, hands the lock
// to the longest waiter in FIFO order: the lock then sits idle until that
// waiter is scheduled, and under load every critical section pays a
// goroutine wake-up. The load harness measured this costing a third of the
// throughput of a store whose transactions are serialized. Mutex instead
// builds on sync.Mutex, which lets a running goroutine take a free lock at
// once (and guards against starvation itself), and uses a channel only to
// wake waiters that are watching a context.
package ctxlock

import (
	"context"
	"sync"
	"sync/atomic"
)

// Mutex is a lock that can be waited for with a context. The zero value is
// not ready: use New.
type Mutex struct {
	mu      sync.Mutex
	waiters atomic.Int32
	// wake holds at most one token, sent on Unlock while a context-aware
	// waiter exists; a buffered token cannot be lost between a waiter's
	// failed TryLock and its receive.
	wake chan struct{}
}

// New returns an unlocked Mutex.
func New() *Mutex { return &Mutex{wake: make(chan struct{}, 1)} }

// Lock takes the lock, or returns ctx's error if ctx ends first.
func (m *Mutex) Lock(ctx context.Context) error {
	_, err := m.LockUnless(ctx, nil)
	return err
}

// LockUnless takes the lock, or returns ctx's error if ctx ends first, or
// returns stopped true, without the lock, if stop is closed first. A nil
// stop is never closed.
func (m *Mutex) LockUnless(ctx context.Context, stop <-chan struct{}) (stopped bool, err error) {
	if m.mu.TryLock() {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if ctx.Done() == nil && stop == nil {
		m.mu.Lock()
		return false, nil
	}
	// Announce the wait before trying again, so an Unlock that comes after
	// the failed TryLock sees the waiter and leaves a token.
	m.waiters.Add(1)
	defer m.waiters.Add(-1)
	for {
		if m.mu.TryLock() {
			return false, nil
		}
		select {
		case <-m.wake:
		case <-ctx.Done():
			m.passOn()
			return false, ctx.Err()
		case <-stop:
			m.passOn()
			return true, nil
		}
	}
}

// passOn gives a token this waiter may have been sent, and will not use,
// to the other waiters.
func (m *Mutex) passOn() {
	select {
	case <-m.wake:
		m.signal()
	default:
	}
}

// TryLock takes the lock if it is free.
func (m *Mutex) TryLock() bool { return m.mu.TryLock() }

// Unlock releases the lock.
func (m *Mutex) Unlock() {
	m.mu.Unlock()
	if m.waiters.Load() > 0 {
		m.signal()
	}
}

func (m *Mutex) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}
