package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
	"opm/shm"
)

// The restore flag page shrinks under a running daemon: truncated to
// nothing (any access to the mapping faults) or to a few bytes (its words
// read zero). The daemon carries on with the same pid — it restarts a
// crashed app, answers `opm daemon status`, serves `opm restore` — maps
// the rebuilt page, so that it sees the next restore, and says what
// happened in daemon.log.
func TestShrunkFlagPage(t *testing.T) {
	t.Parallel()
	for _, size := range []int64{0, 3} {
		t.Run(fmt.Sprintf("%d bytes", size), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.startApp("web", "block")
			e.ok("save")
			daemon := e.daemonStatus().PID
			page := filepath.Join(e.runtime, shm.FlagName)
			if err := os.Truncate(page, size); err != nil {
				t.Fatal(err)
			}

			// A crash: the daemon's restart decision asks the flag.
			old := e.waitStatus("web", api.StatusOnline, cmdTimeout)
			if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			testkit.WaitFor(t, "the crashed app to be restarted", 20*time.Second, func() bool {
				a := e.app("web")
				return a.Status == api.StatusOnline && a.PID != old.PID && a.Restarts > old.Restarts
			})
			if r := e.ok("daemon", "status"); !strings.Contains(r.stdout, "restore flag: idle") {
				t.Errorf("daemon status after the page shrank:\n%s", r.stdout)
			}
			if r := e.ok("restore"); !strings.Contains(r.stdout, "1 already running") {
				t.Errorf("restore after the page shrank: %v", r)
			}
			if pid := e.daemonStatus().PID; pid != daemon || len(e.daemons()) != 1 {
				t.Fatalf("daemon pid %d, daemons %v; want the same daemon %d, alone", pid, e.daemons(), daemon)
			}
			if fi, err := os.Stat(page); err != nil || fi.Size() != shm.PageSize {
				t.Errorf("the page was not rebuilt: %v, %v", fi, err)
			}

			// The daemon sees a restore that holds the rebuilt page.
			holder := e.holdFlag()
			if st := e.daemonStatus(); !st.Restore.InProgress || st.Restore.OwnerPID != holder.Pid() {
				t.Errorf("daemon sees restore flag %+v, want held by pid %d", st.Restore, holder.Pid())
			}
			holder.Kill()

			if log := e.daemonLog(); !strings.Contains(log, "event=flag-remapped") || !strings.Contains(log, shm.FlagName) {
				t.Errorf("daemon.log does not say the page was mapped again:\n%s", log)
			}
		})
	}
}
