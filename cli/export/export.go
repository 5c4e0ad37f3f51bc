// Package export writes opm's apps for other supervisors: systemd units
// (systemd.go), a Nomad job (nomad.go) and a docker-compose file
// (compose.go). Each maps what the other supervisor has an equivalent
// for and says, in the output (comments) and in README.md's "Moving to
// systemd or Nomad", what it leaves out. The ecosystem formats (yaml,
// json, toml) are package ecosystem's.
package export

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"opm/cli/ecosystem"
	"opm/daemon/api"
	"opm/daemon/logs"
	"opm/daemon/process"
)

// Formats of this package.
const (
	FormatSystemd = "systemd"
	FormatNomad   = "nomad"
	FormatCompose = "compose"
)

// Formats lists them, for help and messages.
var Formats = []string{FormatSystemd, FormatNomad, FormatCompose}

// Nomad drivers the job may use.
const (
	DriverRawExec = "raw_exec"
	DriverExec    = "exec"
)

// Options are what an export needs besides the apps.
type Options struct {
	// Home is the daemon's OPM_HOME, under which the apps' default log
	// files are.
	Home string
	// User and Group run the apps in systemd units (User=, Group=);
	// empty or root: not written.
	User, Group string
	// Version is opm's, for headers.
	Version string
	// Job names the Nomad job (opm-<Job>).
	Job string
	// Driver is the Nomad task driver: DriverRawExec (default) or
	// DriverExec.
	Driver string
	// Image is the compose services' image; empty: a placeholder.
	Image string
}

// File is one file of an export.
type File struct {
	// Name is its path, relative to the directory the files go in.
	Name string
	Data []byte
}

// app is one app of an export: its definition, as instance 0 has it,
// and how many instances it has.
type app struct {
	spec  api.Spec
	count int
}

// group turns the daemon's rows (one per instance) into apps, in the
// order they first come: each the definition of its app (instances
// differ only in their instance id, and so in their log files, which
// logs.Own derives again for each).
func group(rows []api.App) []app {
	var out []app
	for _, a := range ecosystem.ByApp(rows) {
		s := a.Spec
		s.Instance = 0
		out = append(out, app{spec: s, count: s.Count()})
	}
	return out
}

// instanceVar is the variable that carries the app's instance id besides
// OPM_INSTANCE.
func (a app) instanceVar() string {
	if a.spec.InstanceVar != "" {
		return a.spec.InstanceVar
	}
	return api.DefaultInstanceVar
}

// daemonVars are set by the daemon in each app process, for itself (its
// token, its readiness socket) or from a service manager that ran the
// command that started the app: never the app's to carry elsewhere.
var daemonVars = []string{process.AppTokenEnv, api.NotifySocketEnv, "WATCHDOG_USEC", "WATCHDOG_PID"}

// env is the app's environment as "KEY=VALUE" without what the daemon
// sets (daemonVars): with withInstance, instance i's (its instance id,
// its increment_var); without, the app's own, without the instance id
// variables (OPM_INSTANCE, the instance_var), which the caller writes its
// own way. Sorted by name.
func (a app) env(withInstance bool, i int) ([]string, error) {
	env := a.spec.Env
	if withInstance {
		var err error
		if env, err = api.InstanceEnvOf(env, a.spec.Settings, i); err != nil {
			return nil, err
		}
	}
	drop := slices.Clone(daemonVars)
	if !withInstance {
		drop = append(drop, api.InstanceEnv, a.instanceVar())
	}
	seen := map[string]int{}
	var out []string
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || slices.Contains(drop, k) {
			continue
		}
		if at, dup := seen[k]; dup {
			out[at] = kv // the last one wins, as in the process's environment
			continue
		}
		seen[k] = len(out)
		out = append(out, kv)
	}
	slices.SortFunc(out, func(x, y string) int {
		kx, _, _ := strings.Cut(x, "=")
		ky, _, _ := strings.Cut(y, "=")
		return strings.Compare(kx, ky)
	})
	return out, nil
}

// logFiles are the stdout, stderr and combined log files of instance i,
// as the daemon names them.
func (a app) logFiles(home string, i int) (out, errLog, combined string) {
	s := a.spec
	s.Instance = i
	logs.Own(&s, home)
	return s.OutLog, s.ErrLog, s.CombinedLog
}

// restartWindow is min_uptime: a run shorter than that counts towards
// max_restarts (default: the daemon's restart_reset_after, 30s unless
// its config says otherwise).
func (a app) restartWindow() time.Duration {
	if a.spec.MinUptimeMs > 0 {
		return ms(a.spec.MinUptimeMs)
	}
	return 30 * time.Second
}

// defaultRestartDelay is the daemon's first back-off (its config's
// restart_delay, 100ms unless it says otherwise).
const defaultRestartDelay = 100 * time.Millisecond

// restartDelay is the wait before a restart: restart_delay, or the first
// step of exp_backoff_restart_delay, or the daemon's first back-off.
func (a app) restartDelay() time.Duration {
	switch {
	case a.spec.RestartDelayMs > 0:
		return ms(a.spec.RestartDelayMs)
	case a.spec.ExpBackoffRestartDelayMs > 0:
		return ms(a.spec.ExpBackoffRestartDelayMs)
	}
	return defaultRestartDelay
}

// restartInterval is the sliding window in which another supervisor
// should allow max_restarts restarts (systemd's StartLimitIntervalSec,
// Nomad's restart interval). opm counts restarts after runs shorter than
// min_uptime, in a row: max_restarts+1 such runs, and the waits between
// them, fit in this window, so that a crash loop opm would stop is
// stopped too. (A window cannot tell a loop from an app that crashes a
// little less often: that one may be stopped where opm would go on.)
func (a app) restartInterval() time.Duration {
	n := time.Duration(max(a.spec.MaxRestarts, 0))
	return (n+1)*a.restartWindow() + n*a.restartDelay()
}

// killSignal is the signal that stops the app.
func (a app) killSignal() string {
	if a.spec.KillSignal != "" {
		return a.spec.KillSignal
	}
	return "SIGTERM"
}

// ms is milliseconds as a duration.
func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// notMapped lists the settings of the app that the target has no
// equivalent for, with why: what every format leaves out.
func (a app) notMapped() []string {
	s := a.spec
	var out []string
	if s.Watch || len(s.WatchPaths) > 0 {
		out = append(out, "watch: no restart when files change")
	}
	if s.MaxMemoryRestart > 0 {
		out = append(out, "max_memory_restart "+api.FormatSize(s.MaxMemoryRestart)+": opm restarts the app when its memory stays over the limit")
	}
	if s.ExpBackoffRestartDelayMs > 0 && s.RestartDelayMs == 0 {
		out = append(out, fmt.Sprintf("exp_backoff_restart_delay: a constant delay of %s instead of a growing one", ms(s.ExpBackoffRestartDelayMs)))
	}
	return out
}
