package api

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// MaxExitCode is the highest exit status a process can report.
const MaxExitCode = 255

// CheckSettingMs is CheckSettingDuration for a count of milliseconds, as
// the API carries the per-app settings (restart delay, exponential
// back-off, minimum uptime): positive, at most MaxSettingDuration. It
// compares without converting, so no value overflows into range. Zero
// means the daemon's default and is for the caller to allow.
func CheckSettingMs(ms int64) error {
	if ms <= 0 || ms > MaxSettingDuration.Milliseconds() {
		return fmt.Errorf("must be a positive number of milliseconds up to %d (%s), got %d", MaxSettingDuration.Milliseconds(), formatDuration(MaxSettingDuration), ms)
	}
	return nil
}

// CheckExitCode refuses a number that no process can exit with, in a
// list of exit codes that stop an app from being restarted.
func CheckExitCode(n int) error {
	if n < 0 || n > MaxExitCode {
		return rangeError(fmt.Sprint(n), "0", fmt.Sprint(MaxExitCode))
	}
	return nil
}

// CheckSettings reports what is wrong with an app's per-app settings, the
// name of the setting first ("restart_delay_ms must be ..."); zero values
// mean the daemon's default and are fine.
func CheckSettings(s Settings) error {
	if s.KillSignal != "" {
		if err := CheckSignal(s.KillSignal); err != nil {
			return fmt.Errorf("kill_signal: %w", err)
		}
	}
	for _, d := range []struct {
		name string
		ms   int64
	}{
		{"restart_delay_ms", s.RestartDelayMs},
		{"exp_backoff_restart_delay_ms", s.ExpBackoffRestartDelayMs},
		{"min_uptime_ms", s.MinUptimeMs},
	} {
		if d.ms == 0 {
			continue
		}
		if err := CheckSettingMs(d.ms); err != nil {
			return fmt.Errorf("%s %w", d.name, err)
		}
	}
	for _, c := range s.StopExitCodes {
		if err := CheckExitCode(c); err != nil {
			return fmt.Errorf("stop_exit_codes %w", err)
		}
	}
	if s.ListenTimeoutMs != 0 {
		if err := CheckSettingMs(s.ListenTimeoutMs); err != nil {
			return fmt.Errorf("listen_timeout %w", err)
		}
	}
	if s.WatchDelayMs != 0 {
		if err := CheckSettingMs(s.WatchDelayMs); err != nil {
			return fmt.Errorf("watch_delay %w", err)
		}
	}
	for _, p := range append(append([]string(nil), s.WatchPaths...), s.IgnoreWatch...) {
		if p == "" || strings.ContainsRune(p, 0) {
			return fmt.Errorf("watch: %q is not a path or pattern (empty, or with a NUL byte)", p)
		}
	}
	for _, g := range s.IgnoreWatch {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("ignore_watch: %q is not a glob pattern: %v", g, err)
		}
	}
	if s.MaxMemoryRestart != 0 {
		if err := CheckMemoryLimit(s.MaxMemoryRestart); err != nil {
			return fmt.Errorf("max_memory_restart %w", err)
		}
	}
	if s.CronRestart != "" {
		if _, err := ParseCron(s.CronRestart); err != nil {
			return fmt.Errorf("cron_restart: %w", err)
		}
	}
	if err := CheckInstances(s.Instances); err != nil {
		return err
	}
	for _, v := range []struct{ key, name string }{{"increment_var", s.IncrementVar}, {"instance_var", s.InstanceVar}} {
		if v.name != "" {
			if err := CheckEnvName(v.key, v.name); err != nil {
				return err
			}
		}
	}
	if err := CheckHooks(s.Hooks); err != nil {
		return err
	}
	return CheckLogSettings(s.LogSettings)
}

// Memory limits: at least MinMemoryLimit, at most MaxMemoryLimit.
const (
	MinMemoryLimit = 1 << 20
	MaxMemoryLimit = 1 << 50
)

// CheckMemoryLimit refuses a max_memory_restart out of range.
func CheckMemoryLimit(n int64) error {
	if n < MinMemoryLimit || n > MaxMemoryLimit {
		return fmt.Errorf("must be between %s and %s, got %s", FormatSize(MinMemoryLimit), FormatSize(MaxMemoryLimit), FormatSize(n))
	}
	return nil
}

// ParseMemory reads a memory size as PM2 writes them (200M, 1G, 512K,
// or bytes) and checks its range.
func ParseMemory(s string) (int64, error) {
	n, err := parseSize(s, MaxMemoryLimit)
	if err != nil {
		return 0, err
	}
	return n, CheckMemoryLimit(n)
}

// DefaultListenTimeout is how long an app that waits for readiness has
// to say it is ready (PM2's listen_timeout default).
const DefaultListenTimeout = 3 * time.Second

// ListenTimeout is how long the app may take to say READY=1: its
// listen_timeout, or DefaultListenTimeout.
func (s Settings) ListenTimeout() time.Duration {
	if s.ListenTimeoutMs > 0 {
		return time.Duration(s.ListenTimeoutMs) * time.Millisecond
	}
	return DefaultListenTimeout
}

// ServiceEnvName names the service a service manager runs the daemon as
// (set by the units of `opm startup`).
const ServiceEnvName = "OPM_SERVICE"

// NotifySocketEnv names the socket an app says READY=1 on (sd_notify).
const NotifySocketEnv = "NOTIFY_SOCKET"
