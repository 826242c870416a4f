package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/webhook/internal/script"
)

// DefaultPath is the path under which webhook URLs are built: an Odoo
// database calling /web/hook/<secret> reaches a registry mounted there
// unchanged.
const DefaultPath = "/web/hook/"

// Defaults for the zero values of [Config].
const (
	DefaultMaxBody          = 1 << 20
	DefaultMaxDepth         = 64
	DefaultMaxLoggedPayload = 64 << 10
	DefaultCallLogSize      = 1000
)

// Errors returned by [Registry] methods.
var (
	// ErrUnknownWebhook means no webhook of that name is registered.
	ErrUnknownWebhook = errors.New("unknown webhook")
	// ErrDuplicateName means a webhook of that name is already registered.
	ErrDuplicateName = errors.New("a webhook of that name is already registered")
)

// Config configures a [Registry]. The zero value of every field but Store
// means a sensible default.
type Config struct {
	// Store holds the records webhooks act on. Required. When it is a
	// [Transactor], every call is all-or-nothing.
	Store RecordStore
	// CallLog keeps call entries of webhooks with LogCalls on. Nil means
	// an in-memory log of the last DefaultCallLogSize calls.
	CallLog CallLog
	// Definitions, when set, persists every definition the registry adds,
	// changes or rotates; [Registry.Restore] loads them back.
	Definitions DefinitionStore
	// Logger receives warnings (every failed call, whether or not its
	// webhook logs calls) and errors. Nil means no logging.
	Logger *slog.Logger
	// BaseURL is put before Path in the URLs the registry returns, such as
	// "https://erp.example.com". Empty gives path-only URLs.
	BaseURL string
	// Path is where the registry is mounted, ending in "/"; default
	// DefaultPath. It only shapes the URLs the registry returns: the
	// registry serves any path whose last segment is a secret.
	Path string
	// MaxBody caps the request body in bytes; a longer one gets 413
	// without being read. Default DefaultMaxBody (1 MiB).
	MaxBody int64
	// MaxDepth caps how deeply a JSON payload may nest. Default
	// DefaultMaxDepth.
	MaxDepth int
	// MaxLoggedPayload cuts the payload kept in a call-log entry, in
	// bytes; the entry is marked truncated. Default 64 KiB.
	MaxLoggedPayload int
	// Script is the default bound on code actions; see [ScriptLimits].
	Script ScriptLimits
	// TrustedProxies lists the CIDRs of reverse proxies in front of the
	// service. A call whose RemoteAddr is one of them is attributed to the
	// right-most address of X-Forwarded-For (or Forwarded) that is not;
	// otherwise those headers are ignored, since any client can set them.
	TrustedProxies []string
}

// Registry holds webhooks and serves them: it is an http.Handler that
// takes the last segment of the request path as the secret. Mount it with a
// Go 1.22 pattern, mux.Handle("/web/hook/{secret}", reg), or under any
// prefix. All methods are safe for concurrent use, also while requests are
// being served: a change is seen by every request that starts after it
// returns.
type Registry struct {
	cfg     Config
	log     *slog.Logger
	calls   CallLog
	tx      Transactor // nil when Store is not transactional
	mu      sync.Mutex // serializes changes; readers use state
	state   atomic.Pointer[registryState]
	script  script.Limits
	proxies []netip.Prefix
}

type registryState struct {
	bySecret map[secretHash]*Webhook
	byName   map[string]*Webhook
	// grace holds secrets being rotated away, until their deadline.
	grace map[secretHash]graceSecret
}

type graceSecret struct {
	w     *Webhook
	until time.Time
}

