package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// Restart policies, as PM2 and systemd users know them.
const (
	RestartAlways    = "always"
	RestartOnFailure = "on-failure"
	RestartNever     = "never"
)

// CheckRestartPolicy refuses anything but a restart policy.
func CheckRestartPolicy(p string) error {
	switch p {
	case RestartAlways, RestartOnFailure, RestartNever:
		return nil
	}
	return fmt.Errorf("unknown restart policy %q: use %s, %s or %s", p, RestartAlways, RestartOnFailure, RestartNever)
}

// App statuses, as printed by `opm list` and returned in App.Status.
const (
	StatusOnline    = "online"
	StatusLaunching = "launching"
	StatusStopped   = "stopped"
	StatusStopping  = "stopping"
	StatusErrored   = "errored"
	StatusWaiting   = "waiting"
)

// StartRequest asks the daemon to register a new app and start it. The CLI
// sends what the user typed plus the caller's context (cwd, environment);
// the daemon resolves the command (interpreter by extension, PATH lookup,
// shell when the line needs one) so that the CLI stays a thin client. Its
// byte-ish fields travel byte-safe (see bytesafe.go).
type StartRequest struct {
	// Command is the script path or command line as typed
	// ("app.js", "./server", "python3 -m http.server 8000").
	Command string `json:"command"`
	// Args are the arguments after "--".
	Args []string `json:"args,omitempty"`
	Name string   `json:"name,omitempty"`
	// Cwd is the app's working directory; the CLI fills in the caller's.
	Cwd string `json:"cwd"`
	// Dir is the caller's directory: a relative script path or program
	// is found from there, as in a shell (and in PM2), whatever Cwd is.
	// Empty means Cwd.
	Dir string `json:"dir,omitempty"`
	// Env is the caller's full environment ("K=V"), overrides applied.
	Env         []string `json:"env"`
	Restart     string   `json:"restart,omitempty"`
	MaxRestarts *int     `json:"max_restarts,omitempty"`
	// KillTimeoutMs is how long stop waits after the kill signal before
	// SIGKILL.
	KillTimeoutMs int64 `json:"kill_timeout_ms,omitempty"`
	// Interpreter runs the script ("node", "/usr/bin/python3.11"); "none"
	// runs it directly; empty chooses by the script's extension.
	// InterpreterArgs go to the interpreter, before the script.
	Interpreter     string   `json:"interpreter,omitempty"`
	InterpreterArgs []string `json:"interpreter_args,omitempty"`
	Settings

	// Update replaces the definition of the app of that name, which must
	// exist, and restarts it (starts it, when stopped) with the new one.
	Update bool `json:"update,omitempty"`
	// Stopped registers the app without starting it.
	Stopped bool `json:"stopped,omitempty"`
	// KeepIfSame, with Update, leaves a running app alone when its new
	// definition is the one it has: `opm start` of an ecosystem file
	// changes what changed and starts what is stopped, no more.
	KeepIfSame bool `json:"keep_if_same,omitempty"`
}

