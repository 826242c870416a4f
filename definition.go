package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Definition describes one webhook. It is plain data: it round-trips
// through JSON with the keys shown in the package documentation, so
// definitions can be stored, loaded from a file and shown. Building a
// [Webhook] from it ([Registry.Add]) checks every expression up front.
type Definition struct {
	// Name identifies the webhook in its registry and in the call log; it
	// must be unique within a registry.
	Name string `json:"name"`
	// Model is the technical name of the records the webhook acts on, such
	// as "sale.order". Target records must be of this model.
	Model string `json:"model"`
	// Active webhooks answer calls; an inactive one answers 404 as if its
	// secret were unknown. When a JSON definition omits "active", it is
	// active; a Definition written in Go must set it.
	Active bool `json:"active"`
	// LogCalls keeps a call-log entry for every call. Without it, failures
	// are still reported to the registry's slog logger.
	LogCalls bool `json:"log_calls"`
	// Secret is the last path segment of the webhook's URL and its only
	// credential unless signatures are configured. Empty means "generate
	// one" (256 bits from crypto/rand, URL-safe).
	Secret string `json:"secret"`
	// Target is a CEL expression that names the records the actions run
	// on, such as `model.browse(int(payload.id))`. Empty means the actions
	// run once with no target record.
	Target string `json:"target"`
	// Actions run in order. With several target records, each action runs
	// once per record before the next action starts.
	Actions []Action `json:"actions"`
	// Script overrides the registry's limits for this webhook's code
	// actions.
	Script *ScriptLimits `json:"script,omitempty"`

	// Verify, when set, checks a signature or credential on every call.
	Verify *Verify `json:"verify,omitempty"`
	// Dedupe, when set, runs each delivery once.
	Dedupe *Dedupe `json:"dedupe,omitempty"`
	// AllowIPs, when not empty, lists the CIDRs (or bare addresses) that
	// may call; others get 403. See [Config.TrustedProxies].
	AllowIPs []string `json:"allow_ips,omitempty"`
	// Limits bounds body size, nesting, rate and concurrency.
	Limits *Limits `json:"limits,omitempty"`
	// RedactFields lists payload fields, as dotted paths such as
	// "card.number", whose values the call log replaces with
	// "[redacted]".
	RedactFields []string `json:"redact_fields,omitempty"`

	// PreviousSecret is a secret being rotated away: it keeps working
	// until PreviousSecretUntil. [Registry.RotateSecretWithGrace] sets
	// both; they are saved so a grace period survives a restart.
	PreviousSecret      string    `json:"previous_secret,omitempty"`
	PreviousSecretUntil time.Time `json:"previous_secret_until,omitzero"`
}

// The action types.
const (
	// ActionUpdate writes Set and Compute to each target record.
	ActionUpdate = "update"
	// ActionCreate creates a record of Model (default: the webhook's).
	ActionCreate = "create"
	// ActionMulti runs its nested Actions in order.
	ActionMulti = "multi"
	// ActionCode runs JavaScript (Code) in a sandbox.
	ActionCode = "code"
)

// Action is one step of a webhook. Type selects which fields apply.
type Action struct {
	// Type is one of "update", "create", "multi" and "code".
	Type string `json:"type"`
	// When is an optional CEL condition; the action runs for a record only
	// when it is true.
	When string `json:"when,omitempty"`
	// Set holds fixed field values (update and create).
	Set map[string]any `json:"set,omitempty"`
	// Compute maps field names to CEL expressions whose results are
	// written (update and create). Compute wins over Set for a field in
	// both.
	Compute map[string]string `json:"compute,omitempty"`
	// Model is the model a create action creates; empty means the
	// webhook's model.
	Model string `json:"model,omitempty"`
	// LinkField, on a create action, is a field of the new record that
	// receives the id of the current target record.
	LinkField string `json:"link_field,omitempty"`
	// Actions are the steps of a multi action.
	Actions []Action `json:"actions,omitempty"`
	// Code is the JavaScript a code action runs.
	Code string `json:"code,omitempty"`
}

// Definitions is the JSON document that holds several webhook
// definitions: {"webhooks": [...]}.
type Definitions struct {
	Webhooks []Definition `json:"webhooks"`
}

// UnmarshalJSON decodes a definition, keeping integers exact in Set values
// and making an omitted "active" mean true.
func (d *Definition) UnmarshalJSON(data []byte) error {
	type plain Definition
	p := plain{Active: true}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*d = Definition(p)
	return nil
}

// LoadDefinitions reads a JSON document of the form {"webhooks": [...]}.
// It checks only the JSON; [Registry.Add] checks the expressions.
func LoadDefinitions(r io.Reader) ([]Definition, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var doc Definitions
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("webhook definitions: %w", err)
	}
	return doc.Webhooks, nil
}

// DefinitionStore persists webhook definitions, secrets included, so that
// webhooks added at run time and rotated secrets survive a restart. A
// [Registry] with a DefinitionStore saves a definition whenever it adds,
// changes or rotates a webhook, and deletes it when the webhook is removed.
// Implementations must be safe for concurrent use.
type DefinitionStore interface {
	// SaveDefinition inserts d or replaces the definition with d.Name.
	SaveDefinition(ctx context.Context, d Definition) error
	// DeleteDefinition removes the definition with that name; removing a
	// missing one is not an error.
	DeleteDefinition(ctx context.Context, name string) error
	// Definitions returns every stored definition, ordered by name.
	Definitions(ctx context.Context) ([]Definition, error)
}
