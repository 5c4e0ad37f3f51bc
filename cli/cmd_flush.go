package cli

import (
	"net/http"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

func (a *App) flushCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "flush",
		Usage:     "empty the log files of apps (all apps when no target is given); --all removes their rotated files too",
		ArgsUsage: "[<target>]",
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "all", Usage: "remove the apps' rotated log files too"},
		},
		Action: func(c *ucli.Context) error {
			req := api.FlushRequest{All: c.Bool("all")}
			if c.Args().Len() > 0 {
				t, err := targetArg(c)
				if err != nil {
					return err
				}
				if t != "all" {
					req.Target = t
				}
			}
			var apps []api.App
			if err := a.call(c.Context, http.MethodPost, api.PathFlush, req, &apps); err != nil {
				return err
			}
			for _, app := range apps {
				if req.All {
					a.printf("flushed the logs of %s (id %d) and removed its rotated log files\n", label(app), app.ID)
				} else {
					a.printf("flushed the logs of %s (id %d)\n", label(app), app.ID)
				}
			}
			return nil
		},
	}
}
