// Command quickstart serves the two seed webhooks of the README on
// 127.0.0.1:8080: one sets sale order 7's currency to USD, the other
// creates a contact from a payload.
//
//	go run ./examples/quickstart [-addr 127.0.0.1:8080] [-config webhooks.json] [-seed records.json]
//	                             [-store sqlite|memory|postgres://...] [-db quickstart.db]
//
// It prints one line per webhook, name<TAB>URL, then curl commands to try
// them, and serves a read-only view of the store at /records/{model} and
// /records/{model}/{id}, and the call log at /calls.
//
// By default records, the call log and the webhooks (secrets included)
// live in the SQLite file quickstart.db and survive a restart: the URLs
// stay the same. -store memory keeps everything in memory; -store
// postgres://user@host/db uses PostgreSQL.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/memstore"
	"github.com/hookline/webhook/sqlstore"
	"github.com/hookline/webhook/sqlstore/postgres"
	"github.com/hookline/webhook/sqlstore/sqlite"
)

// contactScript is the seed's "create a contact" Execute code action,
// ported line for line from Odoo's Python.
const contactScript = `const {name, email, phone} = payload;
if (name && email) {
  env['res.partner'].create({name, email, phone, company_type: 'person', customer_rank: 1});
} else {
  throw new Error("Missing required fields: 'name' and 'email'");
}`

// builtin returns the two seed webhooks.
func builtin() []webhook.Definition {
	return []webhook.Definition{
		{
			Name:     "Update sale order currency",
			Model:    "sale.order",
			Active:   true,
			LogCalls: true,
			Target:   "env[payload.model].browse(int(payload.id))",
			Actions:  []webhook.Action{{Type: webhook.ActionUpdate, Set: map[string]any{"currency": "USD"}}},
		},
		{
			Name:     "Create contact",
			Model:    "res.partner",
			Active:   true,
			LogCalls: true,
			Actions:  []webhook.Action{{Type: webhook.ActionCode, Code: contactScript}},
		},
	}
}

