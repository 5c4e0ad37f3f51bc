package logs

import (
	"path/filepath"
	"strconv"
	"strings"

	"opm/daemon/api"
)

// Paths returns the default stdout and stderr log files of the app name
// when the logs are in their default place, <home>/logs.
func Paths(home, name string) (out, err string) {
	return PathsIn(filepath.Join(home, api.LogsDir), name)
}

// PathsIn returns the default stdout and stderr log files of the app name
// in the log directory dir (the daemon's, api.DaemonStatus.LogDir).
func PathsIn(dir, name string) (out, err string) {
	return filepath.Join(dir, name+"-out.log"), filepath.Join(dir, name+"-err.log")
}

// Own is OwnIn with the logs in their default place, <home>/logs.
func Own(spec *api.Spec, home string) { OwnIn(spec, filepath.Join(home, api.LogsDir)) }

// OwnIn sets spec's log paths from its name and its log settings: the
// defaults in the log directory dir, or its out_file, error_file and log_file (relative
// to its working directory), each with the instance's suffix
// (InstancePath) unless the app merges its instances' logs. The paths a
// spec carries are never trusted as such (the dump, a runtime record):
// they are derived again from what the user asked for.
func OwnIn(spec *api.Spec, dir string) {
	spec.OutLog, spec.ErrLog = PathsIn(dir, spec.Name)
	spec.CombinedLog = ""
	resolve := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(spec.Cwd, p)
	}
	if p := resolve(spec.OutFile); p != "" {
		spec.OutLog = p
	}
	if p := resolve(spec.ErrorFile); p != "" {
		spec.ErrLog = p
	}
	spec.CombinedLog = resolve(spec.LogFile)
	if spec.CombinedLog == api.DevNull {
		spec.CombinedLog = ""
	}
	if spec.Instance > 0 && !spec.MergeLogs {
		spec.OutLog = InstancePath(spec.OutLog, spec.Instance)
		spec.ErrLog = InstancePath(spec.ErrLog, spec.Instance)
		spec.CombinedLog = InstancePath(spec.CombinedLog, spec.Instance)
	}
}

// InstancePath is the log file of instance i of an app whose file is
// path: "-i" before the extension (web-out.log: web-out-2.log), as PM2
// suffixes its processes' files (with their pm_id). Instance 0 keeps the
// app's own files, so that scaling an app never moves the files of a
// running process.
func InstancePath(path string, i int) string {
	if path == "" || path == api.DevNull || i == 0 {
		return path
	}
	ext := filepath.Ext(path)
	if ext == filepath.Base(path) {
		ext = ""
	}
	return strings.TrimSuffix(path, ext) + "-" + strconv.Itoa(i) + ext
}
