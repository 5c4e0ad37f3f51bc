package cli

import (
	"encoding/json"
	"fmt"
	"net/http"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

func (a *App) listCommand() *ucli.Command {
	return &ucli.Command{
		Name:    "list",
		Aliases: []string{"ls", "l", "status", "prettylist"},
		Usage:   "show every app: id, name, pid, uptime, restarts, status, cpu, memory",
		Flags:   []ucli.Flag{jsonFlag()},
		Action: func(c *ucli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			return a.list(c, c.Bool("json"))
		},
	}
}

// jlistCommand is PM2's jlist: `opm list --json`.
func (a *App) jlistCommand() *ucli.Command {
	return &ucli.Command{
		Name:   "jlist",
		Usage:  "the same as 'opm list --json'",
		Hidden: true,
		Action: func(c *ucli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			return a.list(c, true)
		},
	}
}

// list prints every app, as a table or as JSON.
func (a *App) list(c *ucli.Context, asJSON bool) error {
	if asJSON {
		// The daemon's answer is already the JSON array of
		// api.App: print it as it came, without decoding
		// hundreds of apps only to encode them again.
		var raw json.RawMessage
		if err := a.call(c.Context, http.MethodGet, api.SummaryPath, nil, &raw); err != nil {
			return err
		}
		if string(raw) == "null" {
			raw = json.RawMessage("[]")
		}
		_, err := fmt.Fprintf(a.out(), "%s\n", escapeJSON(raw))
		return err
	}
	var apps []api.App
	if err := a.call(c.Context, http.MethodGet, api.SummaryPath, nil, &apps); err != nil {
		return err
	}
	renderApps(a.out(), apps)
	return nil
}
