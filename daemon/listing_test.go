package daemon

import (
	"encoding/json"
	"testing"

	"opm/daemon/api"
)

// A listing's apps carry their spec as it is now: an encoding kept from
// an earlier listing serves only while the spec and the form (with or
// without the environment) are the same; apps gone are forgotten.
func TestSpecCache(t *testing.T) {
	var c specCache
	spec := api.Spec{Name: "web", Argv: []string{"/bin/sleep", "1"}, Env: []string{"A=1"}}
	decode := func(b json.RawMessage) api.Spec {
		t.Helper()
		var s api.Spec
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	full := c.encoded(1, false, &spec)
	if s := decode(full); len(s.Env) != 1 || s.Env[0] != "A=1" {
		t.Fatalf("full form: %+v", s)
	}
	if again := c.encoded(1, false, &spec); &again[0] != &full[0] {
		t.Error("an unchanged spec was encoded again")
	}
	summary := spec
	summary.Env = nil
	if s := decode(c.encoded(1, true, &summary)); len(s.Env) != 0 {
		t.Fatalf("summary form has the environment: %v", s.Env)
	}
	spec.Env = []string{"A=2"}
	if s := decode(c.encoded(1, false, &spec)); s.Env[0] != "A=2" {
		t.Fatalf("after a new environment: %v", s.Env)
	}
	c.keepOnly([]api.App{{ID: 2}})
	if len(c.m) != 0 {
		t.Fatalf("%d entries kept for apps gone", len(c.m))
	}

	// An app's JSON with its spec encoded beforehand is the JSON of the
	// app encoding its spec itself.
	a := api.App{ID: 1, Name: "web", Status: "online", Spec: spec}
	plain, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	a.SpecJSON = c.encoded(1, false, &spec)
	cached, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var x, y map[string]any
	if json.Unmarshal(plain, &x) != nil || json.Unmarshal(cached, &y) != nil {
		t.Fatal("undecodable app JSON")
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	if string(xb) != string(yb) {
		t.Fatalf("with the spec encoded beforehand:\n%s\nwant\n%s", yb, xb)
	}
}
