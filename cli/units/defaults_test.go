package units

import (
	"testing"

	"opm/daemon"
)

// TestDaemonDefaults: the defaults repeated here are the daemon's.
func TestDaemonDefaults(t *testing.T) {
	cfg := daemon.DefaultConfig(t.TempDir(), t.TempDir())
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"kill_timeout", DefaultKillTimeout, cfg.KillTimeout},
		{"restore_stall", DefaultRestoreStall, cfg.RestoreStall},
		{"restart_delay", DefaultRestartDelay, cfg.RestartDelay},
		{"restart_reset_after", DefaultRestartResetAfter, cfg.RestartResetAfter},
	} {
		if c.got != c.want {
			t.Errorf("%s: units says %v, the daemon %v", c.name, c.got, c.want)
		}
	}
}
