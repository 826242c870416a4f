package webhook

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeaderKeyMatchesCEL checks that a dedupe key read straight from a
// header answers exactly as evaluating the expression does.
func TestHeaderKeyMatchesCEL(t *testing.T) {
	for _, src := range []string{"headers['webhook-id']", "headers.xdelivery", `headers["x-github-delivery"]`} {
		e, err := compileExpr("w", "dedupe.key", src, nil)
		require.NoError(t, err)
		require.NotEmpty(t, e.header, "%s is read straight from the request", src)
		slow := *e
		slow.header = ""
		for name, set := range map[string]func(h map[string][]string){
			"present":  func(h map[string][]string) { h[e.header] = []string{"msg_1"} },
			"repeated": func(h map[string][]string) { h[e.header] = []string{"a", "b"} },
			"empty":    func(h map[string][]string) { h[e.header] = []string{""} },
			"absent":   func(map[string][]string) {},
		} {
			t.Run(src+" "+name, func(t *testing.T) {
				req := httptest.NewRequest("POST", "/", nil)
				set(req.Header)
				fast := &call{ctx: context.Background(), req: req, w: &Webhook{}}
				cel := &call{ctx: context.Background(), req: req, w: &Webhook{}}
				ferr, cerr := fast.deliveryKey(e), cel.deliveryKey(&slow)
				assert.Equal(t, cel.delivery, fast.delivery)
				if cerr == nil {
					assert.NoError(t, ferr)
				} else {
					assert.EqualError(t, ferr, cerr.Error())
				}
			})
		}
	}
	for _, src := range []string{"headers['Webhook-Id']", "headers['a b']", "headers['webhook-id'] + ''", "payload.id", "has(headers.x)"} {
		e, err := compileExpr("w", "dedupe.key", src, nil)
		require.NoError(t, err)
		assert.Empty(t, e.header, "%s is evaluated", src)
	}
}
