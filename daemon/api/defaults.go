package api

import "time"

// The daemon's defaults for config.toml's settings that commands compute
// from too (`opm startup`'s timeouts, `opm export`'s mappings): the daemon
// takes them from here, so both sides say the same.
const (
	// DefaultKillTimeout is kill_timeout: the wait between an app's kill
	// signal and SIGKILL.
	DefaultKillTimeout = 5 * time.Second
	// DefaultRestoreStall is restore_stall: how long a restore on start
	// waits for another restore that holds the restore flag.
	DefaultRestoreStall = time.Minute
	// DefaultRestartDelay is restart_delay: the first back-off before a
	// restart.
	DefaultRestartDelay = 100 * time.Millisecond
	// DefaultRestartResetAfter is restart_reset_after: a run shorter
	// than that counts towards max_restarts (an app's min_uptime).
	DefaultRestartResetAfter = 30 * time.Second
)