// NewRegistry returns an empty registry. It fails only when cfg.Store is
// nil.
func NewRegistry(cfg Config) (*Registry, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhook: Config.Store is required")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.MaxLoggedPayload <= 0 {
		cfg.MaxLoggedPayload = DefaultMaxLoggedPayload
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if !strings.HasSuffix(cfg.Path, "/") {
		cfg.Path += "/"
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	r := &Registry{cfg: cfg, log: cfg.Logger, calls: cfg.CallLog}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.calls == nil {
		r.calls = NewMemoryCallLog(DefaultCallLogSize)
	}
	if tx, ok := cfg.Store.(Transactor); ok {
		r.tx = tx
	} else {
		r.log.Warn("webhook: the record store has no transactions; a call that fails midway keeps the writes it made",
			"store", fmt.Sprintf("%T", cfg.Store))
	}
	for _, p := range cfg.TrustedProxies {
		pp, err := parsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("webhook: Config.TrustedProxies: %w", err)
		}
		r.proxies = append(r.proxies, pp)
	}
	r.script = scriptLimits(cfg.Script, script.Limits{})
	r.state.Store(&registryState{bySecret: map[secretHash]*Webhook{}, byName: map[string]*Webhook{}, grace: map[secretHash]graceSecret{}})
	return r, nil
}

// Add builds a webhook from def and registers it. Every expression and
// script is compiled now; a mistake comes back as an *ExprError,
// *ScriptError or *ConfigError naming the webhook and the field. An empty
// Secret is replaced by a generated one. With a DefinitionStore configured,
// the definition (with its secret) is saved before Add returns.
func (r *Registry) Add(def Definition) (*Webhook, error) {
	return r.add(context.Background(), def, true)
}

func (r *Registry) add(ctx context.Context, def Definition, persist bool) (*Webhook, error) {
	w, err := r.build(def)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state.Load()
	if _, ok := st.byName[w.name]; ok {
		return nil, fmt.Errorf("webhook %q: %w", w.name, ErrDuplicateName)
	}
	h := hashSecret(*w.secret.Load())
	if st.taken(h) {
		return nil, fmt.Errorf("webhook %q: %w", w.name, ErrSecretTaken)
	}
	var prev secretHash
	keepPrev := w.def.PreviousSecret != "" && now().Before(w.def.PreviousSecretUntil)
	if keepPrev {
		prev = hashSecret(w.def.PreviousSecret)
		if st.taken(prev) || prev == h {
			return nil, fmt.Errorf("webhook %q: previous secret: %w", w.name, ErrSecretTaken)
		}
	}
	if persist {
		if err := r.persist(ctx, w); err != nil {
			return nil, err
		}
	}
	next := st.clone()
	next.byName[w.name] = w
	next.bySecret[h] = w
	if keepPrev {
		next.grace[prev] = graceSecret{w: w, until: w.def.PreviousSecretUntil}
	}
	r.state.Store(next)
	return w, nil
}

// Restore adds every definition saved in Config.Definitions. It is how a
// service gets back, after a restart, the webhooks and rotated secrets it
// had. Definitions whose names are already registered are skipped.
func (r *Registry) Restore(ctx context.Context) ([]*Webhook, error) {
	if r.cfg.Definitions == nil {
		return nil, errors.New("webhook: Config.Definitions is not set")
	}
	defs, err := r.cfg.Definitions.Definitions(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhook: loading definitions: %w", err)
	}
	var out []*Webhook
	for _, d := range defs {
		if _, ok := r.Get(d.Name); ok {
			continue
		}
		w, err := r.add(ctx, d, false)
		if err != nil {
			return out, err
		}
		out = append(out, w)
	}
	return out, nil
}

// clone copies the state for a change, dropping grace secrets that have
// expired.
func (s *registryState) clone() *registryState {
	n := &registryState{
		bySecret: make(map[secretHash]*Webhook, len(s.bySecret)+1),
		byName:   make(map[string]*Webhook, len(s.byName)+1),
		grace:    make(map[secretHash]graceSecret, len(s.grace)),
	}
	for k, v := range s.bySecret {
		n.bySecret[k] = v
	}
	for k, v := range s.byName {
		n.byName[k] = v
	}
	t := now()
	for k, v := range s.grace {
		if t.Before(v.until) {
			n.grace[k] = v
		}
	}
	return n
}

