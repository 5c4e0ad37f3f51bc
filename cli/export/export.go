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
	// LogDir holds the apps' default log files (the daemon's log_dir);
	// "" is <Home>/logs.
	LogDir string
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

// env is the app's environment as "KEY=VALUE" without what a service
// manager or the daemon set for one process (api.ServiceEnv): never the
// app's to carry elsewhere. With withInstance, instance i's (its instance id,
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
	var drop []string
	if !withInstance {
		drop = []string{api.InstanceEnv, a.spec.InstanceVarName()}
	}
	seen := map[string]int{}
	var out []string
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || api.IsServiceEnv(k) || slices.Contains(drop, k) {
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
func (a app) logFiles(o Options, i int) (out, errLog, combined string) {
	s := a.spec
	s.Instance = i
	if o.LogDir != "" {
		logs.OwnIn(&s, o.LogDir)
	} else {
		logs.Own(&s, o.Home)
	}
	return s.OutLog, s.ErrLog, s.CombinedLog
}

// restartWindow is min_uptime: a run shorter than that counts towards
// max_restarts (default: the daemon's restart_reset_after).
func (a app) restartWindow() time.Duration {
	if a.spec.MinUptimeMs > 0 {
		return ms(a.spec.MinUptimeMs)
	}
	return api.DefaultRestartResetAfter
}

// restartDelay is the wait before a restart: restart_delay, or the first
// step of exp_backoff_restart_delay, or the daemon's first back-off.
func (a app) restartDelay() time.Duration {
	switch {
	case a.spec.RestartDelayMs > 0:
		return ms(a.spec.RestartDelayMs)
	case a.spec.ExpBackoffRestartDelayMs > 0:
		return ms(a.spec.ExpBackoffRestartDelayMs)
	}
	return api.DefaultRestartDelay
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

// killSignal is the signal that stops the app, spelt as the other
// supervisors read it: opm keeps kill_signal as it was typed ("int",
// "sigint", "2"), which systemd would ignore (KillSignal=int) and Nomad
// refuse. Its name ("SIGINT"), or its number when it has none (the
// real-time signals).
func (a app) killSignal() (string, error) {
	if a.spec.KillSignal == "" {
		return "SIGTERM", nil
	}
	sig, err := api.ParseSignal(a.spec.KillSignal)
	if err != nil {
		return "", fmt.Errorf("kill_signal: %w", err)
	}
	return api.SignalString(sig), nil
}

// killTimeout is the wait between the kill signal and SIGKILL: the app's
// kill_timeout, or the daemon's default (where the other supervisor's
// own would differ: systemd's is 90 s, docker's 10 s).
func (a app) killTimeout() time.Duration {
	if a.spec.KillTimeoutMs > 0 {
		return ms(a.spec.KillTimeoutMs)
	}
	return api.DefaultKillTimeout
}

// ms is milliseconds as a duration.
func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// notMapped lists the settings of the app that format has no equivalent
// for, each with what opm does that the other supervisor will not. Every
// format writes the list into what it exports (systemd as comments in
// the unit's header, Nomad in the task's Meta, compose as a comment on
// the service), and README.md's table in "Moving to systemd or Nomad"
// says the same. Values a format cannot hold (an Environment= name
// systemd refuses, say) are said where they would have gone.
func (a app) notMapped(format string) []string {
	s := a.spec
	systemd, nomad, compose := format == FormatSystemd, format == FormatNomad, format == FormatCompose
	var out []string
	add := func(f string, args ...any) { out = append(out, fmt.Sprintf(f, args...)) }
	restarts := s.Restart != api.RestartNever

	// Restarts.
	if nomad && s.Restart == api.RestartOnFailure {
		add("restart on-failure: Nomad restarts a service task whatever its exit status, as opm's always")
	}
	if compose && restarts {
		add("max_restarts %d, min_uptime %s: docker restarts the app without limit", s.MaxRestarts, a.restartWindow())
		if s.RestartDelayMs > 0 || s.ExpBackoffRestartDelayMs > 0 {
			add("restart_delay: docker waits its own back-off (100ms, doubling)")
		}
	}
	if (systemd || nomad) && restarts && s.ExpBackoffRestartDelayMs > 0 && s.RestartDelayMs == 0 {
		if systemd {
			add("exp_backoff_restart_delay: a constant RestartSec= of %s instead of a growing one (systemd 254's RestartSteps= and RestartMaxDelaySec= would make it grow)", ms(s.ExpBackoffRestartDelayMs))
		} else {
			add("exp_backoff_restart_delay: a constant delay of %s instead of a growing one", ms(s.ExpBackoffRestartDelayMs))
		}
	}
	if sig, err := a.killSignal(); nomad && err == nil && strings.TrimLeft(sig, "0123456789") == "" {
		add("kill_signal %s: Nomad takes signal names only, and stops the task with SIGTERM", sig)
	}
	if (nomad || compose) && len(s.StopExitCodes) > 0 {
		add("stop_exit_codes %v: the app is restarted after those exit statuses too", s.StopExitCodes)
	}

	// Readiness.
	if (nomad || compose) && s.WaitReady {
		add("wait_ready: nothing waits for the app's READY=1 (it has no NOTIFY_SOCKET)")
	}
	if systemd && s.WaitReady {
		add("listen_timeout %s: opm takes an app that is not ready by then as online; systemd waits TimeoutStartSec= (90s by default), then fails the start", s.ListenTimeout())
	}

	// What opm does at times of its own.
	if (nomad || compose) && s.CronRestart != "" {
		add("cron_restart %q: nothing restarts the app at those times", s.CronRestart)
	}
	if s.Watch || len(s.WatchPaths) > 0 {
		add("watch: nothing restarts the app when its files change")
	}
	if s.MaxMemoryRestart > 0 {
		size := api.FormatSize(s.MaxMemoryRestart)
		if systemd {
			add("max_memory_restart %s: opm restarts the app when the RSS of its processes stays over it; MemoryMax=%s would have the kernel kill it at that much memory (page cache included), then Restart= start it again", size, size)
		} else {
			add("max_memory_restart %s: opm restarts the app when the RSS of its processes stays over it", size)
		}
	}

	// Instances.
	if (nomad || compose) && s.IncrementVar != "" {
		add("increment_var %s: each instance gets the same value", s.IncrementVar)
	}
	if compose && a.count > 1 {
		add("instances: the replicas get no instance id (%s, %s)", api.InstanceEnv, a.spec.InstanceVarName())
	}

	// Logs.
	if compose {
		add("out and error logs: docker keeps the output (docker logs), not opm's log files")
	}
	if nomad {
		add("out and error logs: Nomad keeps the output (nomad alloc logs), not opm's log files")
	}
	if s.CombinedLog != "" {
		add("log_file %s: no file gets both streams", s.CombinedLog)
	}
	if s.Time || s.LogDateFormat != "" {
		add("time, log_date_format: the lines are not timestamped")
	}
	if systemd {
		add("log rotation (log_max_size, log_max_files, log_compress): use logrotate, or drop StandardOutput= and StandardError= for the journal")
	}
	if nomad && s.LogCompress != nil && *s.LogCompress {
		add("log_compress: rotated logs are not compressed")
	}
	return out
}
