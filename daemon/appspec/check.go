package appspec

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"opm/daemon/api"
)

// Check refuses a Spec that could not be started as is.
func Check(spec api.Spec) error {
	if err := api.CheckName(spec.Name); err != nil {
		return err
	}
	if err := checkSize(spec); err != nil {
		return err
	}
	if spec.Exec == "" || len(spec.Argv) == 0 || !filepath.IsAbs(spec.Exec) {
		return fmt.Errorf("app %q has no absolute executable path", spec.Name)
	}
	if spec.Cwd == "" {
		return fmt.Errorf("app %q lacks its working directory", spec.Name)
	}
	if err := api.CheckRestartPolicy(spec.Restart); err != nil {
		return fmt.Errorf("app %q: %w", spec.Name, err)
	}
	if err := api.CheckMaxRestarts(spec.MaxRestarts); err != nil {
		return fmt.Errorf("app %q: max_restarts %w", spec.Name, err)
	}
	if err := api.CheckKillTimeoutMs(spec.KillTimeoutMs); err != nil {
		return fmt.Errorf("app %q: kill_timeout_ms %w", spec.Name, err)
	}
	if err := api.CheckSettings(spec.Settings); err != nil {
		return fmt.Errorf("app %q: %w", spec.Name, err)
	}
	if spec.Instance < 0 || spec.Instance >= spec.Count() {
		return fmt.Errorf("app %q: instance %d out of range: it has %d instances (0 to %d)", spec.Name, spec.Instance, spec.Count(), spec.Count()-1)
	}
	if _, err := api.InstanceEnvOf(spec.Env, spec.Settings, spec.Instance); err != nil {
		return api.Errorf(api.CodeBadRequest, "app %q: %v", spec.Name, err)
	}
	return nil
}

// checkSize refuses a definition larger than api.MaxSpecSize.
func checkSize(spec api.Spec) error {
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
