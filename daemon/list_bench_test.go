package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"opm/daemon/api"
)

// BenchmarkListEncode measures the daemon's side of `opm list` for 1000
// apps without the /proc scan: the snapshot and the JSON encoding.
func BenchmarkListEncode(b *testing.B) {
	w := newFakeWorld(b)
	for i := range 1000 {
		spec := api.Spec{Name: fmt.Sprintf("app%d", i), Command: "sleep 1000", Exec: "/usr/bin/sleep", Argv: []string{"/usr/bin/sleep", "1000"},
			Cwd: "/home/user/project", Env: os.Environ(), Restart: api.RestartAlways, MaxRestarts: 15, KillTimeoutMs: 5000,
			OutLog: "/home/user/.opm/logs/app-out.log", ErrLog: "/home/user/.opm/logs/app-err.log"}
		reply := make(chan result, 1)
		w.handle(startReq{spec: spec, reply: reply})
	}
	for b.Loop() {
		r := w.s.list("")
		for i := range r.apps {
			r.apps[i].Spec.Env = nil
		}
		if _, err := json.Marshal(r.apps); err != nil {
			b.Fatal(err)
		}
	}
}
