package filestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/examples/customstore/filestore"
)

// The file is plain JSON, one array of records per model, ordered by id.
// Integers are written without a fraction and floats with one, so each
// reads back as the Go type it was.
func Example() {
	dir, _ := os.MkdirTemp("", "filestore")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "records.json")

	store, err := filestore.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	_, _ = store.Create(ctx, "sale.order", webhook.Record{"id": int64(7), "name": "S00007", "currency": "EUR", "rate": 1.0})
	_ = store.Write(ctx, "sale.order", int64(7), webhook.Record{"currency": "USD"})

	data, _ := os.ReadFile(path)
	fmt.Print(string(data))
	// Output:
	// {
	//   "sale.order": [
	//     {
	//       "currency": "USD",
	//       "id": 7,
	//       "name": "S00007",
	//       "rate": 1.0
	//     }
	//   ]
	// }
}
