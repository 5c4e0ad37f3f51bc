// Package cli is the opm command: urfave/cli commands that talk to the
// daemon through its API client and format what it answers.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

// Options configure the opm command.
type Options struct {
	// RunDaemon runs the daemon in the foreground, in this process,
	// until ctx ends: `opm daemon run` (the units of `opm startup`) and
	// `opm run` call it.
	RunDaemon func(ctx context.Context, o DaemonOptions) error
	// Stdout and Stderr default to the process's own.
	Stdout, Stderr io.Writer
}

// DaemonOptions change how RunDaemon runs the daemon.
type DaemonOptions struct {
	// Restore restores the saved apps once the daemon serves.
	Restore bool
	// Started, when set, is called once the daemon serves and its
	// restore (if any) is done, with how that went.
	Started func(api.RestoreResult, error)
	// Stopping, when set, is called once when the daemon begins to
	// stop (SIGTERM, 'opm daemon stop'), with the apps as they were.
	Stopping func([]api.App)
	// OnlyRestore: Restore alone decides whether the daemon restores,
	// whatever the config's restore_on_start says.
	OnlyRestore bool
	// Service and StopHint: the daemon runs as this service, stopped as
	// StopHint says; 'opm daemon stop' and 'restart' are refused.
	Service, StopHint string
}

// App is the opm command line.
type App struct {
	opts Options
	app  *ucli.App
	conn conn
	// args is the command line as typed, for messages.
	args []string
}

// NewApp builds the opm command with every command of DESIGN.md's CLI
// table.
func NewApp(opts Options) *App {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	a := &App{opts: opts}
	a.conn.warnings = opts.Stderr
	a.app = &ucli.App{
		Name:                 "opm",
		Usage:                "a process manager: keeps your apps running, exactly once",
		Version:              api.Version,
		EnableBashCompletion: true,
		Writer:               opts.Stdout,
		ErrWriter:            opts.Stderr,
		// Errors are printed once, by the caller of Run.
		ExitErrHandler: func(*ucli.Context, error) {},
		OnUsageError:   a.onUsageError,
		Action:         rootAction,
		Commands: []*ucli.Command{
			a.startCommand(),
			a.actionCommand("stop", nil, "stop apps (SIGTERM to the process group, SIGKILL after the kill timeout)"),
			a.restartCommand("restart", "stop and start apps again; with settings, change them first"),
			a.restartCommand("reload", "restart apps (opm has no zero-downtime reload yet: same as restart)"),
			a.actionCommand("reset", nil, "set apps' restart counters back to zero"),
			a.signalCommand(),
			a.scaleCommand(),
			a.removeCommand(),
			a.listCommand(),
			a.jlistCommand(),
			a.infoCommand(),
			a.logsCommand(),
			a.monitCommand(),
			a.eventsCommand(),
			a.flushCommand(),
			a.envCommand(),
			a.saveCommand(),
			a.exportCommand(),
			a.importCommand(),
			a.restoreCommand(),
			a.startupCommand(), a.unstartupCommand(),
			a.runCommand(),
			a.daemonCommand(),
			a.tokenCommand(),
			a.versionCommand(),
			a.completionCommand(),
		},
	}
	a.app.Commands = append(a.app.Commands, a.shortcutCommands()...)
	a.setUsageErrors(a.app.Commands)
	return a
}

// Run runs the command line args (args[0] is the program name). The error,
// if any, is for the caller to print as "opm: <error>" and to turn into an
// exit status with ExitCode.
func (a *App) Run(ctx context.Context, args []string) error {
	a.args = args
	return a.app.RunContext(ctx, reorderArgs(a.app, args))
}

// rootAction runs for `opm` alone (help) and for an unknown command.
func rootAction(c *ucli.Context) error {
	if c.Args().Present() {
		return usageErrorf("unknown command %q (see 'opm --help')", c.Args().First())
	}
	return ucli.ShowAppHelp(c)
}

// onUsageError turns urfave's flag parsing errors into exit status 2 with
// a hint. The flag package names a flag in its own single-dash form
// ("-watch"); the message names it as the user typed it, and says when it
// is a PM2 flag opm does not have yet.
func (a *App) onUsageError(c *ucli.Context, err error, _ bool) error {
	name := "opm"
	if c.Command != nil && c.Command.Name != "" {
		name = "opm " + c.Command.FullName()
	}
	msg := err.Error()
	for _, p := range []string{"flag provided but not defined: ", "flag needs an argument: "} {
		flag, ok := strings.CutPrefix(msg, p)
		if !ok {
			continue
		}
		typed := a.typedFlag(strings.TrimLeft(flag, "-"))
		if p == "flag needs an argument: " {
			return usageErrorf("%s needs a value (see '%s --help')", typed, name)
		}
		if pm2Flag(strings.TrimLeft(flag, "-")) {
			return usageErrorf("%s is a PM2 flag that opm does not have yet (see '%s --help' for what it has)", typed, name)
		}
		return usageErrorf("unknown flag %s (see '%s --help')", typed, name)
	}
	return usageErrorf("%v (see '%s --help')", err, name)
}

// typedFlag is the flag called name as the user typed it ("--watch",
// "-w"), or "--name" when it is not found among the arguments.
func (a *App) typedFlag(name string) string {
	for _, arg := range a.args {
		if arg == "--" {
			break
		}
		flag, _, _ := strings.Cut(arg, "=")
		if strings.HasPrefix(flag, "-") && strings.TrimLeft(flag, "-") == name {
			return flag
		}
	}
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// setUsageErrors installs onUsageError on every command.
func (a *App) setUsageErrors(cmds []*ucli.Command) {
	for _, c := range cmds {
		c.OnUsageError = a.onUsageError
		a.setUsageErrors(c.Subcommands)
	}
}

// out and errOut are the command's output streams.
func (a *App) out() io.Writer    { return a.opts.Stdout }
func (a *App) errOut() io.Writer { return a.opts.Stderr }

// printf writes to standard output.
func (a *App) printf(format string, args ...any) { fmt.Fprintf(a.out(), format, args...) }
