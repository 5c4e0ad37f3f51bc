package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"opm/daemon/api"
	"opm/daemon/testkit"
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
			t.Logf("process %d: %s", pid, testkit.Cmdline(pid))
		}
		t.Fatalf("marked processes %v, want only the daemon %d", procs, st.PID)
	}
}
