package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

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
func Main(ctx context.Context) error {
	ready := openReadiness()
	err := mainRun(ctx, ready)
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

func mainRun(ctx context.Context, ready *readiness) error {
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
	logPath := filepath.Join(home, api.DaemonLogName)
	logf, err := logs.OpenFile(logPath, cfg.logLimits(), 0o600)
	if err != nil {
		return fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	cfg.Logger = slog.New(slog.NewTextHandler(logf, nil))
	cfg.Ready = ready.ready

	process.DefaultSignals()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return Run(ctx, cfg)
}
