package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

// stopTimeout bounds `opm daemon stop`: the daemon stops every app first.
const stopTimeout = 2 * time.Minute

func (a *App) daemonCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "daemon",
		Usage:     "manage the opm daemon itself",
		ArgsUsage: "start|stop|status|restart",
		Action: func(c *ucli.Context) error {
			if c.Args().Present() {
				return usageErrorf("unknown daemon command %q: use start, stop, status or restart (see 'opm daemon --help')", c.Args().First())
			}
			return usageErrorf("opm daemon needs a command: start, stop, status or restart (see 'opm daemon --help')")
		},
		Subcommands: []*ucli.Command{
			{
				Name:   "run",
				Usage:  "run the daemon in the foreground (what 'opm daemon start' spawns, and the units of 'opm startup' run)",
				Hidden: true,
				Flags: []ucli.Flag{
					&ucli.BoolFlag{Name: "restore", Usage: "restore the saved apps once the daemon serves (config: restore_on_start)"},
				},
				Action: a.daemonRun,
			},
			{
				Name:   "start",
				Usage:  "start the daemon unless it is running",
				Flags:  []ucli.Flag{jsonFlag()},
				Action: a.daemonStart,
			},
			{
				Name:   "stop",
				Usage:  "stop every app, then the daemon",
				Action: a.daemonStop,
			},
			{
				Name:    "status",
				Aliases: []string{"health"},
				Usage:   "show whether the daemon runs: pid, uptime, version, apps, runtime dir, restore flag, cgroups",
				Flags:   []ucli.Flag{jsonFlag()},
				Action:  a.daemonStatus,
			},
			{
				Name:   "restart",
				Usage:  "replace the daemon (e.g. after an upgrade); apps keep running",
				Flags:  []ucli.Flag{jsonFlag()},
				Action: a.daemonRestart,
			},
		},
	}
}

// shortcutCommands are PM2's top-level names for daemon commands: kill
// (daemon stop) and ping (daemon status).
func (a *App) shortcutCommands() []*ucli.Command {
	return []*ucli.Command{
		{Name: "kill", Usage: "the same as 'opm daemon stop'", Hidden: true, Action: a.daemonStop},
		{Name: "ping", Usage: "the same as 'opm daemon status'", Hidden: true, Flags: []ucli.Flag{jsonFlag()}, Action: a.daemonStatus},
	}
}

func (a *App) daemonRun(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if a.opts.RunDaemon == nil {
		return errors.New("this opm binary was built without a daemon")
	}
	return a.opts.RunDaemon(c.Context, DaemonOptions{Restore: c.Bool("restore")})
}

func (a *App) daemonStart(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	_, st, started, err := a.conn.ensureStatus(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(a.out(), st)
	}
	if started {
		a.printf("opm daemon started (pid %d)\n", st.PID)
	} else {
		a.printf("opm daemon already running (pid %d)\n", st.PID)
	}
	return nil
}

func (a *App) daemonStop(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	st, running, err := a.stopDaemon(c.Context, false)
	if err != nil {
		return err
	}
	if !running {
		a.printf("opm daemon is not running\n")
		return nil
	}
	a.printf("opm daemon stopped (pid %d)\n", st.PID)
	return nil
}

// stopDaemon asks a running daemon to exit and waits until its process is
// gone. keepApps leaves the apps running for the next daemon to adopt.
// running is false when no daemon answered.
func (a *App) stopDaemon(ctx context.Context, keepApps bool) (st api.DaemonStatus, running bool, err error) {
	cl, st, err := a.conn.running(ctx)
	if errors.Is(err, api.ErrUnreachable) {
		return st, false, nil
	}
	if err != nil {
		return st, false, explain(err)
	}
	proc, err := openProc(st.PID)
	if err != nil {
		return st, true, err
	}
	defer proc.close()
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	path := api.PathStop
	if keepApps {
		path += "?" + api.KeepAppsParam + "=1"
	}
	if err := cl.Do(ctx, http.MethodPost, path, nil, nil); err != nil && !errors.Is(err, api.ErrUnreachable) {
		return st, true, explain(err)
	}
	if err := proc.wait(ctx); err != nil {
		return st, true, fmt.Errorf("the opm daemon (pid %d) did not exit: %w (see %s)", st.PID, err, api.DaemonLogName)
	}
	return st, true, nil
}

func (a *App) daemonRestart(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	old, _, err := a.stopDaemon(c.Context, true)
	if err != nil {
		return err
	}
	_, st, _, err := a.conn.ensureStatus(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(a.out(), st)
	}
	if old.PID != 0 {
		a.printf("opm daemon restarted (pid %d, was %d); %d apps kept\n", st.PID, old.PID, st.Apps)
	} else {
		a.printf("opm daemon started (pid %d)\n", st.PID)
	}
	return nil
}

func (a *App) daemonStatus(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	_, st, err := a.conn.running(c.Context)
	if errors.Is(err, api.ErrUnreachable) {
		return failuref("the opm daemon is not running (start it with 'opm daemon start')")
	}
	if err != nil {
		return explain(err)
	}
	if c.Bool("json") {
		return writeJSON(a.out(), st)
	}
	flag := "idle"
	if r := st.Restore; r.InProgress {
		flag = fmt.Sprintf("restore in progress (owner pid %d, generation %d", r.OwnerPID, r.Generation)
		if !r.HeldSince.IsZero() {
			flag += ", held " + formatHeld(r.HeldMs)
		}
		if r.OwnerStopped {
			flag += ", owner stopped"
		}
		flag += ")"
		if r.Stalled {
			flag += "; stalled: held past restore_stall, takeover starts wait for it (end that restore if it is stuck)"
		}
	}
	a.printf("opm daemon running\n")
	a.printf("  pid:          %d\n", st.PID)
	a.printf("  uptime:       %s\n", formatUptime(st.UptimeMs))
	a.printf("  version:      %s\n", Escape(st.Version))
	a.printf("  apps:         %d\n", st.Apps)
	a.printf("  home:         %s\n", Escape(st.Home))
	a.printf("  runtime dir:  %s\n", Escape(st.RuntimeDir))
	a.printf("  socket:       %s\n", Escape(st.Socket))
	if st.LogDir != "" {
		a.printf("  log dir:      %s\n", Escape(st.LogDir))
	}
	if st.DaemonLog != "" {
		a.printf("  daemon log:   %s\n", Escape(st.DaemonLog))
	}
	a.printf("  restore flag: %s\n", flag)
	switch cg := st.Cgroups; cg.Mode {
	case api.CgroupsV2:
		a.printf("  cgroups:      v2, one per app, in %s\n", Escape(cg.Path))
	case api.CgroupsOff:
		a.printf("  cgroups:      off (%s); a grandchild that calls setsid escapes stop\n", Escape(cg.Reason))
	}
	for _, note := range st.Notes {
		a.printf("  warning:      %s\n", Escape(note))
	}
	return nil
}
