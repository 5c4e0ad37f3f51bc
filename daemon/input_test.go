package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"opm/daemon/api"
	"opm/daemon/appspec"
)

// Numbers a client sends are checked against the ranges of daemon/api:
// 2^63-1 ms of kill timeout used to wrap to a negative duration and
// SIGKILL the app at once.
func TestStartRefusesOutOfRangeNumbers(t *testing.T) {
	d := startDaemon(t)
	intp := func(n int) *int { return &n }
	tests := []struct {
		name   string
		mutate func(*api.StartRequest)
		want   string // in the message; "" means accepted
	}{
		{"kill timeout 2^63-1 ms", func(r *api.StartRequest) { r.KillTimeoutMs = math.MaxInt64 }, "kill_timeout_ms must be between 1ms and 24h"},
		{"kill timeout negative", func(r *api.StartRequest) { r.KillTimeoutMs = -1 }, "kill_timeout_ms must be between 1ms and 24h"},
		{"kill timeout 24h and 1ms", func(r *api.StartRequest) { r.KillTimeoutMs = 86_400_001 }, "kill_timeout_ms must be between 1ms and 24h"},
		{"max restarts negative", func(r *api.StartRequest) { r.MaxRestarts = intp(-1) }, "max_restarts must be between 0 and 1000000"},
		{"max restarts too many", func(r *api.StartRequest) { r.MaxRestarts = intp(1_000_001) }, "max_restarts must be between 0 and 1000000"},
		{"limits at the top of the range", func(r *api.StartRequest) { r.KillTimeoutMs, r.MaxRestarts = 86_400_000, intp(1_000_000) }, ""},
		{"limits at the bottom of the range", func(r *api.StartRequest) { r.KillTimeoutMs, r.MaxRestarts = 1, intp(0) }, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := d.req("app"+strings.Repeat("x", i), "block")
			tt.mutate(&req)
			app, err := d.startReq(req)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if app.Spec.KillTimeoutMs != req.KillTimeoutMs || app.Spec.MaxRestarts != *req.MaxRestarts {
					t.Fatalf("spec limits %d ms, %d restarts; want %d, %d", app.Spec.KillTimeoutMs, app.Spec.MaxRestarts, req.KillTimeoutMs, *req.MaxRestarts)
				}
				return
			}
			if apiCode(err) != api.CodeBadRequest || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want bad_request containing %q", err, tt.want)
			}
		})
	}
	if n := len(d.list()); n != 2 {
		t.Fatalf("%d apps registered, want the 2 in range", n)
	}
}

// A saved or recorded definition is held to the same rules as one sent:
// ranges and names.
func TestCheckSpec(t *testing.T) {
	good := api.Spec{Name: "web", Exec: "/bin/true", Argv: []string{"/bin/true"}, Cwd: "/", Restart: api.RestartAlways,
		MaxRestarts: 15, KillTimeoutMs: 5000, OutLog: "/tmp/o", ErrLog: "/tmp/e"}
	if err := appspec.Check(good); err != nil {
		t.Fatalf("good spec refused: %v", err)
	}
	for _, tt := range []struct {
		name   string
		mutate func(*api.Spec)
		want   string
	}{
		{"kill timeout 2^63-1 ms", func(s *api.Spec) { s.KillTimeoutMs = math.MaxInt64 }, "must be between"},
		{"kill timeout 0", func(s *api.Spec) { s.KillTimeoutMs = 0 }, "must be between"},
		{"max restarts too many", func(s *api.Spec) { s.MaxRestarts = 1 << 40 }, "must be between"},
		{"bidi name", func(s *api.Spec) { s.Name = "\u202eweb" }, "U+202E"},
		{"C1 name", func(s *api.Spec) { s.Name = "web\u0085" }, "U+0085"},
	} {
		s := good
		tt.mutate(&s)
		if err := appspec.Check(s); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// A body over the cap is answered "request too large" with the limit, not
// as the broken JSON it was cut down to; a body of exactly the cap is
// read and handled.
func TestRequestTooLarge(t *testing.T) {
	d := startDaemon(t)
	// body is a JSON object of exactly n bytes: head, padding, tail.
	body := func(n int, head, tail string) json.RawMessage {
		return json.RawMessage(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
	}
	ctx := context.Background()
	want := fmt.Sprintf("request too large (limit %d bytes)", api.MaxRequestBytes)
	for _, size := range []int{api.MaxRequestBytes + 1, 3 * api.MaxRequestBytes} {
		req := body(size, `{"command":"true","env":["A=`, `"]}`)
		err := d.cl.Do(ctx, http.MethodPost, api.PathApps, req, nil)
		if apiCode(err) != api.CodeBadRequest || err.Error() != want {
			t.Errorf("start with a %d-byte body: err = %v, want bad_request %q", size, err, want)
		}
	}
	atCap := body(api.MaxRequestBytes, `{"target":"`, `"}`)
	err := d.cl.Do(ctx, http.MethodPost, api.PathFlush, atCap, nil)
	if apiCode(err) != api.CodeNotFound {
		t.Errorf("flush with a body of exactly the cap: err = %v, want not_found (no such app)", err)
	}
	if n := len(d.list()); n != 0 {
		t.Errorf("%d apps registered by refused requests", n)
	}
}
