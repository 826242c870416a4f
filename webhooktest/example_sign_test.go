package webhooktest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hookline/webhook/webhooktest"
)

// A test sends a webhook exactly as GitHub would: the signature covers the
// body passed to the signer, so the request must carry the same bytes.
func ExampleSignGitHub() {
	body := []byte("Hello, World!")
	req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(string(body)))
	webhooktest.SignGitHub(req, "It's a Secret to Everybody", body)
	fmt.Println(req.Header.Get("X-Hub-Signature-256"))
	// Output:
	// sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17
}

// Signing twice for the same message sends both signatures, as a sender
// does while a secret is being rotated; a receiver that knows either
// secret accepts the request.
func ExampleSignStandardWebhooks() {
	body := []byte(`{"test": 2432232314}`)
	req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(string(body)))
	ts := time.Unix(1614265330, 0)
	webhooktest.SignStandardWebhooks(req, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
	webhooktest.SignStandardWebhooks(req, "whsec_c2Vjb25kIHNlY3JldCBpbiByb3RhdGlvbg==", "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
	for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		fmt.Printf("%s: %s\n", h, req.Header.Get(h))
	}
	// Output:
	// webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
	// webhook-timestamp: 1614265330
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,C2CN1auGpR6nfw2odtfHDefCLWdpezxQAXv4Y+pHIa8=
}

func ExampleSignStripe() {
	body := []byte(`{"id":"evt_test_webhook","object":"event"}`)
	req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(string(body)))
	webhooktest.SignStripe(req, "whsec_test_secret", time.Unix(1614265330, 0), body)
	fmt.Println(req.Header.Get("Stripe-Signature"))
	// Output:
	// t=1614265330,v1=3c5817089d739023dd6190f70a3757e04f7a2fd8b5dab12c2e000f51970dccff
}
