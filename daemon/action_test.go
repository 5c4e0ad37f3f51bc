package daemon

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// restart replaces the process.
func TestRestartAction(t *testing.T) {
	d := startDaemon(t)
	a := d.start("svc", "block")
	apps, err := d.action("svc", "restart")
	if err != nil {
		t.Fatal(err)
	}
	b := apps[0]
	if b.Status != api.StatusOnline || b.PID == a.PID || b.Restarts != 1 {
		t.Fatalf("after restart: %+v (old pid %d)", b, a.PID)
	}
	if testkit.Alive(a.PID) {
		t.Fatal("old process still alive")
	}
	if got := d.procs(); len(got) != 1 || got[0] != b.PID {
		t.Fatalf("processes %v, want just %d", got, b.PID)
	}
}

// The environment an app was started with is its environment on every
// restart; flush empties its logs.
func TestEnvKeptAcrossRestarts(t *testing.T) {
	d := startDaemon(t)
	req := d.req("envy", "print-env")
	req.Env = append(req.Env, "OPM_TEST_COLOR=blue")
	a, err := d.startReq(req)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "env printed", 5*time.Second, func() bool { return strings.Count(readFile(t, a.Spec.OutLog), "OPM_TEST_COLOR=blue") == 1 })
	if _, err := d.action("envy", "restart"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "env printed again", 5*time.Second, func() bool { return strings.Count(readFile(t, a.Spec.OutLog), "OPM_TEST_COLOR=blue") == 2 })

	// Flush empties the logs.
	var flushed []api.App
	if err := d.cl.Do(context.Background(), http.MethodPost, api.PathFlush, api.FlushRequest{Target: "envy"}, &flushed); err != nil {
		t.Fatal(err)
	}
	if s := readFile(t, a.Spec.OutLog); s != "" {
		t.Fatalf("log after flush = %q", s)
	}
}