// taken reports whether a secret is in use, also as a grace secret.
func (s *registryState) taken(h secretHash) bool {
	if _, ok := s.bySecret[h]; ok {
		return true
	}
	g, ok := s.grace[h]
	return ok && now().Before(g.until)
}

// lookup finds the webhook a secret belongs to, also during a grace
// period.
func (s *registryState) lookup(h secretHash) *Webhook {
	if w := s.bySecret[h]; w != nil {
		return w
	}
	if g, ok := s.grace[h]; ok && now().Before(g.until) {
		return g.w
	}
	return nil
}

func (r *Registry) persist(ctx context.Context, w *Webhook) error {
	if r.cfg.Definitions == nil {
		return nil
	}
	if err := r.cfg.Definitions.SaveDefinition(ctx, w.Definition()); err != nil {
		return fmt.Errorf("webhook %q: saving the definition: %w", w.name, err)
	}
	return nil
}

// Remove unregisters the webhook; its URL answers 404 from now on.
func (r *Registry) Remove(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state.Load()
	w, ok := st.byName[name]
	if !ok {
		return fmt.Errorf("webhook %q: %w", name, ErrUnknownWebhook)
	}
	if r.cfg.Definitions != nil {
		if err := r.cfg.Definitions.DeleteDefinition(context.Background(), name); err != nil {
			return fmt.Errorf("webhook %q: deleting the definition: %w", name, err)
		}
	}
	next := st.clone()
	delete(next.byName, name)
	delete(next.bySecret, hashSecret(*w.secret.Load()))
	for k, g := range next.grace {
		if g.w == w {
			delete(next.grace, k)
		}
	}
	r.state.Store(next)
	return nil
}

// Get returns the webhook with that name.
func (r *Registry) Get(name string) (*Webhook, bool) {
	w, ok := r.state.Load().byName[name]
	return w, ok
}

// Webhooks returns every registered webhook, ordered by name.
func (r *Registry) Webhooks() []*Webhook {
	st := r.state.Load()
	out := make([]*Webhook, 0, len(st.byName))
	for _, w := range st.byName {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// SetActive activates or deactivates a webhook. An inactive webhook's URL
// answers 404, exactly as an unknown one.
func (r *Registry) SetActive(name string, active bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.state.Load().byName[name]
	if !ok {
		return fmt.Errorf("webhook %q: %w", name, ErrUnknownWebhook)
	}
	old := w.active.Swap(active)
	if err := r.persist(context.Background(), w); err != nil {
		w.active.Store(old)
		return err
	}
	return nil
}

// RotateSecret gives the webhook a new generated secret and returns its
// new URL. The old URL answers 404 as soon as RotateSecret returns; calls
// already running finish normally.
func (r *Registry) RotateSecret(name string) (string, error) {
	return r.RotateSecretWithGrace(name, 0)
}

// RotateSecretWithGrace gives the webhook a new generated secret and
// returns its new URL, keeping the old URL working for the grace period so
// that the sender can be switched over without a gap (Odoo's rotation
// kills the old URL at once). A grace of zero is RotateSecret. Only one old
// secret is kept: rotating again ends the previous grace period.
func (r *Registry) RotateSecretWithGrace(name string, grace time.Duration) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state.Load()
	w, ok := st.byName[name]
	if !ok {
		return "", fmt.Errorf("webhook %q: %w", name, ErrUnknownWebhook)
	}
	old := w.secret.Load()
	oldPrev := w.prev.Load()
	secret := NewSecret()
	w.secret.Store(&secret)
	var until time.Time
	if grace > 0 {
		until = now().Add(grace)
		w.prev.Store(&prevSecret{secret: *old, until: until})
	} else {
		w.prev.Store(nil)
	}
	if err := r.persist(context.Background(), w); err != nil {
		w.secret.Store(old)
		w.prev.Store(oldPrev)
		return "", err
	}
	next := st.clone()
	delete(next.bySecret, hashSecret(*old))
	for k, g := range next.grace {
		if g.w == w {
			delete(next.grace, k)
		}
	}
	if grace > 0 {
		next.grace[hashSecret(*old)] = graceSecret{w: w, until: until}
	}
	next.bySecret[hashSecret(secret)] = w
	r.state.Store(next)
	return w.URL(r.cfg.BaseURL), nil
}

// Calls returns call-log entries, newest first.
func (r *Registry) Calls(ctx context.Context, q CallQuery) ([]Call, error) {
	return r.calls.Calls(ctx, q)
}

// ServeHTTP answers a webhook call. The secret is the request's {secret}
// path value when the pattern has one, else the last path segment.
func (r *Registry) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	secret := req.PathValue("secret")
	if secret == "" {
		p := req.URL.Path
		secret = p[strings.LastIndexByte(p, '/')+1:]
	}
	var w *Webhook
	if secret != "" && len(secret) <= maxSecretLength {
		w = r.state.Load().lookup(hashSecret(secret))
	}
	if w == nil || !w.active.Load() {
		r.notFound(rw, req, w)
		return
	}
	w.serve(rw, req)
}

