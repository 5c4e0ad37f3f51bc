package cli

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	ucli "github.com/urfave/cli/v2"

	"opm/cli/ecosystem"
	"opm/daemon/api"
)

func (a *App) importCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "import",
		Usage:     "register the apps of another process manager in opm",
		ArgsUsage: "pm2",
		Action: func(c *ucli.Context) error {
			if c.Args().Present() {
				return usageErrorf("cannot import from %q: opm imports from pm2 (see 'opm import --help')", c.Args().First())
			}
			return usageErrorf("opm import needs where to import from: pm2 (see 'opm import --help')")
		},
		Subcommands: []*ucli.Command{{
			Name:  "pm2",
			Usage: "register the apps of PM2's saved process list (what 'pm2 save' writes)",
			Description: `Reads PM2's saved process list ($PM2_HOME/dump.pm2, PM2_HOME defaulting
to ~/.pm2; run 'pm2 save' first) and registers its apps in opm, stopped
unless --start is given, each with the script, arguments, directory,
interpreter and environment it had under PM2 (without PM2's own
variables) and with SIGINT as its kill signal, as under PM2. An app PM2
had stopped is registered stopped. The processes PM2 ran of one app
(pm2 start -i N) are one app of as many instances; PM2's cluster mode is
kept but not acted on: each instance is a process of its own. An app
whose name opm knows already is left as it is. Then run 'opm save' to keep the apps across reboots.`,
			Flags: []ucli.Flag{
				&ucli.StringFlag{Name: "from", Usage: "PM2's dump `FILE` (default: $PM2_HOME/dump.pm2)"},
				&ucli.BoolFlag{Name: "start", Usage: "start the apps PM2 ran, too"},
			},
			Action: a.importPM2,
		}},
	}
}

// pm2DumpPath is PM2's saved process list: $PM2_HOME/dump.pm2, PM2_HOME
// defaulting to ~/.pm2, as PM2 itself finds it.
func pm2DumpPath() (string, error) {
	home := os.Getenv("PM2_HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", usageErrorf("cannot find PM2's dump: %v (pass --from PATH)", err)
		}
		home = filepath.Join(h, ".pm2")
	}
	return filepath.Join(home, "dump.pm2"), nil
}

func (a *App) importPM2(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	path := c.String("from")
	if c.IsSet("from") && path == "" {
		return usageErrorf("--from needs PM2's dump file (e.g. ~/.pm2/dump.pm2)")
	}
	if path == "" {
		var err error
		if path, err = pm2DumpPath(); err != nil {
			return err
		}
	}
	f, err := ecosystem.LoadPM2Dump(path, ecosystem.Options{})
	if err != nil {
		// A dump opm cannot read is the user's to fix: nothing is
		// registered.
		return &exitError{code: ExitUsage, err: err}
	}
	for _, w := range f.Warnings {
		fmt.Fprintf(a.errOut(), "opm: warning: %s\n", Escape(w))
	}
	var existing []api.App
	if err := a.call(c.Context, http.MethodGet, api.PathApps, nil, &existing); err != nil {
		return err
	}
	known := map[string]bool{}
	for _, app := range existing {
		known[app.Name] = true
	}
	var imported []api.App // a row per instance
	var failed []error
	n := 0
	for _, app := range f.Apps {
		if known[app.Name] {
			fmt.Fprintf(a.errOut(), "opm: %s: already in opm, left as it is\n", Escape(app.Name))
			continue
		}
		req := app.Request
		req.Stopped = app.Stopped || !c.Bool("start")
		rows, err := a.startApp(c.Context, req)
		switch {
		case api.CodeOf(err) == api.CodeConflict:
			// Registered since the list was read.
			fmt.Fprintf(a.errOut(), "opm: %s: already in opm, left as it is\n", Escape(app.Name))
		case err != nil:
			fmt.Fprintf(a.errOut(), "opm: %s: not imported: %s\n", Escape(app.Name), Escape(err.Error()))
			failed = append(failed, fmt.Errorf("%s: %w", app.Name, err))
		default:
			imported = append(imported, rows...)
			n++
		}
	}
	if n > 0 {
		renderApps(a.out(), imported)
		a.printf("imported %d of PM2's %d apps; run 'opm save' to keep them across reboots\n", n, len(f.Apps))
	} else {
		a.printf("no app imported\n")
	}
	if len(failed) > 0 {
		return &exitError{code: ExitFailure, err: fmt.Errorf("%d of PM2's apps not imported: %w", len(failed), errors.Join(failed...))}
	}
	return nil
}
