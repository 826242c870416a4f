package payload

import (
	"encoding/json"
	"testing"
)

// smallPayload is the typical body of a record webhook.
var smallPayload = []byte(`{"model":"sale.order","id":"7"}`)

// mediumPayload is about 1 KB, shaped like a Git forge's push event.
var mediumPayload = []byte(`{
  "ref": "refs/heads/main",
  "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
  "after": "59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5",
  "created": false,
  "deleted": false,
  "forced": false,
  "repository": {
    "id": 186853002,
    "name": "webhook",
    "full_name": "hookline/webhook",
    "private": true,
    "owner": {"login": "hookline", "id": 21031067, "type": "Organization"},
    "default_branch": "main",
    "stargazers_count": 12,
    "size": 1042.5
  },
  "pusher": {"name": "octocat", "email": "octocat@example.com"},
  "sender": {"login": "octocat", "id": 583231, "site_admin": false},
  "commits": [
    {
      "id": "59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5",
      "message": "Fix the \"id\" field on sale orders\n\nCloses #12",
      "timestamp": "2024-05-01T12:34:56+02:00",
      "author": {"name": "Mona Lisa", "email": "mona@example.com"},
      "added": [],
      "removed": [],
      "modified": ["record.go", "log.go"]
    },
    {
      "id": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
      "message": "Ünïcödé commit ✓",
      "timestamp": "2024-05-01T12:30:00+02:00",
      "author": {"name": "Octo Cat", "email": "octocat@example.com"},
      "added": ["internal/payload/payload.go"],
      "removed": [],
      "modified": []
    }
  ],
  "head_commit": null
}`)

func BenchmarkParseSmall(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(smallPayload)))
	for b.Loop() {
		if _, err := Parse(smallPayload, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMedium(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(mediumPayload)))
	for b.Loop() {
		if _, err := Parse(mediumPayload, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStdlibSmall(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(smallPayload)))
	for b.Loop() {
		var v any
		if err := json.Unmarshal(smallPayload, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStdlibMedium(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(mediumPayload)))
	for b.Loop() {
		var v any
		if err := json.Unmarshal(mediumPayload, &v); err != nil {
			b.Fatal(err)
		}
	}
}
