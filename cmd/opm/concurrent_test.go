package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"opm/daemon/api"
)

// runAll runs every command at the same instant (as far as a barrier
// allows) and returns their results in order.
func (e *env) runAll(cmds [][]string) []result {
	results := make([]result, len(cmds))
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i, args := range cmds {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			results[i] = e.run(args...)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return results
}

// Ten `opm list` at once with no daemon: one daemon, ten right answers.
func TestConcurrentListStartsOneDaemon(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cmds := make([][]string, 10)
	for i := range cmds {
		cmds[i] = []string{"list", "--json"}
	}
	for _, r := range e.runAll(cmds) {
		if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("%v", r)
		}
	}
	var st api.DaemonStatus
	if r := e.ok("daemon", "status", "--json"); json.Unmarshal([]byte(r.stdout), &st) != nil || st.PID <= 0 {
		t.Fatalf("daemon status --json: %v", r)
	}
	if procs := e.marked(); len(procs) != 1 || procs[0] != st.PID {
		for _, pid := range procs {
			t.Logf("process %d: %s", pid, cmdline(pid))
		}
		t.Fatalf("marked processes %v, want only the daemon %d", procs, st.PID)
	}
}

// Fifty mixed commands at once leave a table that agrees with itself and
// with the processes that actually run.
func TestConcurrentCommandsConsistent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const apps = 20
	var cmds [][]string
	for i := range apps {
		cmds = append(cmds, []string{"start", os.Args[0], "--name", fmt.Sprintf("c%d", i), "--env", "OPM_TEST_CHILD=block"})
	}
	for i := range 15 {
		cmds = append(cmds, []string{"stop", fmt.Sprintf("c%d", i)})
	}
	for range 15 {
		cmds = append(cmds, []string{"list", "--json"})
	}
	begin := time.Now()
	results := e.runAll(cmds)
	t.Logf("%d commands in %s", len(cmds), time.Since(begin))
	for i, r := range results {
		switch {
		case r.code == 0:
		case cmds[i][0] == "stop" && r.code == 2 && strings.Contains(r.stderr, "opm list"):
			// The stop ran before its app existed.
		default:
			t.Errorf("%v", r)
		}
	}
	list := e.list()
	if len(list) != apps {
		t.Fatalf("%d apps, want %d: %+v", len(list), apps, list)
	}
	ids, names := map[int]bool{}, map[string]bool{}
	online := map[int]bool{}
	for _, a := range list {
		if ids[a.ID] || names[a.Name] {
			t.Errorf("duplicate id or name: %+v", a)
		}
		ids[a.ID], names[a.Name] = true, true
		switch a.Status {
		case api.StatusOnline:
			if a.PID <= 0 || !alive(a.PID) {
				t.Errorf("online app without a live process: %+v", a)
			}
			online[a.PID] = true
		case api.StatusStopped:
			if a.PID != 0 {
				t.Errorf("stopped app with a pid: %+v", a)
			}
		default:
			t.Errorf("app in status %s after the dust settled: %+v", a.Status, a)
		}
	}
	// Exactly the daemon and the online apps run.
	daemon := e.daemonStatus().PID
	for _, pid := range e.marked() {
		if pid != daemon && !online[pid] {
			t.Errorf("process %d runs but no app owns it: %s", pid, cmdline(pid))
		}
	}
	if got, want := len(e.marked()), len(online)+1; got != want {
		t.Errorf("%d marked processes, want %d (daemon + online apps)", got, want)
	}
}
