package daemon

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"opm/daemon/api"
)

// TestListScale times `list` with many apps against a separate daemon
// process and reports its RSS. OPM_TEST_SCALE sets the number of apps
// (default 100; e.g. 1000 for the larger figure).
func TestListScale(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test")
	}
	n := 100
	if v := os.Getenv("OPM_TEST_SCALE"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	home, rt := t.TempDir(), shortTempDir(t)
	cmd, line := spawnMain(t, home, rt)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	if line == "" || line[:5] != "ready" {
		t.Fatalf("readiness %q", line)
	}
	cl := api.NewClient(api.SocketPath(rt))
	defer cl.CloseIdle()
	mark := fmt.Sprintf("opmtest-%d-scale", os.Getpid())
	env := append(os.Environ(), "OPM_TEST_MARK="+mark)
	t0 := time.Now()
	for i := range n {
		req := api.StartRequest{Command: "sleep 1000000", Name: "s" + strconv.Itoa(i), Cwd: home, Env: env}
		if err := cl.Do(context.Background(), http.MethodPost, api.PathApps, req, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d sequential starts: %s", n, time.Since(t0))
	var apps []api.App
	best := time.Hour
	for range 10 {
		t1 := time.Now()
		if err := cl.Do(context.Background(), http.MethodGet, api.PathApps, nil, &apps); err != nil {
			t.Fatal(err)
		}
		best = min(best, time.Since(t1))
	}
	if len(apps) != n {
		t.Fatalf("list has %d apps, want %d", len(apps), n)
	}
	rss := readFile(t, filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "status"))
	t.Logf("GET /v1/apps with %d apps: best of 10 %s; daemon %s", n, best, grep(rss, "VmRSS"))
	if err := cl.Do(context.Background(), http.MethodPost, api.PathSave, nil, nil); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	if err := cl.Do(context.Background(), http.MethodPost, api.PathStop, nil, nil); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	t.Logf("daemon stop with %d apps: %s", n, time.Since(t2))
	cl.CloseIdle()

	// The same home after a container restart: restore them all.
	rt2 := shortTempDir(t)
	cmd2, line := spawnMain(t, home, rt2)
	t.Cleanup(func() {
		if cmd2.ProcessState == nil {
			_ = cmd2.Process.Kill()
			_ = cmd2.Wait()
		}
	})
	if line == "" || line[:5] != "ready" {
		t.Fatalf("readiness %q", line)
	}
	cl2 := api.NewClient(api.SocketPath(rt2))
	defer cl2.CloseIdle()
	var res api.RestoreResult
	t3 := time.Now()
	if err := cl2.Do(context.Background(), http.MethodPost, api.PathRestore, nil, &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("restore of %d apps: %s (%d started, %d failed)", n, time.Since(t3), len(res.Started), len(res.Failed))
	if len(res.Started) != n || len(markedProcs(mark)) != n {
		t.Fatalf("restore started %d, %d processes; want %d", len(res.Started), len(markedProcs(mark)), n)
	}
	if err := cl2.Do(context.Background(), http.MethodPost, api.PathStop, nil, nil); err != nil {
		t.Fatal(err)
	}
	_ = cmd2.Wait()
}

func grep(s, prefix string) string {
	for _, l := range splitLines(s) {
		if len(l) >= len(prefix) && l[:len(prefix)] == prefix {
			return l
		}
	}
	return ""
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}