// notFound answers an unknown, inactive or rotated-away secret, without a
// hint of which. An inactive webhook's call is logged under its name; an
// unknown secret is reported to slog only, so a scan cannot flood the call
// log.
func (r *Registry) notFound(rw http.ResponseWriter, req *http.Request, w *Webhook) {
	id := newCallID()
	writeError(rw, http.StatusNotFound, "no active webhook at this URL", id)
	if w != nil {
		c := &call{w: w, id: id, req: req, ctx: req.Context(), start: now()}
		c.finish(http.StatusNotFound, "webhook is inactive", nil)
		return
	}
	r.log.Warn("webhook: call to an unknown secret", "call_id", id, "method", req.Method, "remote_addr", req.RemoteAddr)
}

// Webhook is a registered webhook. It is also an http.Handler that serves
// this one webhook whatever the request path, for mounting it on a route of
// your own. A Webhook is safe for concurrent use.
type Webhook struct {
	reg      *Registry
	def      Definition // as given, Secret and Active aside
	name     string
	model    string
	logCalls bool
	secret   atomic.Pointer[string]
	active   atomic.Bool
	target   *expr
	actions  []*action
	runner   *script.Runner
	modelVal model
	guard    *guard
	redact   [][]string
	// readTargets says whether the actions need the target records'
	// fields, or only their ids.
	readTargets bool
	// prev is the secret in its grace period, if any.
	prev atomic.Pointer[prevSecret]
}

type prevSecret struct {
	secret string
	until  time.Time
}

func (r *Registry) build(def Definition) (*Webhook, error) {
	if def.Name == "" {
		return nil, &ConfigError{Webhook: def.Name, Field: "name", Message: "a webhook needs a name"}
	}
	if def.Model == "" {
		return nil, &ConfigError{Webhook: def.Name, Field: "model", Message: "a webhook needs a model, such as sale.order"}
	}
	if def.Secret == "" {
		def.Secret = NewSecret()
	} else if err := checkSecret(def.Secret); err != nil {
		return nil, &ConfigError{Webhook: def.Name, Field: "secret", Message: err.Error()}
	}
	w := &Webhook{reg: r, def: def, name: def.Name, model: def.Model, logCalls: def.LogCalls, modelVal: model{name: def.Model}}
	w.def = cloneDefinition(def)
	secret := def.Secret
	w.secret.Store(&secret)
	w.active.Store(def.Active)
	if def.Target != "" {
		e, err := compileExpr(def.Name, "target", def.Target, recordsType)
		if err != nil {
			return nil, err
		}
		w.target = e
	}
	acts, err := compileActions(&def, def.Actions, "actions", w.target != nil)
	if err != nil {
		return nil, err
	}
	w.actions = acts
	w.readTargets = mustReadTargets(acts)
	if hasCode(acts) {
		w.runner = script.NewRunner(scriptLimits(derefLimits(def.Script), r.script))
	}
	g, err := r.buildGuard(&def)
	if err != nil {
		return nil, err
	}
	w.guard = g
	for _, f := range def.RedactFields {
		if f == "" {
			return nil, &ConfigError{Webhook: def.Name, Field: "redact_fields", Message: "empty field path"}
		}
		w.redact = append(w.redact, strings.Split(f, "."))
	}
	if def.PreviousSecret != "" && now().Before(def.PreviousSecretUntil) {
		if err := checkSecret(def.PreviousSecret); err != nil {
			return nil, &ConfigError{Webhook: def.Name, Field: "previous_secret", Message: err.Error()}
		}
		w.prev.Store(&prevSecret{secret: def.PreviousSecret, until: def.PreviousSecretUntil})
	}
	return w, nil
}

