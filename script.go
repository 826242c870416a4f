package webhook

import (
	"errors"
	"log/slog"
	"time"

	"github.com/hookline/webhook/internal/script"
)

// ScriptLimits bounds what one webhook's code actions may use. Zero fields
// take the registry's values, and those default to: 1s of wall time per
// run, a call stack of 1000 frames, 64 MiB of allocation per run, and
// 4×GOMAXPROCS runs at once per webhook, a run over that bound waiting at
// most 100ms for a slot before the call is refused with 503.
type ScriptLimits struct {
	Timeout       Duration `json:"timeout,omitempty"`
	MaxCallStack  int      `json:"max_call_stack,omitempty"`
	MaxMemory     int64    `json:"max_memory,omitempty"`
	MaxConcurrent int      `json:"max_concurrent,omitempty"`
	QueueWait     Duration `json:"queue_wait,omitempty"`
}

func scriptLimits(l ScriptLimits, fallback script.Limits) script.Limits {
	out := fallback
	if l.Timeout > 0 {
		out.Timeout = time.Duration(l.Timeout)
	}
	if l.MaxCallStack > 0 {
		out.MaxCallStack = l.MaxCallStack
	}
	if l.MaxMemory > 0 {
		out.MaxMemory = l.MaxMemory
	}
	if l.MaxConcurrent > 0 {
		out.MaxConcurrent = l.MaxConcurrent
	}
	if l.QueueWait > 0 {
		out.QueueWait = time.Duration(l.QueueWait)
	}
	return out
}

// runScript runs a code action for one target record (nil without a
// target), inside the call's transaction.
//
// Inputs the script never names are left out: copying the headers and
// query parameters into maps cost more than running a trivial script.
func (c *call) runScript(a *action, rec Record, recs []Record) error {
	reads := a.script.Reads()
	in := script.Input{Model: c.w.model}
	if reads.Payload {
		in.Payload = c.payload
	}
	if reads.Headers {
		in.Headers = c.headerMap()
	}
	if reads.Query {
		in.Query = c.queryMap()
	}
	if rec != nil {
		if reads.Record {
			in.Record = map[string]any(rec)
		}
		if reads.Records {
			in.Records = make([]map[string]any, 0, len(recs))
			for _, r := range recs {
				if r != nil {
					in.Records = append(in.Records, map[string]any(r))
				}
			}
		}
	}
	return c.w.runner.Run(c.ctx, a.script, in, &scriptHost{c: c, targets: recs})
}

// scriptHost is a script's door to the store: every operation goes
// through the call's transaction and is recorded as touched.
type scriptHost struct {
	c       *call
	targets []Record
}

func (h *scriptHost) Browse(model string, ids []any) ([]map[string]any, error) {
	nids := make([]ID, len(ids))
	for i, id := range ids {
		n, err := NormalizeID(id)
		if err != nil {
			return nil, err
		}
		nids[i] = n
	}
	recs, err := h.c.st.Browse(h.c.ctx, model, nids)
	if err != nil {
		return nil, err
	}
	return recordMaps(recs), nil
}

func (h *scriptHost) Search(model string, filter map[string]any, limit int) ([]map[string]any, error) {
	s, ok := h.c.st.(Searcher)
	if !ok {
		return nil, errors.New("the record store does not support search")
	}
	recs, err := s.Search(h.c.ctx, model, Filter(filter), limit)
	if err != nil {
		return nil, err
	}
	return recordMaps(recs), nil
}

func (h *scriptHost) Create(model string, values map[string]any) (any, error) {
	id, err := h.c.st.Create(h.c.ctx, model, Record(values))
	if err != nil {
		return nil, err
	}
	h.c.touch(model, "create", id)
	return id, nil
}

func (h *scriptHost) Write(model string, id any, values map[string]any) error {
	nid, err := NormalizeID(id)
	if err != nil {
		return err
	}
	if err := h.c.st.Write(h.c.ctx, model, nid, Record(values)); err != nil {
		return err
	}
	h.c.touch(model, "write", nid)
	// Keep the call's view of its target records current, so that later
	// actions see what the script wrote.
	if model == h.c.w.model {
		for _, r := range h.targets {
			if r != nil && r["id"] == nid {
				for k, v := range values {
					r[k] = copyJSON(v)
				}
			}
		}
	}
	return nil
}

func (h *scriptHost) Log(level, message string) {
	c := h.c
	c.logMu.Lock()
	if len(c.logs) < maxScriptLogLines {
		c.logs = append(c.logs, LogLine{Time: now(), Level: level, Message: message})
	}
	c.logMu.Unlock()
	// LogAttrs behind Enabled: Info's ...any arguments cost four
	// allocations per line even when the logger discards it (the default).
	if l := c.w.reg.log; l.Enabled(c.ctx, slog.LevelInfo) {
		l.LogAttrs(c.ctx, slog.LevelInfo, "webhook script log", slog.String("webhook", c.w.name),
			slog.String("call_id", c.id), slog.String("level", level), slog.String("message", message))
	}
}

// maxScriptLogLines bounds what one call's scripts can put in its call-log
// entry.
const maxScriptLogLines = 200

func recordMaps(recs []Record) []map[string]any {
	out := make([]map[string]any, len(recs))
	for i, r := range recs {
		out[i] = map[string]any(r)
	}
	return out
}