// Settings are the per-app settings a start request, an ecosystem file
// and an app's definition share, PM2's names and meanings. Zero means
// the daemon's default (config.toml), so that a definition follows the
// config unless it says otherwise.
type Settings struct {
	// KillSignal stops the app ("SIGINT"); default SIGTERM.
	KillSignal string `json:"kill_signal,omitempty"`
	// RestartDelayMs waits this long before every restart (no back-off);
	// ExpBackoffRestartDelayMs starts an exponential back-off there.
	RestartDelayMs           int64 `json:"restart_delay_ms,omitempty"`
	ExpBackoffRestartDelayMs int64 `json:"exp_backoff_restart_delay_ms,omitempty"`
	// MinUptimeMs is how long the app must run for a later exit not to
	// count towards max_restarts (PM2's min_uptime; default config's
	// restart_reset_after).
	MinUptimeMs int64 `json:"min_uptime_ms,omitempty"`
	// StopExitCodes are exit codes after which the app is not restarted.
	StopExitCodes []int `json:"stop_exit_codes,omitempty"`
	// CronRestart restarts the app at each time the cron expression
	// names (PM2's cron_restart); a stopped app of restart policy never
	// is started then (a periodic job).
	CronRestart string `json:"cron_restart,omitempty"`
	// Watch restarts the app when a file changes under WatchPaths (its
	// working directory when empty), but for IgnoreWatch's globs and
	// node_modules, .git and the app's own logs; a burst of changes
	// gives one restart, WatchDelayMs after the last (default 1 s).
	Watch        bool     `json:"watch,omitempty"`
	WatchPaths   []string `json:"watch_paths,omitempty"`
	IgnoreWatch  []string `json:"ignore_watch,omitempty"`
	WatchDelayMs int64    `json:"watch_delay_ms,omitempty"`
	// WaitReady makes the app launching until it says it is ready:
	// READY=1 on the datagram socket named by NOTIFY_SOCKET in its
	// environment (sd_notify's protocol), or until ListenTimeoutMs
	// (default 3 s) has passed.
	WaitReady       bool  `json:"wait_ready,omitempty"`
	ListenTimeoutMs int64 `json:"listen_timeout,omitempty"`
	// MaxMemoryRestart restarts the app when the memory (RSS) of its
	// processes stays over this many bytes (PM2's max_memory_restart).
	MaxMemoryRestart int64 `json:"max_memory_restart,omitempty"`
	// Instances runs this many processes of the app (instances.go);
	// zero is one. IncrementVar names an environment variable (PORT)
	// each instance gets plus its instance id; InstanceVar the variable
	// that holds the instance id (default NODE_APP_INSTANCE).
	Instances    int    `json:"instances,omitempty"`
	IncrementVar string `json:"increment_var,omitempty"`
	InstanceVar  string `json:"instance_var,omitempty"`
	LogSettings
	// Hooks run on the app's events (hooks.go).
	Hooks
	// Pending holds the PM2 settings opm keeps but does not act on
	// (exec_mode...), by PM2 key: kept, saved, shown, never dropped.
	Pending map[string]json.RawMessage `json:"pending,omitempty"`
}

// Spec is an app's full, resolved definition: everything needed to start it
// again, and nothing of its runtime state. It is what `opm save` writes.
// Its byte-ish fields travel byte-safe (see bytesafe.go).
type Spec struct {
	Name string `json:"name"`
	// Instance is the instance id of this process of the app, 0..N-1
	// (instances.go).
	Instance int `json:"instance,omitempty"`
	// Command is what was typed, kept for display.
	Command string `json:"command"`
	// Interpreter is the program chosen for a script ("node", "python3",
	// "bash"), empty when the command runs directly or through the shell.
	Interpreter string `json:"interpreter,omitempty"`
	// InterpreterArgs go to the interpreter, before the script.
	InterpreterArgs []string `json:"interpreter_args,omitempty"`
	// Exec is the resolved executable path and Argv its full argument
	// vector (Argv[0] included); Args, the user's arguments, end it.
	Exec string   `json:"exec"`
	Argv []string `json:"argv"`
	Args []string `json:"args,omitempty"`
	Cwd  string   `json:"cwd"`
	// Dir is where the command was resolved from (the caller's
	// directory), so that a changed definition resolves it the same way.
	Dir           string   `json:"dir,omitempty"`
	Env           []string `json:"env"`
	Restart       string   `json:"restart"`
	MaxRestarts   int      `json:"max_restarts"`
	KillTimeoutMs int64    `json:"kill_timeout_ms"`
	Settings
	// OutLog and ErrLog are the files the app's stdout and stderr end
	// in (DevNull: discarded); CombinedLog, when set, gets both as well.
	OutLog      string `json:"out_log"`
	ErrLog      string `json:"err_log"`
	CombinedLog string `json:"combined_log,omitempty"`
}

// App is one row of the app table as clients see it.
type App struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	// Instance is the row's instance id, and Instances how many the app
	// has (1 for an app without instances).
	Instance  int     `json:"instance"`
	Instances int     `json:"instances"`
	PID       int     `json:"pid"`
	Status    string  `json:"status"`
	Restarts  int     `json:"restarts"`
	UptimeMs  int64   `json:"uptime_ms"`
	CPU       float64 `json:"cpu"`
	Memory    uint64  `json:"memory"`
	Command   string  `json:"command"`
	// ExitCode is the last exit status (-1 when killed by a signal or
	// never exited).
	ExitCode int `json:"exit_code"`
	// NextRestartMs is the time left on the back-off timer while waiting.
	NextRestartMs int64 `json:"next_restart_ms,omitempty"`
	// LastRestartReason says why the app was last restarted by opm
	// itself: "crash", "cron", ...; empty when never.
	LastRestartReason string `json:"last_restart_reason,omitempty"`
	// Logs counts what became of the app's output.
	Logs LogStats `json:"logs"`
	Spec Spec     `json:"spec"`
	// SpecJSON, when set, is Spec already encoded (the daemon keeps each
	// app's, encoded once): MarshalJSON writes it instead of Spec.
	SpecJSON json.RawMessage `json:"-"`
}

