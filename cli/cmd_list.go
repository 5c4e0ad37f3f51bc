package cli

import (
	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

func (a *App) listCommand() *ucli.Command {
	return &ucli.Command{
		Name:    "list",
		Aliases: []string{"ls"},
		Usage:   "show every app: id, name, pid, uptime, restarts, status, cpu, memory",
		Flags:   []ucli.Flag{jsonFlag()},
		Action: func(c *ucli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			apps, err := a.apps(c.Context, "all")
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if apps == nil {
					apps = []api.App{}
				}
				return writeJSON(a.out(), apps)
			}
			renderApps(a.out(), apps)
			return nil
		},
	}
}
