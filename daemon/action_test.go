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

// restart replaces the process with one started from the same definition,
// its environment too; flush empties the app's logs.
func TestRestartAction(t *testing.T) {
	d := startDaemon(t)
	a, err := d.startReq(d.req("envy", "print-env", "OPM_TEST_COLOR=blue"))
	if err != nil {
		t.Fatal(err)
	}
	printed := func(n int) func() bool {
		return func() bool { return strings.Count(readFile(t, a.Spec.OutLog), "OPM_TEST_COLOR=blue") == n }
	}
	testkit.WaitFor(t, "env printed", 5*time.Second, printed(1))
	apps, err := d.action("envy", "restart")
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
	testkit.WaitFor(t, "env printed again", 5*time.Second, printed(2))

	var flushed []api.App
	if err := d.cl.Do(context.Background(), http.MethodPost, api.PathFlush, api.FlushRequest{Target: "envy"}, &flushed); err != nil {
		t.Fatal(err)
	}
	if s := readFile(t, a.Spec.OutLog); s != "" {
		t.Fatalf("log after flush = %q", s)
	}
}
