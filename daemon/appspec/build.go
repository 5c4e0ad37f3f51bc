package appspec

import (
	"cmp"
	"os"
	"path/filepath"
	"time"

	"opm/daemon/api"
	"opm/daemon/logs"
)

// Defaults are what a start request leaves to the daemon's config.
type Defaults struct {
	// Home is OPM_HOME: an app runs there when the request names no
	// directory, and its logs go under it unless LogDir says otherwise.
	Home string
	// LogDir holds the apps' default log files; "" is <Home>/logs.
	LogDir      string
	MaxRestarts int
	KillTimeout time.Duration
}

// Build validates a start request and resolves it into a Spec. It
// reads the file system (stat, PATH lookups) but not the app table, so API
// handlers call it before handing the Spec to the supervisor.
func Build(req api.StartRequest, d Defaults) (api.Spec, error) {
	cwd := req.Cwd
	if cwd == "" {
		cwd = d.Home
	}
	if !filepath.IsAbs(cwd) {
		return api.Spec{}, api.Errorf(api.CodeBadRequest, "working directory %q must be an absolute path", cwd)
	}
	if st, err := os.Stat(cwd); err != nil || !st.IsDir() {
		return api.Spec{}, api.Errorf(api.CodeBadRequest, "working directory %s does not exist or is not a directory (check --cwd)", cwd)
	}
	env := req.Env
	if len(env) == 0 {
		env = os.Environ()
	}
	dir := req.Dir
	if dir == "" {
		dir = cwd
	}
	if !filepath.IsAbs(dir) {
		return api.Spec{}, api.Errorf(api.CodeBadRequest, "directory %q must be an absolute path", dir)
	}
	spec, err := resolveCommand(req.Command, req.Args, dir, env, req.Interpreter, req.InterpreterArgs)
	if err != nil {
		return spec, err
	}
	spec.Cwd, spec.Dir = cwd, dir
	spec.Args = append([]string(nil), req.Args...)
	spec.Env = append([]string(nil), env...)
	if err := api.CheckSettings(req.Settings); err != nil {
		return spec, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	spec.Settings = req.Settings

	spec.Restart = cmp.Or(req.Restart, api.RestartAlways)
	if err := api.CheckRestartPolicy(spec.Restart); err != nil {
		return spec, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	spec.MaxRestarts = d.MaxRestarts
	if req.MaxRestarts != nil {
		if err := api.CheckMaxRestarts(*req.MaxRestarts); err != nil {
			return spec, api.Errorf(api.CodeBadRequest, "max_restarts %v (--max-restarts)", err)
		}
		spec.MaxRestarts = *req.MaxRestarts
	}
	spec.KillTimeoutMs = d.KillTimeout.Milliseconds()
	if req.KillTimeoutMs != 0 { // 0: the default
		if err := api.CheckKillTimeoutMs(req.KillTimeoutMs); err != nil {
			return spec, api.Errorf(api.CodeBadRequest, "kill_timeout_ms %v (--kill-timeout)", err)
		}
		spec.KillTimeoutMs = req.KillTimeoutMs
	}

	spec.Name = req.Name
	if spec.Name == "" {
		spec.Name = DefaultName(spec)
	}
	if err := api.CheckName(spec.Name); err != nil {
		return spec, err
	}
	if d.LogDir != "" {
		logs.OwnIn(&spec, d.LogDir)
	} else {
		logs.Own(&spec, d.Home)
	}
	return spec, checkSize(spec)
}
