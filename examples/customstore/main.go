// Command customstore serves the "Update sale order currency" webhook over
// records kept in a JSON file by package filestore, a custom
// webhook.RecordStore written as a tutorial for adapter authors.
//
//	go run ./examples/customstore [-file records.json] [-addr 127.0.0.1:8081]
//
// It seeds sale.order 7 (currency EUR) when the file lacks it, prints the
// webhook's name<TAB>URL and a curl command that calls it, and serves until
// interrupted. After the call the file shows the order in USD, and still
// does after a restart. The URL's secret is new on every run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/examples/customstore/filestore"
)

func main() {
	file := flag.String("file", filepath.Join(os.TempDir(), "customstore.json"), "JSON file that holds the records")
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()
	if err := run(*file, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "customstore:", err)
		os.Exit(1)
	}
}

func run(file, addr string) error {
	store, err := filestore.Open(file)
	if err != nil {
		return err
	}
	if err := seed(context.Background(), store); err != nil {
		return fmt.Errorf("seeding %s: %w", file, err)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// The store is a webhook.Transactor, so every call is all-or-nothing.
	reg, err := webhook.NewRegistry(webhook.Config{Store: store, Logger: logger, BaseURL: base})
	if err != nil {
		return err
	}
	w, err := reg.Add(webhook.Definition{
		Name:     "Update sale order currency",
		Model:    "sale.order",
		Active:   true,
		LogCalls: true,
		Target:   "env[payload.model].browse(int(payload.id))",
		Actions:  []webhook.Action{{Type: webhook.ActionUpdate, Set: map[string]any{"currency": "USD"}}},
	})
	if err != nil {
		return err
	}
	fmt.Printf("%s\t%s\n", w.Name(), w.URL(base))
	fmt.Printf("\n# Call it, then look at %s:\n", store.Path())
	fmt.Printf("curl -s -X POST %s -H 'Content-Type: application/json' -d '{\"model\": \"sale.order\", \"id\": \"7\"}'\n", w.URL(base))

	mux := http.NewServeMux()
	mux.Handle("/web/hook/{secret}", reg)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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

// seed creates sale order 7 unless the file already has it.
func seed(ctx context.Context, store *filestore.Store) error {
	_, err := store.Browse(ctx, "sale.order", []webhook.ID{int64(7)})
	if !errors.Is(err, webhook.ErrNotFound) {
		return err
	}
	_, err = store.Create(ctx, "sale.order", webhook.Record{"id": int64(7), "name": "S00007", "currency": "EUR"})
	return err
}
