package cli

import (
	"net/http"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

func (a *App) saveCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "save",
		Usage: "write every app's definition to the dump, for 'opm restore'",
		Flags: []ucli.Flag{jsonFlag()},
		Action: func(c *ucli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			var res api.SaveResult
			if err := a.call(c.Context, http.MethodPost, api.PathSave, nil, &res); err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(a.out(), res)
			}
			a.printf("saved %d apps to %s\n", res.Apps, Escape(res.Path))
			return nil
		},
	}
}