func derefLimits(l *ScriptLimits) ScriptLimits {
	if l == nil {
		return ScriptLimits{}
	}
	return *l
}

func hasCode(acts []*action) bool {
	for _, a := range acts {
		if a.script != nil || hasCode(a.sub) {
			return true
		}
	}
	return false
}

// cloneDefinition copies d deeply enough that neither copy can change the
// other.
func cloneDefinition(d Definition) Definition {
	d.Actions = cloneActions(d.Actions)
	if d.Script != nil {
		s := *d.Script
		d.Script = &s
	}
	if d.Verify != nil {
		v := *d.Verify
		v.Secrets = append([]string(nil), v.Secrets...)
		d.Verify = &v
	}
	if d.Dedupe != nil {
		x := *d.Dedupe
		d.Dedupe = &x
	}
	if d.Limits != nil {
		l := *d.Limits
		d.Limits = &l
	}
	d.AllowIPs = append([]string(nil), d.AllowIPs...)
	d.RedactFields = append([]string(nil), d.RedactFields...)
	return d
}

func cloneActions(in []Action) []Action {
	if in == nil {
		return nil
	}
	out := make([]Action, len(in))
	for i, a := range in {
		out[i] = a
		if a.Set != nil {
			out[i].Set = make(map[string]any, len(a.Set))
			for k, v := range a.Set {
				out[i].Set[k] = copyJSON(v)
			}
		}
		if a.Compute != nil {
			out[i].Compute = make(map[string]string, len(a.Compute))
			for k, v := range a.Compute {
				out[i].Compute[k] = v
			}
		}
		out[i].Actions = cloneActions(a.Actions)
	}
	return out
}

// Name returns the webhook's name.
func (w *Webhook) Name() string { return w.name }

// Model returns the technical name of the model the webhook acts on.
func (w *Webhook) Model() string { return w.model }

// Active reports whether the webhook answers calls.
func (w *Webhook) Active() bool { return w.active.Load() }

// Secret returns the webhook's current secret. Treat it as a password.
func (w *Webhook) Secret() string { return *w.secret.Load() }

// URL returns the webhook's full URL: base, the registry's Path, then the
// secret. An empty base gives the path alone.
func (w *Webhook) URL(base string) string {
	return strings.TrimSuffix(base, "/") + w.reg.cfg.Path + *w.secret.Load()
}

// Definition returns the webhook's definition with its current secret and
// active flag, ready to be saved or shown.
func (w *Webhook) Definition() Definition {
	d := cloneDefinition(w.def)
	d.Secret = *w.secret.Load()
	d.Active = w.active.Load()
	d.PreviousSecret, d.PreviousSecretUntil = "", time.Time{}
	if p := w.prev.Load(); p != nil && now().Before(p.until) {
		d.PreviousSecret, d.PreviousSecretUntil = p.secret, p.until
	}
	return d
}

// ServeHTTP runs the webhook for req, whatever its path, and even when the
// webhook is inactive: mounting a Webhook on a route of your own is asking
// for it to serve there.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	w.serve(rw, req)
}
