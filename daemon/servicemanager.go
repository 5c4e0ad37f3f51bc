package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/shm"
)

// A daemon run by systemd as a Type=notify service (opm startup) tells it
// how it is doing over $NOTIFY_SOCKET, sd_notify's protocol: READY=1 once
// it serves and its restore on start is done, STOPPING=1 when it starts
// stopping, and WATCHDOG=1 at half the WatchdogSec the unit sets — the
// only timer of an idle daemon, and only when the unit asks for it.
// Without $NOTIFY_SOCKET each of these is nothing.

// serviceUnnamed is Config.Service for a daemon a service manager runs
// without saying under which name.
const serviceUnnamed = "unnamed service"

// notifyManager sends state to the service manager, if any.
func notifyManager(log interface {
	Warn(string, ...any)
}, state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Warn("cannot notify the service manager", "event", "sd-notify-failed", "state", state, "error", err)
	}
}

// watchdog pings the service manager's watchdog until ctx ends, when the
// unit set WatchdogSec for this process: each ping once the supervisor's
// loop has answered, so that a loop that is stuck is restarted.
func (srv *server) watchdog(ctx context.Context) {
	every, err := sd.SdWatchdogEnabled(false)
	if err != nil || every <= 0 {
		return
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			reply := make(chan result, 1)
			if res := srv.sup.ask(ctx, pingReq{reply: reply}, reply); res.err != nil {
				return // the loop has ended
			}
			notifyManager(srv.log, sd.SdNotifyWatchdog)
		}
	}
}

// restoreOnStart restores the saved apps once, as `opm restore` does:
// holding the restore flag, so that it and any `opm restore` run at the
// same time take turns and every app starts once. A restore that holds
// the flag is waited for (bounded by restore_stall); no dump is no work.
func (srv *server) restoreOnStart(ctx context.Context, flag *shm.Flag) (api.RestoreResult, error) {
	start, _ := proc.StartTime(os.Getpid())
	deadline := time.Now().Add(srv.cfg.RestoreStall)
	delay := 10 * time.Millisecond
	for {
		_, err := flag.Acquire(start)
		if err == nil {
			break
		}
		var busy *shm.BusyError
		if !errors.As(err, &busy) {
			return api.RestoreResult{}, fmt.Errorf("restore on start: acquire the restore flag: %w", err)
		}
		if _, _, err := flag.ClearIfStale(); err != nil {
			return api.RestoreResult{}, fmt.Errorf("restore on start: %w", err)
		}
		if time.Now().After(deadline) {
			return api.RestoreResult{}, fmt.Errorf("restore on start: the restore flag stayed held by pid %d for %s (see 'opm daemon status'); run 'opm restore' once it is free", busy.Owner.PID, srv.cfg.RestoreStall)
		}
		// Only while the daemon starts, and another restore runs.
		select {
		case <-ctx.Done():
			return api.RestoreResult{}, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
	defer func() {
		if err := flag.Release(); err != nil {
			srv.log.Error("cannot release the restore flag", "event", "flag-failed", "error", err)
		}
	}()
	srv.log.Info("restoring the saved apps on start", "event", "restore-on-start")
	res, err := srv.restoreDump(ctx)
	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.Code == api.CodeNotFound {
		srv.log.Info("no saved apps to restore on start", "event", "restore-on-start", "note", apiErr.Message)
		return api.RestoreResult{}, nil
	}
	return res, err
}
