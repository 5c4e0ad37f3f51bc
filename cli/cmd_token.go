package cli

import (
	ucli "github.com/urfave/cli/v2"

	"opm/shm"
)

// tokenCommand is `opm token [--rotate]`: the bearer token of the
// daemon's TCP listener (listen in config.toml) and web dashboard.
func (a *App) tokenCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "token",
		Usage: "print the bearer token of the TCP listener and web dashboard (listen in config.toml), making it when missing; --rotate replaces it",
		Description: "The token is kept in $OPM_HOME/token (mode 0600; in the runtime dir when OPM_HOME is read-only).\n" +
			"Clients send it as 'Authorization: Bearer <token>'; the dashboard's login form takes it.\n" +
			"--rotate makes a new one: the daemon refuses the old one from its next request.",
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "rotate", Usage: "replace the token with a new one (the old one stops working at once)"},
		},
		Action: func(c *ucli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			p, _, err := a.conn.resolve()
			if err != nil {
				return err
			}
			get := shm.Token
			if c.Bool("rotate") {
				get = shm.RotateToken
			}
			tok, _, err := get(p.home, p.runtime)
			if err != nil {
				return err
			}
			a.printf("%s\n", tok)
			return nil
		},
	}
}
