package daemon

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/store"
	"opm/daemon/testkit"
)

// Stopping the daemon stops its apps, even one that ignores SIGTERM, and
// leaves no socket and no runtime record.
func TestShutdownStopsAppsAndRemovesSocket(t *testing.T) {
	d := startDaemon(t)
	a, b := d.start("a", "block"), d.start("b", "ignore-term")
	var st api.DaemonStatus
	if err := d.cl.Do(context.Background(), http.MethodPost, api.PathStop, nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.PID != os.Getpid() {
		t.Fatalf("stop answered %+v", st)
	}
	select {
	case err := <-d.done:
		d.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not exit after POST /v1/daemon/stop")
	}
	if testkit.Alive(a.PID) || testkit.Alive(b.PID) {
		t.Fatal("apps survived the daemon stop")
	}
	if _, err := os.Lstat(api.SocketPath(d.rt)); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
	// The table dies with the daemon: no record is left to adopt.
	if ents, err := os.ReadDir(filepath.Join(d.rt, store.RecordsDir)); err != nil || len(ents) != 0 {
		t.Fatalf("runtime records left: %v, %v", ents, err)
	}
}