func seedRecords() map[string][]webhook.Record {
	return map[string][]webhook.Record{
		"sale.order":  {{"id": int64(7), "name": "S00007", "currency": "EUR"}},
		"res.partner": {{"id": int64(2), "name": "Mitchell Admin", "email": "admin@example.com"}},
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	configFile := flag.String("config", "", `JSON file of webhook definitions, {"webhooks": [...]}, instead of the built-in two`)
	seedFile := flag.String("seed", "", `JSON file of records to seed the store with, {"model": [{"id": 1, ...}]}, instead of the built-in ones`)
	storeKind := flag.String("store", "sqlite", "record store: sqlite, memory, or a postgres:// URL")
	dbPath := flag.String("db", "quickstart.db", "SQLite database file (with -store sqlite)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := options{addr: *addr, configFile: *configFile, seedFile: *seedFile, store: *storeKind, db: *dbPath}
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// store is what the quickstart needs of a record store: records for the
// webhooks and search for the read-only view.
type store interface {
	webhook.RecordStore
	webhook.Searcher
}

// options are the command's flags.
type options struct {
	addr, configFile, seedFile, store, db string
}

// run serves until ctx is done, writing the webhooks' URLs and the curl
// commands to out once it listens.
func run(ctx context.Context, o options, out io.Writer) error {
	addr, configFile, seedFile, storeKind, dbPath := o.addr, o.configFile, o.seedFile, o.store, o.db
	var (
		st      store
		cfg     webhook.Config
		closeDB func() error
	)
	switch {
	case storeKind == "memory":
		st = memstore.New()
		cfg.Store = st
		closeDB = func() error { return nil }
	case storeKind == "sqlite":
		s, db, err := sqlite.Open(ctx, dbPath, sqlstore.Config{})
		if err != nil {
			return err
		}
		st, closeDB = s, db.Close
		cfg = webhook.Config{Store: s, CallLog: s, Definitions: s}
	case strings.HasPrefix(storeKind, "postgres://") || strings.HasPrefix(storeKind, "postgresql://"):
		s, db, err := postgres.Open(ctx, storeKind, sqlstore.Config{})
		if err != nil {
			return err
		}
		st, closeDB = s, db.Close
		cfg = webhook.Config{Store: s, CallLog: s, Definitions: s}
	default:
		return fmt.Errorf("unknown -store %q (want sqlite, memory or a postgres:// URL)", storeKind)
	}
	defer closeDB()

	defs := builtin()
	if configFile != "" {
		f, err := os.Open(configFile)
		if err != nil {
			return err
		}
		defs, err = webhook.LoadDefinitions(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	seed := seedRecords()
	if seedFile != "" {
		var err error
		if seed, err = readSeed(seedFile); err != nil {
			return err
		}
	}
	if err := seedStore(ctx, st, seed); err != nil {
		return fmt.Errorf("seeding the store: %w", err)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	cfg.Logger, cfg.BaseURL = logger, base
	reg, err := webhook.NewRegistry(cfg)
	if err != nil {
		return err
	}
	if cfg.Definitions != nil {
		// Webhooks saved by an earlier run come back with their secrets,
		// so the URLs handed out before a restart keep working.
		if _, err := reg.Restore(ctx); err != nil {
			return err
		}
	}
	for _, d := range defs {
		if _, ok := reg.Get(d.Name); ok {
			continue
		}
		if _, err := reg.Add(d); err != nil {
			return err
		}
	}

	mux := http.NewServeMux()
	mux.Handle("/web/hook/{secret}", reg)
	mux.Handle("GET /records/{model}", recordsHandler(st))
	mux.Handle("GET /records/{model}/{id}", recordsHandler(st))
	mux.HandleFunc("GET /calls", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		calls, err := reg.Calls(r.Context(), webhook.CallQuery{Webhook: r.URL.Query().Get("webhook"), Limit: limit})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, calls)
	})

	printUsage(out, reg, base)

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func printUsage(out io.Writer, reg *webhook.Registry, base string) {
	for _, w := range reg.Webhooks() {
		fmt.Fprintf(out, "%s\t%s\n", w.Name(), w.URL(base))
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "# Try them:")
	if w, ok := reg.Get("Update sale order currency"); ok {
		fmt.Fprintf(out, "curl -s -X POST %s -H 'Content-Type: application/json' -d '{\"model\": \"sale.order\", \"id\": \"7\"}'\n", w.URL(base))
		fmt.Fprintf(out, "curl -s %s/records/sale.order/7\n", base)
	}
	if w, ok := reg.Get("Create contact"); ok {
		fmt.Fprintf(out, "curl -s -X POST %s -H 'Content-Type: application/json' -d '{\"name\": \"Ada Lovelace\", \"email\": \"ada@example.com\", \"phone\": \"+44 20 7946 0000\"}'\n", w.URL(base))
		fmt.Fprintf(out, "curl -s %s/records/res.partner\n", base)
	}
	fmt.Fprintf(out, "curl -s %s/calls\n", base)
}

// recordsHandler is the read-only view of the store: an array of a model's
// records, or one record by id.
func recordsHandler(store webhook.Searcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		model := r.PathValue("model")
		recs, err := store.Search(r.Context(), model, webhook.Filter{}, 0)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		idText := r.PathValue("id")
		if idText == "" {
			if recs == nil {
				recs = []webhook.Record{}
			}
			writeJSON(w, http.StatusOK, recs)
			return
		}
		var id webhook.ID = idText
		if n, err := strconv.ParseInt(idText, 10, 64); err == nil {
			id = n
		}
		for _, rec := range recs {
			if rec["id"] == id {
				writeJSON(w, http.StatusOK, rec)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("%s record %s not found", model, idText)})
	})
}

// seedStore creates the seed records that the store does not have yet, so
// that a restart keeps what the webhooks changed.
func seedStore(ctx context.Context, st webhook.RecordStore, seed map[string][]webhook.Record) error {
	for model, recs := range seed {
		for _, rec := range recs {
			_, err := st.Browse(ctx, model, []webhook.ID{rec["id"]})
			if err == nil {
				continue
			}
			if !errors.Is(err, webhook.ErrNotFound) {
				return err
			}
			if _, err := st.Create(ctx, model, rec); err != nil {
				return fmt.Errorf("%s %v: %w", model, rec["id"], err)
			}
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		log.Printf("writing response: %v", err)
	}
}

func readSeed(path string) (map[string][]webhook.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.UseNumber()
	var raw map[string][]map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("seed file %s: %w", path, err)
	}
	out := make(map[string][]webhook.Record, len(raw))
	for model, recs := range raw {
		for i, r := range recs {
			rec, err := exactNumbers(r)
			if err != nil {
				return nil, fmt.Errorf("seed file %s: %s[%d]: %w", path, model, i, err)
			}
			if _, ok := rec["id"]; !ok {
				return nil, fmt.Errorf("seed file %s: %s[%d] has no id", path, model, i)
			}
			out[model] = append(out[model], rec)
		}
	}
	return out, nil
}

// exactNumbers turns json.Number values into int64 or float64.
func exactNumbers(m map[string]any) (webhook.Record, error) {
	out := make(webhook.Record, len(m))
	for k, v := range m {
		nv, err := exactValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = nv
	}
	return out, nil
}

func exactValue(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		return x.Float64()
	case []any:
		for i, e := range x {
			ne, err := exactValue(e)
			if err != nil {
				return nil, err
			}
			x[i] = ne
		}
		return x, nil
	case map[string]any:
		r, err := exactNumbers(x)
		return map[string]any(r), err
	}
	return v, nil
}
