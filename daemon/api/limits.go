package api

import (
	"fmt"
	"strings"
	"time"
)

// MaxSpecSize is the largest app definition, in bytes of its JSON
// encoding (mostly its environment and arguments): a start whose definition
// is larger is refused. The daemon's runtime records are sized from it, so
// that every app it starts can be taken over by the next daemon.
const MaxSpecSize = 1 << 20

// The ranges of every number and duration a client may send, and of the
// daemon's own settings in config.toml. The daemon refuses a value out of
// range at the API boundary (and in a dump or runtime record it reads);
// the CLI checks its flags with the same functions, so the two never
// disagree. The bounds keep every arithmetic on them (milliseconds to
// time.Duration, back-off doubling) far from overflow.
const (
	// MinKillTimeout and MaxKillTimeout bound the wait between SIGTERM
	// and SIGKILL (StartRequest.KillTimeoutMs, --kill-timeout,
	// config.toml kill_timeout).
	MinKillTimeout = time.Millisecond
	MaxKillTimeout = 24 * time.Hour

	// MinMaxRestarts and MaxMaxRestarts bound the number of restarts
	// within the window after which an app is errored
	// (StartRequest.MaxRestarts, --max-restarts, config.toml
	// max_restarts).
	MinMaxRestarts = 0
	MaxMaxRestarts = 1_000_000

	// MaxSettingDuration bounds the daemon's other durations in
	// config.toml (restart_delay, restart_delay_max, restart_reset_after,
	// restore_recheck, api_read_timeout), which must also be positive.
	MaxSettingDuration = 24 * time.Hour

	// MinAPIConnections and MaxAPIConnections bound the connections the
	// daemon serves at once (config.toml api_max_connections); each one
	// holds a descriptor.
	MinAPIConnections = 1
	MaxAPIConnections = 1 << 16

	// MaxRequestBytes caps the body of one API request; the daemon
	// answers a larger one with CodeBadRequest, "request too large".
	MaxRequestBytes = 8 << 20
)

// CheckKillTimeout reports whether d is a kill timeout the daemon accepts.
func CheckKillTimeout(d time.Duration) error {
	if d < MinKillTimeout || d > MaxKillTimeout {
		return rangeError(formatDuration(d), formatDuration(MinKillTimeout), formatDuration(MaxKillTimeout))
	}
	return nil
}

// CheckKillTimeoutMs is CheckKillTimeout for a count of milliseconds, as
// the API carries it; it compares without converting, so no value
// overflows into range.
func CheckKillTimeoutMs(ms int64) error {
	if ms < MinKillTimeout.Milliseconds() || ms > MaxKillTimeout.Milliseconds() {
		return rangeError(fmt.Sprintf("%dms", ms), formatDuration(MinKillTimeout), formatDuration(MaxKillTimeout))
	}
	return nil
}

// CheckMaxRestarts reports whether n is a restart limit the daemon accepts.
func CheckMaxRestarts(n int) error {
	if n < MinMaxRestarts || n > MaxMaxRestarts {
		return rangeError(fmt.Sprint(n), fmt.Sprint(MinMaxRestarts), fmt.Sprint(MaxMaxRestarts))
	}
	return nil
}

// CheckAPIConnections reports whether n is a connection cap the daemon
// accepts.
func CheckAPIConnections(n int) error {
	if n < MinAPIConnections || n > MaxAPIConnections {
		return rangeError(fmt.Sprint(n), fmt.Sprint(MinAPIConnections), fmt.Sprint(MaxAPIConnections))
	}
	return nil
}

// CheckSettingDuration reports whether d is a duration the daemon accepts
// for its back-off and recheck settings: positive, at most
// MaxSettingDuration.
func CheckSettingDuration(d time.Duration) error {
	if d <= 0 || d > MaxSettingDuration {
		return fmt.Errorf("must be a positive duration up to %s such as \"100ms\", got %s", formatDuration(MaxSettingDuration), formatDuration(d))
	}
	return nil
}

// rangeError is the message of a value out of its range. Callers put the
// name the user knows in front ("--kill-timeout", "kill_timeout_ms").
func rangeError(got, lo, hi string) error {
	return fmt.Errorf("must be between %s and %s, got %s", lo, hi, got)
}

// formatDuration prints d as Go does, without the zero units it ends
// with ("24h", not "24h0m0s").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
