package webhook

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
