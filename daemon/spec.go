package daemon

import (
	"os"
	"path/filepath"

	"opm/daemon/api"
)

// buildSpec validates a start request and resolves it into a Spec. It
// reads the file system (stat, PATH lookups) but not the app table, so API
// handlers call it before handing the Spec to the supervisor.
func buildSpec(req api.StartRequest, cfg Config) (api.Spec, error) {
	cwd := req.Cwd
	if cwd == "" {
		cwd = cfg.Home
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
	spec, err := resolveCommand(req.Command, req.Args, cwd, env)
	if err != nil {
		return spec, err
	}
	spec.Cwd = cwd
	spec.Env = append([]string(nil), env...)

	spec.Restart = req.Restart
	switch spec.Restart {
	case "":
		spec.Restart = api.RestartAlways
	case api.RestartAlways, api.RestartOnFailure, api.RestartNever:
	default:
		return spec, api.Errorf(api.CodeBadRequest, "unknown restart policy %q (use always, on-failure or never)", req.Restart)
	}
	spec.MaxRestarts = cfg.MaxRestarts
	if req.MaxRestarts != nil {
		if *req.MaxRestarts < 0 {
			return spec, api.Errorf(api.CodeBadRequest, "--max-restarts must be 0 or more, got %d", *req.MaxRestarts)
		}
		spec.MaxRestarts = *req.MaxRestarts
	}
	spec.KillTimeoutMs = cfg.KillTimeout.Milliseconds()
	if req.KillTimeoutMs < 0 {
		return spec, api.Errorf(api.CodeBadRequest, "--kill-timeout must be positive, got %dms", req.KillTimeoutMs)
	}
	if req.KillTimeoutMs > 0 {
		spec.KillTimeoutMs = req.KillTimeoutMs
	}

	spec.Name = req.Name
	if spec.Name == "" {
		spec.Name = defaultName(spec)
	}
	if err := checkName(spec.Name); err != nil {
		return spec, err
	}
	spec.OutLog, spec.ErrLog = logPaths(cfg.Home, spec.Name)
	return spec, nil
}
