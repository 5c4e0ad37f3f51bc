package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"opm/daemon/api"
	"opm/daemon/logs"
	"opm/daemon/process"
	"opm/shm"
)

// Main runs the daemon in the foreground for `opm daemon run`: it finds
// OPM_HOME and the runtime directory, reads config.toml, logs to
// $OPM_HOME/daemon.log and serves until ctx ends, SIGTERM/SIGINT arrive or
// a client asks it to stop. When $OPM_READY_FD is set it reports on it
// (see readiness). Another daemon already running is not an error.
func Main(ctx context.Context) error { return MainWith(ctx, Options{}) }

// Options change how MainWith runs the daemon.
type Options struct {
	// Restore restores the saved apps once the daemon serves, whatever
	// the config's restore_on_start says.
	Restore bool
	// Started, when set, is called once the daemon serves and its
	// restore (if any) is done, with how that went.
	Started func(api.RestoreResult, error)
	// Stopping, when set, is called once when the daemon begins to
	// stop, with the apps as they were then.
	Stopping func([]api.App)
	// OnlyRestore: Restore alone decides whether the daemon restores,
	// whatever the config's restore_on_start says (`opm run`).
	OnlyRestore bool
	// Service and StopHint: the daemon runs as this service, stopped
	// as StopHint says; `opm daemon stop` and `restart` are refused
	// (`opm run`: stop the container).
	Service, StopHint string
}

// MainWith is Main with options: `opm daemon run --restore`, `opm run`.
func MainWith(ctx context.Context, o Options) error {
	ready := openReadiness()
	err := mainRun(ctx, ready, o)
	if errors.Is(err, ErrRunning) {
		if !ready.running() {
			fmt.Fprintln(os.Stderr, "opm: the daemon is already running for this OPM_HOME (see 'opm daemon status')")
		}
		return nil
	}
	if err != nil {
		ready.failed(err)
	}
	return err
}

func mainRun(ctx context.Context, ready *readiness, o Options) error {
	home, err := shm.Home()
	if err != nil {
		return err
	}
	rt, err := shm.ResolveRuntimeDir(home)
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(home, rt.Dir)
	if err != nil {
		return err
	}
	if rt.Note != "" {
		cfg.Notes = append(cfg.Notes, rt.Note)
	}
	// daemon.log goes with the logs (log_dir, $OPM_LOG_DIR), else in
	// OPM_HOME; Run resolves the same again.
	where, err := shm.ResolveLogs(home, cfg.LogDir)
	if err != nil {
		return err
	}
	logf, err := logs.OpenFile(where.DaemonLog, cfg.logLimits(), 0o600)
	if err != nil {
		return fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	cfg.Logger = slog.New(slog.NewTextHandler(logf, nil))
	cfg.Ready = ready.ready
	cfg.RestoreOnStart = cfg.RestoreOnStart && !o.OnlyRestore || o.Restore
	cfg.Started, cfg.Stopping = o.Started, o.Stopping
	cfg.Service, cfg.StopHint = o.Service, o.StopHint
	if cfg.Service == "" {
		cfg.Service = os.Getenv(api.ServiceEnvName)
	}
	if cfg.Service == "" && os.Getenv(api.NotifySocketEnv) != "" {
		cfg.Service = serviceUnnamed
	}

	process.DefaultSignals()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err = Run(ctx, cfg)
	if errors.Is(err, ErrRunning) && o.Service == "" && cfg.Service != "" {
		// The daemon of a unit found one a command started (`opm
		// list` before the unit at boot): it takes over, as `opm
		// daemon restart` would, and adopts the apps.
		err = takeOver(ctx, cfg, rt.Dir)
	}
	return err
}

// takeOverWithin bounds how long a service's daemon tries to take over
// from one that runs outside it.
const takeOverWithin = 30 * time.Second

// takeOver asks the daemon that holds the lock to exit and leave its apps
// running, then runs in its place: the apps are adopted, each still
// running once. A daemon that is itself a service's refuses, and that is
// the answer.
func takeOver(ctx context.Context, cfg Config, runtimeDir string) error {
	cl := api.NewClient(api.SocketPath(runtimeDir))
	deadline := time.Now().Add(takeOverWithin)
	delay := 10 * time.Millisecond
	asked := 0 // the pid asked to hand over
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if st, err := cl.Ping(rctx); err == nil && st.PID != asked {
			if err := cl.Do(rctx, http.MethodPost, api.PathStop, api.StopRequest{KeepApps: true}, nil); err != nil {
				cancel()
				return fmt.Errorf("another opm daemon (pid %d) runs for this OPM_HOME and does not hand over: %w", st.PID, err)
			}
			asked = st.PID
			cfg.Logger.Info("taking over from a daemon that ran outside the service manager", "event", "service-takeover", "service", cfg.Service, "pid", st.PID)
		}
		cancel()
		err := Run(ctx, cfg)
		if !errors.Is(err, ErrRunning) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another opm daemon keeps running for this OPM_HOME (see 'opm daemon status'): %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}
