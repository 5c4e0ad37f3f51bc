package api

import "fmt"

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
	if s.CronRestart != "" {
		if _, err := ParseCron(s.CronRestart); err != nil {
			return fmt.Errorf("cron_restart: %w", err)
		}
	}
	return CheckLogSettings(s.LogSettings)
}
