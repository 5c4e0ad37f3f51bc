package main

import (
	"testing"
	"time"

	"opm/daemon/api"
)

// Stop signals the whole process group: grandchildren die too, even one
// that ignores SIGTERM (SIGKILL after the kill timeout).
func TestStopKillsGrandchild(t *testing.T) {
	t.Parallel()
	tests := []struct{ mode, killTimeout string }{
		{"grandchild", "2s"},
		{"grandchild-stubborn", "300ms"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			app := e.startApp(tt.mode, tt.mode, "--kill-timeout", tt.killTimeout)
			gc := e.waitLogPID(tt.mode, "grandchild ", 1)
			if !alive(gc) || !alive(app.PID) {
				t.Fatalf("app %d or grandchild %d not running", app.PID, gc)
			}
			begin := time.Now()
			e.ok("stop", tt.mode)
			e.waitFor("the app and its grandchild to die", 10*time.Second, func() bool {
				return !alive(app.PID) && !alive(gc)
			})
			t.Logf("stopped in %s", time.Since(begin))
			if got := e.app(tt.mode); got.Status != api.StatusStopped || got.PID != 0 {
				t.Errorf("after stop: %+v", got)
			}
		})
	}
}
