package store

import (
	"encoding/json"
	"reflect"
	"testing"

	"opm/daemon/api"
)

// A record written with its spec encoded beforehand reads back as the
// record written with the spec encoded on the spot.
func TestRecordSpecJSON(t *testing.T) {
	spec := api.Spec{Name: "web", Command: "node app.js", Argv: []string{"node", "app.js"}, Env: []string{"PATH=/bin"}}
	r := Record{ID: 2, Spec: spec, Want: WantRunning, PID: 42, Start: 7, Restarts: 1}
	plain, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if r.SpecJSON, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	cached, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var x, y Record
	if err := json.Unmarshal(plain, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cached, &y); err != nil {
		t.Fatalf("%v: %s", err, cached)
	}
	if !reflect.DeepEqual(x, y) || y.Spec.Name != "web" || y.PID != 42 {
		t.Errorf("record with SpecJSON reads back as %+v, want %+v", y, x)
	}
}
