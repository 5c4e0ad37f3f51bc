package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"

	"opm/daemon/api"
	"opm/daemon/logs"
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
	dir := req.Dir
	if dir == "" {
		dir = cwd
	}
	if !filepath.IsAbs(dir) {
		return api.Spec{}, api.Errorf(api.CodeBadRequest, "directory %q must be an absolute path", dir)
	}
	spec, err := resolveCommand(req.Command, req.Args, dir, env)
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
		if err := api.CheckMaxRestarts(*req.MaxRestarts); err != nil {
			return spec, api.Errorf(api.CodeBadRequest, "max_restarts %v (--max-restarts)", err)
		}
		spec.MaxRestarts = *req.MaxRestarts
	}
	spec.KillTimeoutMs = cfg.KillTimeout.Milliseconds()
	if req.KillTimeoutMs != 0 { // 0: the default
		if err := api.CheckKillTimeoutMs(req.KillTimeoutMs); err != nil {
			return spec, api.Errorf(api.CodeBadRequest, "kill_timeout_ms %v (--kill-timeout)", err)
		}
		spec.KillTimeoutMs = req.KillTimeoutMs
	}

	spec.Name = req.Name
	if spec.Name == "" {
		spec.Name = defaultName(spec)
	}
	if err := api.CheckName(spec.Name); err != nil {
		return spec, err
	}
	spec.OutLog, spec.ErrLog = logs.Paths(cfg.Home, spec.Name)
	return spec, checkSpecSize(spec)
}

// checkSpecSize refuses a definition larger than api.MaxSpecSize.
func checkSpecSize(spec api.Spec) error {
	data, err := json.Marshal(spec)
	if err != nil {
		return api.Errorf(api.CodeBadRequest, "encode the definition of %q: %v", spec.Name, err)
	}
	if len(data) <= api.MaxSpecSize {
		return nil
	}
	env := 0
	for _, kv := range spec.Env {
		env += len(kv) + 1
	}
	return api.Errorf(api.CodeBadRequest, "the definition of %q is %d bytes (its environment %d), more than opm's limit of %d; start it with a smaller environment (e.g. 'env -i PATH=$PATH opm start ...', or unset large variables)", spec.Name, len(data), env, api.MaxSpecSize)
}
