package daemon

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// A second daemon for the same home finds the lock and gives up; the
// first serves on.
func TestSecondDaemonSeesLock(t *testing.T) {
	d := startDaemon(t)
	cfg := d.cfg
	cfg.Ready = nil
	err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	if _, err := d.cl.Ping(context.Background()); err != nil {
		t.Fatalf("first daemon unreachable after the second gave up: %v", err)
	}
}

// One daemon per OPM_HOME even when two commands resolved different
// runtime directories for it: the second is refused and told where the
// first one serves.
func TestSecondDaemonOfHomeElsewhereRefused(t *testing.T) {
	d := startDaemon(t)
	cfg := d.cfg
	cfg.Ready = nil
	cfg.RuntimeDir = testkit.ShortTempDir(t)
	err := Run(context.Background(), cfg)
	if err == nil || errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), d.rt) {
		t.Fatalf("second Run elsewhere = %v, want an error naming %s", err, d.rt)
	}
	if _, err := os.Stat(api.SocketPath(cfg.RuntimeDir)); err == nil {
		t.Fatal("the refused daemon left a socket")
	}
}

// Daemons started at the same instant on a fresh runtime directory: the
// kernel lock lets exactly one serve; the others report ErrRunning.
func TestSimultaneousDaemonsOneWins(t *testing.T) {
	cfg := testConfig(t)
	const n = 6
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results := make(chan error, n)
	ready := make(chan int, n)
	var start sync.WaitGroup
	start.Add(1)
	for i := range n {
		c := cfg
		c.Ready = func(int) { ready <- i }
		go func() {
			start.Wait()
			results <- Run(ctx, c)
		}()
	}
	start.Done()
	for range n - 1 {
		if err := <-results; !errors.Is(err, ErrRunning) {
			t.Fatalf("a losing daemon returned %v, want ErrRunning", err)
		}
	}
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the winning daemon never became ready")
	}
	if len(ready) != 0 {
		t.Fatal("two daemons became ready")
	}
	cl := api.NewClient(api.SocketPath(cfg.RuntimeDir))
	if _, err := cl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-results; err != nil {
		t.Fatal(err)
	}
}
