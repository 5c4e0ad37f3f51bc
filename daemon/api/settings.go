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
