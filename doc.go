// Package webhook gives a Go service incoming webhooks that act on
// records, as Odoo's Studio does for an ERP: an external system POSTs a
// payload to a secret URL; a CEL expression picks the target record(s); the
// configured actions (update a record, create one, run sandboxed
// JavaScript, several in order) run against a pluggable [RecordStore] in
// one transaction; the caller gets 200 {"status":"ok"}; and the call is
// kept in a log.
//
// # Defining webhooks
//
// A [Definition] is plain data. Write it in Go or load it from JSON with
// [LoadDefinitions]:
//
//	{"webhooks": [{
//	  "name": "Update sale order currency",
//	  "model": "sale.order",
//	  "active": true,
//	  "log_calls": true,
//	  "secret": "",
//	  "target": "env[payload.model].browse(int(payload.id))",
//	  "actions": [
//	    {"type": "update", "set": {"currency": "USD"}},
//	    {"type": "update", "compute": {"note": "'updated by ' + payload.model"}, "when": "has(payload.model)"},
//	    {"type": "create", "model": "mail.message", "set": {"kind": "log"}, "compute": {"body": "'currency set'"}, "link_field": "res_id"},
//	    {"type": "code", "code": "log('done')"}
//	  ]
//	}]}
//
// [Registry.Add] compiles every expression and script once; a mistake comes
// back at once as an [*ExprError] or [*ScriptError] with the webhook, the
// field and the line:column, never on the first request.
//
// # Target expressions (CEL)
//
// The target is a CEL expression that sees payload (the parsed body),
// headers (lower-case names), query, model (the webhook's model) and env
// (every model by name). It must yield records:
//
//	model.browse(int(payload.id))                 one record of the webhook's model
//	env[payload._model].browse(int(payload._id))  Odoo's default for Odoo-to-Odoo calls
//	model.browse([2, 3])                          several records
//	model.browse(payload.uuid)                    a text key
//	model.search({"email": payload.email})        records whose fields equal the values
//	model.search({"state": "draft"}, 10)          at most 10 of them
//
// JSON integers arrive as CEL int (exact to 2^63-1), other numbers as
// double; int("7") and int(7) both give 7. A missing key is an error (the
// caller gets 422) unless guarded: has(payload.id) ? ... : ...
// Targets must be of the webhook's model, so a payload cannot steer the
// actions to another model. Actions' when and compute expressions see the
// same variables plus record, the current target record with its id.
//
// # Code actions
//
// A "code" action runs JavaScript in a sandbox (goja): payload, headers,
// query, record, records, env and log are in scope; models offer browse,
// search and create, records write and read; every store call goes through
// the call's transaction. Each run has a wall-time limit (1s by default), a
// call-stack limit, a memory budget and a bound on concurrent runs
// ([ScriptLimits]); it sees nothing of the host, and nothing survives from
// one run to the next. A thrown error fails the call with 422 and the
// thrown message; a script past its limit fails it with 500.
//
// # Trusting the sender
//
// Beyond the secret URL, a definition may require a signature or
// credential ([Verify]: Standard Webhooks, GitHub, Stripe, Shopify, generic
// HMAC, token, basic auth; 401 on failure), run each delivery once
// ([Dedupe]; the delivery ids are claimed in the call's transaction, so two
// instances sharing a database never both run one), accept only some
// addresses (AllowIPs, with [Config.TrustedProxies]; 403), and bound body
// size, nesting, rate and concurrency ([Limits]; 413, 400, 429). Package
// webhooktest signs requests as those senders do, for tests.
//
// # Status codes
//
// 200 {"status":"ok"} on success. Errors answer {"status":"error",
// "error": "<one line>", "call_id": "..."}, the call id also in the
// Webhook-Call-Id header: 401 a failed signature check; 403 an address not
// allowed; 404 an unknown, inactive or rotated-away secret;
// 405 a method other than GET and POST; 400 a malformed body; 413 a body
// over the limit; 422 a payload that does not fit the webhook (missing key,
// wrong type, no such record, empty target, a script that threw); 429 over
// the rate or concurrency limit; 503 too many scripts running; 500 a fault
// on the server side, with no detail in the body (the call log has it).
//
// # All or nothing
//
// When the store is a [Transactor], every call runs in one transaction: a
// failure anywhere rolls back every write of the call. A [Tx] never loses
// an update; a conflict the store reports ([ErrConflict]) reruns the call,
// up to five times.
//
// # Concurrency
//
// [Registry], [Webhook] and [MemoryCallLog] are safe for concurrent use,
// and a registry may be changed (Add, Remove, SetActive, RotateSecret)
// while it serves requests. Stores and call logs passed in must be safe for
// concurrent use too.
//
// # Failures
//
// A method that returns an error has changed nothing: Add that fails
// registers nothing, RotateSecret that fails keeps the old secret. A call
// that fails has written nothing to a transactional store; its call-log
// entry says why, whatever the outcome.
package webhook
