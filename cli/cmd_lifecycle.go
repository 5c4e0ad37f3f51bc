package cli

import (
	"net/http"
	"net/url"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

// actionCommand is stop, restart or reload: one action on a target.
func (a *App) actionCommand(name string, aliases []string, usage string) *ucli.Command {
	return &ucli.Command{
		Name:      name,
		Aliases:   aliases,
		Usage:     usage,
		ArgsUsage: "<target | ecosystem file>",
		Flags:     []ucli.Flag{onlyFlag},
		Action: func(c *ucli.Context) error {
			target, err := a.targetOrFile(c)
			if err != nil {
				return err
			}
			return a.act(c, name, target)
		},
	}
}

// targetOrFile is the target of stop and remove: the one <target>
// argument, or the apps of the ecosystem file it names.
func (a *App) targetOrFile(c *ucli.Context) (string, error) {
	args := positionals(c)
	if len(args) == 1 && fileArg(args[0], true) {
		return a.fileTarget(c, args[0])
	}
	if c.IsSet("only") {
		return "", usageErrorf("--only picks apps of an ecosystem file (see 'opm %s --help')", c.Command.FullName())
	}
	target, err := targetArg(c)
	if err == nil && fileArg(target, false) {
		// Named like an ecosystem file that is not there: an app of
		// that name, or a mistyped path.
		if _, err := a.apps(c.Context, target); api.CodeOf(err) == api.CodeNotFound {
			return "", usageErrorf("no file %s here and no app named %s (check the path, or see 'opm list')", Escape(target), Escape(target))
		}
	}
	return target, err
}

// restartCommand is restart (and reload): with setting flags the apps are
// changed first, their saved environment kept unless --update-env.
func (a *App) restartCommand(name, usage string) *ucli.Command {
	return &ucli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "<target | ecosystem file>",
		Flags:     append(settingFlags(), onlyFlag),
		Action: func(c *ucli.Context) error {
			if args := positionals(c); len(args) == 1 && fileArg(args[0], true) {
				return a.startFile(c, args[0], true)
			}
			if c.IsSet("only") {
				return usageErrorf("--only picks apps of an ecosystem file (see 'opm %s --help')", name)
			}
			target, err := targetArg(c)
			if err != nil {
				return err
			}
			if !settingsGiven(c) {
				return a.act(c, name, target)
			}
			apps, err := a.apps(c.Context, target)
			if err != nil {
				return err
			}
			return a.update(c, apps)
		},
	}
}

// signalCommand sends a signal to apps (PM2's sendSignal).
func (a *App) signalCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "signal",
		Aliases:   []string{"sendSignal"},
		Usage:     "send a signal to apps' processes: opm signal SIGUSR2 web",
		ArgsUsage: "<signal> <target>",
		Action: func(c *ucli.Context) error {
			args := positionals(c)
			if len(args) != 2 {
				return usageErrorf("opm signal takes a signal and a target, e.g. opm signal SIGUSR2 web")
			}
			sig, err := api.ParseSignal(args[0])
			if err != nil {
				return usageErrorf("%v", err)
			}
			if _, err := api.ParseTarget(args[1]); err != nil {
				return usageErrorf("opm signal: %v (see 'opm list')", err)
			}
			path := api.TargetPath(args[1]) + "/signal?" + url.Values{api.SignalParam: {api.SignalString(sig)}}.Encode()
			var apps []api.App
			if err := a.call(c.Context, http.MethodPost, path, nil, &apps); err != nil {
				return err
			}
			for _, app := range apps {
				if app.PID > 0 {
					a.printf("sent %s to %s (pid %d)\n", api.SignalString(sig), label(app), app.PID)
				} else {
					a.printf("%s is not running: no signal sent\n", label(app))
				}
			}
			return nil
		},
	}
}

// act asks the daemon to start, stop, restart or reload the apps named by
// target and prints them as they are afterwards.
func (a *App) act(c *ucli.Context, action, target string) error {
	var apps []api.App
	if err := a.call(c.Context, http.MethodPost, api.TargetPath(target)+"/"+action, nil, &apps); err != nil {
		return err
	}
	renderApps(a.out(), apps)
	return nil
}

func (a *App) removeCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "remove",
		Aliases:   []string{"delete", "del", "rm"},
		Usage:     "stop apps and forget them",
		ArgsUsage: "<target | ecosystem file>",
		Flags:     []ucli.Flag{onlyFlag},
		Action: func(c *ucli.Context) error {
			target, err := a.targetOrFile(c)
			if err != nil {
				return err
			}
			var apps []api.App
			if err := a.call(c.Context, http.MethodDelete, api.TargetPath(target), nil, &apps); err != nil {
				return err
			}
			for _, app := range apps {
				a.printf("removed %s (id %d)\n", label(app), app.ID)
			}
			return nil
		},
	}
}
