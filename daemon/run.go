package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"opm/daemon/api"
	"opm/daemon/cgroup"
	"opm/daemon/feed"
	"opm/daemon/logs"
	"opm/daemon/process"
	"opm/daemon/store"
	"opm/daemon/wire"
	"opm/shm"
)

// shutdownGrace bounds how long the API server waits for answers in
// flight once the supervisor has ended.
const shutdownGrace = 5 * time.Second

// Run is the daemon: it takes the daemon lock (ErrRunning when another
// daemon holds it), binds the socket, then supervises and serves until ctx
// ends (apps are stopped) or a client asks it to stop. Config.Ready is
// called once the socket is listening.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// Nothing under OPM_HOME is trusted unless home and logs/ are the
	// user's own and writable by nobody else.
	home, err := shm.CheckHome(cfg.Home)
	if err != nil {
		return err
	}
	cfg.Home = home
	// The logs go to log_dir ($OPM_LOG_DIR), else <home>/logs; a
	// read-only home without either is refused, saying so.
	if cfg.Logs, err = shm.ResolveLogs(cfg.Home, cfg.LogDir); err != nil {
		return err
	}
	if cfg.Logs.HomeReadOnly {
		cfg.Notes = append(cfg.Notes, fmt.Sprintf("OPM_HOME (%s) is read-only: every command but 'opm save' works ('opm save' cannot write the dump); logs go to %s, daemon.log is %s", cfg.Home, cfg.Logs.Dir, cfg.Logs.DaemonLog))
	}
	if err := shm.EnsurePrivateDir(cfg.RuntimeDir); err != nil {
		return err
	}
	// The lock comes before the socket: whoever holds it owns the socket
	// path, so two daemons never both bind it.
	lock, err := lockDaemon(cfg.RuntimeDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	homeLock, err := lockHome(cfg.Home, cfg.RuntimeDir, log)
	if err != nil {
		return err
	}
	if homeLock != nil {
		defer homeLock.Close()
	}
	if !cfg.Logs.HomeReadOnly {
		for _, p := range store.RemoveStaleTemps(cfg.Home) {
			log.Info("removed the temp file of a save cut short", "event", "cleanup", "path", p)
		}
	}

	flag, err := shm.OpenFlag(cfg.RuntimeDir)
	if err != nil {
		return fmt.Errorf("open restore flag: %w", err)
	}
	defer flag.Close()
	if flag.Rebuilt != "" {
		log.Warn("restore flag rebuilt", "event", "flag-rebuilt", "note", flag.Rebuilt)
	}
	// A page that shrinks or is replaced under the daemon is mapped again
	// (rebuilt when broken) wherever it is noticed; say so.
	flag.OnRemap(func(note string) {
		log.Warn("restore flag mapped again", "event", "flag-remapped", "note", note)
	})
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devNull.Close()

	recDir := filepath.Join(cfg.RuntimeDir, store.RecordsDir)
	if err := shm.EnsurePrivateDir(recDir); err != nil {
		return err
	}
	// A read-only home without a secret: this boot's is kept in the
	// runtime dir (RAM), with the same checks.
	secret, secretNote, err := shm.HomeSecret(cfg.Home, cfg.RuntimeDir)
	if err != nil {
		return err
	}
	if secretNote != "" {
		cfg.Notes = append(cfg.Notes, secretNote)
	}
	// The TCP listener (listen in config.toml) is bound before the
	// supervisor copies cfg: a failure is one of its notes (tcp.go).
	tcpLn := listenTCP(&cfg, log)
	if tcpLn != nil {
		defer tcpLn.Close()
	}
	sup := newSupervisor(cfg, log)
	sup.tokens = process.NewTokens(secret)
	sup.findHolders = func() map[string][]process.Holder { return process.ScanHolders(sup.tokens.HomeTag()) }
	sup.flag = flag
	sup.feed = feed.New(0)
	sup.hooks = newHookRunner(cfg, log)
	defer sup.hooks.Close()
	sup.holdStarts = flag.InProgress
	sup.cgroups, sup.cgroupMode = cgroup.Setup(cfg.Home, cfg.Cgroups, log)
	hub, err := logs.NewHub(cfg.RuntimeDir, cfg.logLimits(), log)
	if err != nil {
		return err
	}
	// Closed last: it writes what apps stopped at shutdown said last.
	defer hub.Close()
	sup.logs = hub
	sup.spawn = process.New(devNull, hub.Output, sup.cgroups, log)
	sup.records = &store.Records{Dir: recDir}
	notify, err := openNotifier(cfg.RuntimeDir, sup.post, log)
	if err != nil {
		// Apps that wait_ready then go online at their listen_timeout.
		log.Warn("no notify socket: apps with wait_ready are taken as ready at their listen_timeout", "event", "notify-error", "error", err)
	} else {
		defer notify.close()
		sup.notifySocket = notify.path
	}
	// Take over from a previous daemon before anyone can ask anything.
	sup.recoverApps()

	sock := api.SocketPath(cfg.RuntimeDir)
	ln, err := listen(sock)
	if err != nil {
		return err
	}
	defer os.Remove(sock) // before the lock is released (defers run LIFO)
	srv := &server{sup: sup, cfg: cfg, log: log, sampler: newSampler()}
	hs := srv.httpServer()
	trim := &trimmer{busy: func() bool { return hs.Active() > 0 }}
	defer trim.stop()
	hs.Idle, hs.Busy = trim.quiet, trim.stop
	served := make(chan error, 1)
	go func() { served <- hs.Serve(newCapListener(ln, cfg.APIMaxConnections)) }()
	if tcpLn != nil {
		defer srv.serveTCP(tcpLn, trim.quiet)()
	}

	log.Info("daemon started", "event", "daemon-started", "pid", os.Getpid(), "version", api.Version, "home", cfg.Home, "runtime_dir", cfg.RuntimeDir, "log_dir", cfg.Logs.Dir)
	for _, note := range cfg.Notes {
		log.Warn("runtime note", "event", "daemon-note", "note", note)
	}
	if cfg.Ready != nil {
		cfg.Ready(os.Getpid())
	}
	sup.onStopping = func(apps []api.App) {
		notifyManager(log, sd.SdNotifyStopping)
		if cfg.Stopping != nil {
			cfg.Stopping(apps)
		}
	}
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	started := make(chan struct{})
	go func() {
		defer close(started)
		var res api.RestoreResult
		var err error
		if cfg.RestoreOnStart {
			if res, err = srv.restoreOnStart(bg, flag); err != nil {
				log.Error("restore on start failed", "event", "restore-failed", "error", err)
			}
		}
		notifyManager(log, sd.SdNotifyReady)
		if cfg.Started != nil {
			cfg.Started(res, err)
		}
		trim.quiet()
	}()
	go srv.watchdog(bg)
	sup.run(ctx)
	stopBG()
	<-started // it holds the flag while it restores
	sup.releaseWatches()
	sup.files.close()
	cctx, ccancel := context.WithTimeout(context.Background(), shutdownGrace)
	sup.cgroups.Close(cctx)
	ccancel()

	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, wire.ErrServerClosed) {
		log.Error("api server failed", "event", "daemon-error", "error", err)
	}
	log.Info("daemon exited", "event", "daemon-exited", "pid", os.Getpid())
	return nil
}
