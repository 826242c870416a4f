package script

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

var errNotFound = errors.New("record not found")

type logLine struct{ Level, Message string }

type write struct {
	Op     string // "create" or "write"
	Model  string
	ID     any
	Values map[string]any
}

// fakeHost is an in-memory record store that records every call.
type fakeHost struct {
	mu      sync.Mutex
	records map[string]map[any]map[string]any
	nextID  int64
	writes  []write
	logs    []logLine
	calls   int
	failOn  map[string]error // "create", "write", "browse", "search" → error to return
}

func newFakeHost() *fakeHost {
	return &fakeHost{records: map[string]map[any]map[string]any{}, nextID: 100}
}

func (h *fakeHost) put(model string, rec map[string]any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.records[model] == nil {
		h.records[model] = map[any]map[string]any{}
	}
	h.records[model][rec["id"]] = rec
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (h *fakeHost) Browse(model string, ids []any) ([]map[string]any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if err := h.failOn["browse"]; err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, id := range ids {
		rec, ok := h.records[model][id]
		if !ok {
			return nil, fmt.Errorf("%s(%v): %w", model, id, errNotFound)
		}
		out = append(out, copyMap(rec))
	}
	return out, nil
}

func (h *fakeHost) Search(model string, filter map[string]any, limit int) ([]map[string]any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if err := h.failOn["search"]; err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, rec := range h.records[model] {
		match := true
		for k, v := range filter {
			if fmt.Sprint(rec[k]) != fmt.Sprint(v) {
				match = false
			}
		}
		if match {
			out = append(out, copyMap(rec))
		}
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]["id"]) < fmt.Sprint(out[j]["id"]) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (h *fakeHost) Create(model string, values map[string]any) (any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if err := h.failOn["create"]; err != nil {
		return nil, err
	}
	h.nextID++
	id := h.nextID
	rec := copyMap(values)
	rec["id"] = id
	if h.records[model] == nil {
		h.records[model] = map[any]map[string]any{}
	}
	h.records[model][id] = rec
	h.writes = append(h.writes, write{"create", model, id, copyMap(values)})
	return id, nil
}

func (h *fakeHost) Write(model string, id any, values map[string]any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if err := h.failOn["write"]; err != nil {
		return err
	}
	rec, ok := h.records[model][id]
	if !ok {
		return fmt.Errorf("%s(%v): %w", model, id, errNotFound)
	}
	for k, v := range values {
		rec[k] = v
	}
	h.writes = append(h.writes, write{"write", model, id, copyMap(values)})
	return nil
}

func (h *fakeHost) Log(level, message string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, logLine{level, message})
}

func (h *fakeHost) Writes() []write {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]write(nil), h.writes...)
}

func (h *fakeHost) Logs() []logLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logLine(nil), h.logs...)
}
