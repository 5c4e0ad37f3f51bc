// Command opm is a process manager: it keeps your apps running, exactly
// once. `opm --help` lists the commands; README.md says how to use them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"opm/cli"
	"opm/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.NewApp(cli.Options{RunDaemon: runDaemon}).Run(ctx, os.Args)
	stop()
	if err != nil {
		// Errors quote what the user typed: print them escaped.
		fmt.Fprintf(os.Stderr, "opm: %s\n", cli.Escape(err.Error()))
	}
	os.Exit(cli.ExitCode(err))
}

// runDaemon runs the daemon in this process.
func runDaemon(ctx context.Context, o cli.DaemonOptions) error {
	return daemon.MainWith(ctx, daemon.Options{
		Restore: o.Restore, OnlyRestore: o.OnlyRestore,
		Started: o.Started, Stopping: o.Stopping,
		Service: o.Service, StopHint: o.StopHint,
	})
}
