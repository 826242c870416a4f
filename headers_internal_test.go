package webhook

import (
	"context"
	"net/http/httptest"
	"testing"

	"cel.dev/cel-go/interpreter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plainHeaders resolves `headers` to the whole map, as headerValue's
// answers must match.
type plainHeaders struct{ c *call }

func (p plainHeaders) ResolveName(name string) (any, bool) {
	if name == "headers" {
		return p.c.headerMap(), true
	}
	return nil, false
}

func (p plainHeaders) Parent() interpreter.Activation { return nil }

// TestHeadersReadLazilyMatchTheMap checks that expressions (dedupe keys
// among them) answer the same, errors included, whether `headers` reads
// the request lazily or is the whole map.
func TestHeadersReadLazilyMatchTheMap(t *testing.T) {
	sources := []string{
		"headers['webhook-id']", "headers.xdelivery", `headers["x-github-delivery"]`, "headers['Webhook-Id']",
		"has(headers.xdelivery)", "'webhook-id' in headers", "headers.size()", "headers.exists(k, k == 'webhook-id')",
		"headers == {'webhook-id': 'msg_1'}", "headers[dyn(1)]",
	}
	for name, set := range map[string]func(h map[string][]string){
		"present": func(h map[string][]string) {
			h["Webhook-Id"] = []string{"msg_1"}
			h["X-Github-Delivery"] = []string{"d"}
		},
		"repeated": func(h map[string][]string) { h["Webhook-Id"] = []string{"a", "b"}; h["Xdelivery"] = []string{"x"} },
		"empty":    func(h map[string][]string) { h["Webhook-Id"] = []string{""} },
		"absent":   func(map[string][]string) {},
	} {
		for _, src := range sources {
			t.Run(name+" "+src, func(t *testing.T) {
				e, err := compileExpr("w", "dedupe.key", src, nil)
				require.NoError(t, err)
				req := httptest.NewRequest("POST", "/", nil)
				set(req.Header)
				lazy := &call{ctx: context.Background(), req: req, w: &Webhook{}}
				plain := &call{ctx: context.Background(), req: req, w: &Webhook{}}
				got, gerr := lazy.eval(e, "dedupe.key", nil)
				want, _, werr := e.prog.Eval(plainHeaders{plain})
				if werr == nil {
					require.NoError(t, gerr)
					assert.Equal(t, want.Value(), got.Value())
				} else {
					assert.EqualError(t, gerr, (&EvalError{Field: "dedupe.key", Err: werr}).Error())
				}
				lerr, perr := lazy.deliveryKey(e), plain.deliveryKey(e)
				assert.Equal(t, plain.delivery, lazy.delivery)
				if perr == nil {
					assert.NoError(t, lerr)
				} else {
					assert.EqualError(t, lerr, perr.Error())
				}
			})
		}
	}
}
