package script

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Every error Run returns for a resource limit is a
// *LimitError that matches exactly one of ErrTimeout, ErrMemory and
// ErrStackOverflow with errors.Is.
var (
	// ErrTimeout matches a run stopped because it used up Limits.Timeout.
	ErrTimeout = errors.New("script timed out")
	// ErrMemory matches a run stopped because it grew the heap past
	// Limits.MaxMemory.
	ErrMemory = errors.New("script exceeded its memory limit")
	// ErrStackOverflow matches a run stopped because its call stack grew
	// past Limits.MaxCallStack frames. The script cannot catch it.
	ErrStackOverflow = errors.New("script exceeded its call stack limit")
	// ErrBusy is returned when no run slot became free within
	// Limits.QueueWait. The script did not start.
	ErrBusy = errors.New("script runner busy")
)

// LimitKind says which limit a LimitError is about.
type LimitKind int

// The limits a run can hit.
const (
	LimitTimeout LimitKind = iota + 1 // wall time, Limits.Timeout
	LimitMemory                       // heap growth, Limits.MaxMemory
	LimitStack                        // call depth, Limits.MaxCallStack
)

// String returns "timeout", "memory" or "stack".
func (k LimitKind) String() string {
	switch k {
	case LimitTimeout:
		return "timeout"
	case LimitMemory:
		return "memory"
	case LimitStack:
		return "stack"
	}
	return fmt.Sprintf("LimitKind(%d)", int(k))
}

// LimitError reports a run that was stopped because it hit a resource
// limit. The script could not catch it and no code of the script ran after
// it. errors.Is(err, ErrTimeout/ErrMemory/ErrStackOverflow) matches by Kind.
type LimitError struct {
	Kind LimitKind
	// Limit is the limit that was hit: nanoseconds for LimitTimeout, bytes
	// for LimitMemory, frames for LimitStack.
	Limit int64
}

// Error reads like "script timed out after 1s".
func (e *LimitError) Error() string {
	switch e.Kind {
	case LimitTimeout:
		return "script timed out after " + time.Duration(e.Limit).String()
	case LimitMemory:
		return "script exceeded its memory limit of " + formatBytes(e.Limit)
	case LimitStack:
		return fmt.Sprintf("script exceeded its call stack limit of %d frames", e.Limit)
	}
	return "script exceeded a limit"
}

// Is reports whether target is the sentinel for e's Kind.
func (e *LimitError) Is(target error) bool {
	switch e.Kind {
	case LimitTimeout:
		return target == ErrTimeout
	case LimitMemory:
		return target == ErrMemory
	case LimitStack:
		return target == ErrStackOverflow
	}
	return false
}

// SyntaxError is returned by Compile for code that does not parse or that
// the sandbox refuses to compile (too large, nested too deeply, BigInt
// literals). Line and Column are 1-based and refer to the code as given.
type SyntaxError struct {
	Name    string // the program name given to Compile
	Line    int
	Column  int
	Message string
}

// Error reads like "name:3:14: Unexpected token )".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Name, e.Line, e.Column, e.Message)
}

// ThrownError reports a script that threw and did not catch. Message is
// the thrown Error's message, or a string rendering of any other thrown
// value (computed without running any code of the script). When the
// script let an error of the Host propagate, Err is that error, so
// errors.Is and errors.As reach it.
type ThrownError struct {
	Name    string // the Error's name ("TypeError", "HostError"), "" for non-Error values
	Message string
	Stack   string // "at f (name:3:14)" lines, innermost first
	Err     error  // the Host's error the script let through, or nil
}

// Error reads like "TypeError: x is not a function", or just the message
// for thrown non-Error values.
func (e *ThrownError) Error() string {
	if e.Name == "" {
		return e.Message
	}
	return e.Name + ": " + e.Message
}

// Unwrap returns the Host error the script let through, if any.
func (e *ThrownError) Unwrap() error { return e.Err }

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
