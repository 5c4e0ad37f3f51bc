package cli

import (
	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

func (a *App) versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "version",
		Usage: "print opm's version",
		Action: func(c *ucli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			a.printf("opm version %s\n", api.Version)
			return nil
		},
	}
}
