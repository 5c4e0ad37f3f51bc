package daemon

import (
	"fmt"
	"os"
	"path/filepath"

	"opm/daemon/api"
)

// logPaths returns an app's stdout and stderr log files.
func logPaths(home, name string) (out, err string) {
	dir := filepath.Join(home, api.LogsDir)
	return filepath.Join(dir, name+"-out.log"), filepath.Join(dir, name+"-err.log")
}

// openLog opens a log file for appending, creating it when needed.
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	return f, nil
}

// flushLogs empties an app's log files. The app keeps writing to them:
// they are open with O_APPEND, so its next line lands at the new end.
func flushLogs(spec api.Spec) error {
	for _, p := range []string{spec.OutLog, spec.ErrLog} {
		if err := os.Truncate(p, 0); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("flush log %s: %w", p, err)
		}
	}
	return nil
}
