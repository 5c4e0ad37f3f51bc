package logs

import (
	"path/filepath"

	"opm/daemon/api"
)

// Paths returns the default stdout and stderr log files of the app name.
func Paths(home, name string) (out, err string) {
	dir := filepath.Join(home, api.LogsDir)
	return filepath.Join(dir, name+"-out.log"), filepath.Join(dir, name+"-err.log")
}

// Own sets spec's log paths from its name and its log settings: the
// defaults under home, or its out_file, error_file and log_file (relative
// to its working directory). The paths a spec carries are never trusted as
// such (the dump, a runtime record): they are derived again from what the
// user asked for.
func Own(spec *api.Spec, home string) {
	spec.OutLog, spec.ErrLog = Paths(home, spec.Name)
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
}