// DaemonStatus answers `opm daemon status`.
type DaemonStatus struct {
	PID        int    `json:"pid"`
	UptimeMs   int64  `json:"uptime_ms"`
	Version    string `json:"version"`
	Apps       int    `json:"apps"`
	Home       string `json:"home"`
	RuntimeDir string `json:"runtime_dir"`
	Socket     string `json:"socket"`
	// LogDir holds the apps' default log files (log_dir, $OPM_LOG_DIR,
	// or <home>/logs); DaemonLog is daemon.log.
	LogDir    string `json:"log_dir,omitempty"`
	DaemonLog string `json:"daemon_log,omitempty"`
	// Restore describes the restore flag.
	Restore RestoreFlag `json:"restore"`
	// Notes are warnings about how the daemon was set up, e.g. that its
	// runtime dir is a fallback because the default was taken by another
	// user.
	Notes []string `json:"notes,omitempty"`
	// Cgroups says how the daemon contains its apps.
	Cgroups Cgroups `json:"cgroups"`
}

// Cgroups modes, in Cgroups.Mode.
const (
	// CgroupsV2: each app runs in its own cgroup (v2), and stop ends
	// every process in it, even one that left the app's session.
	CgroupsV2 = "v2"
	// CgroupsOff: apps are contained by their process group only; a
	// grandchild that calls setsid() escapes stop.
	CgroupsOff = "off"
)

// Cgroups is the daemon's cgroup mode for display.
type Cgroups struct {
	Mode string `json:"mode"`
	// Path is the directory holding the apps' cgroups (mode v2).
	Path string `json:"path,omitempty"`
	// Reason says why cgroups are off.
	Reason string `json:"reason,omitempty"`
}

// RestoreFlag is the restore flag's state for display.
type RestoreFlag struct {
	InProgress bool `json:"in_progress"`
	OwnerPID   int  `json:"owner_pid,omitempty"`
	// OwnerStart is the owner's start time in clock ticks since boot.
	OwnerStart uint64 `json:"owner_start,omitempty"`
	Generation uint32 `json:"generation,omitempty"`
	// HeldSince is when the owner took the flag, and HeldMs how long ago
	// that was; unknown (zero) when the owner did not record it.
	HeldSince time.Time `json:"held_since,omitzero"`
	HeldMs    int64     `json:"held_ms,omitempty"`
	// OwnerStopped is set when the owner is alive but stopped (SIGSTOP, a
	// debugger): the restore is not getting on.
	OwnerStopped bool `json:"owner_stopped,omitempty"`
	// Stalled is set once the flag has been held longer than the
	// daemon's restore_stall bound.
	Stalled bool `json:"stalled,omitempty"`
}

// SaveResult answers `opm save`.
type SaveResult struct {
	Path string `json:"path"`
	Apps int    `json:"apps"`
}

// RestoreResult answers `opm restore`: the names in each outcome.
type RestoreResult struct {
	Path           string            `json:"path"`
	Started        []string          `json:"started"`
	AlreadyRunning []string          `json:"already_running"`
	Stopped        []string          `json:"stopped"`
	Failed         map[string]string `json:"failed,omitempty"`
}

// FlushRequest names the apps whose logs to empty; empty Target means all.
type FlushRequest struct {
	Target string `json:"target,omitempty"`
	// All removes the rotated files too.
	All bool `json:"all,omitempty"`
}

// Request is the start request that gives back this definition: the
// command as typed, from the directory it was resolved from, with the
// same environment, arguments and settings. Changing an app starts from
// it (Update).
func (s Spec) Request() StartRequest {
	max := s.MaxRestarts
	return StartRequest{
		Command:         s.Command,
		Args:            append([]string(nil), s.Args...),
		Name:            s.Name,
		Cwd:             s.Cwd,
		Dir:             s.Dir,
		Env:             append([]string(nil), s.Env...),
		Restart:         s.Restart,
		MaxRestarts:     &max,
		KillTimeoutMs:   s.KillTimeoutMs,
		Interpreter:     s.Interpreter,
		InterpreterArgs: append([]string(nil), s.InterpreterArgs...),
		Settings:        s.Settings,
	}
}
