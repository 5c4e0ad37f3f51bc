package daemon

import (
	"encoding/json"
	"testing"

	"opm/daemon/api"
	"opm/daemon/store"
)

// A record carries the app's spec as it is now: the encoding kept from
// an earlier record is used only while the spec is unchanged.
func TestRecordSpecEncoding(t *testing.T) {
	a := &app{id: 3, spec: api.Spec{Name: "web", Argv: []string{"/bin/sleep", "1"}, Env: []string{"A=1"}}}
	decode := func() api.Spec {
		t.Helper()
		b, err := json.Marshal(recordOf(a))
		if err != nil {
			t.Fatal(err)
		}
		var rec store.Record
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.ID != 3 {
			t.Fatalf("record id %d, want 3", rec.ID)
		}
		return rec.Spec
	}
	if s := decode(); s.Name != "web" || len(s.Env) != 1 || s.Env[0] != "A=1" {
		t.Fatalf("first record's spec: %+v", s)
	}
	first := a.specJSON.json
	decode()
	if &first[0] != &a.specJSON.json[0] {
		t.Error("an unchanged spec was encoded again")
	}
	a.spec.Env = []string{"A=2"}
	if s := decode(); len(s.Env) != 1 || s.Env[0] != "A=2" {
		t.Fatalf("after a new environment the record holds %+v", s.Env)
	}
	a.spec.Instances = 4
	if s := decode(); s.Instances != 4 {
		t.Fatalf("after a new count the record holds %d instances", s.Instances)
	}
}
