package cli

import (
	"net/http"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

// actionCommand is stop, restart or reload: one action on a target.
func (a *App) actionCommand(name string, aliases []string, usage string) *ucli.Command {
	return &ucli.Command{
		Name:      name,
		Aliases:   aliases,
		Usage:     usage,
		ArgsUsage: "<target>",
		Action: func(c *ucli.Context) error {
			target, err := targetArg(c)
			if err != nil {
				return err
			}
			return a.act(c, name, target)
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
		Aliases:   []string{"delete", "rm"},
		Usage:     "stop apps and forget them",
		ArgsUsage: "<target>",
		Action: func(c *ucli.Context) error {
			target, err := targetArg(c)
			if err != nil {
				return err
			}
			var apps []api.App
			if err := a.call(c.Context, http.MethodDelete, api.TargetPath(target), nil, &apps); err != nil {
				return err
			}
			for _, app := range apps {
				a.printf("removed %s (id %d)\n", Escape(app.Name), app.ID)
			}
			return nil
		},
	}
}
