package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

func (a *App) infoCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "info",
		Aliases:   []string{"describe"},
		Usage:     "show apps in full (--json: an array, like 'opm list --json')",
		ArgsUsage: "<target>",
		Flags:     []ucli.Flag{jsonFlag()},
		Action: func(c *ucli.Context) error {
			_, apps, err := a.targetApps(c)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if apps == nil {
					apps = []api.App{}
				}
				return writeJSON(a.out(), apps)
			}
			for i, app := range apps {
				if i > 0 {
					fmt.Fprintln(a.out())
				}
				renderInfo(a.out(), app)
			}
			return nil
		},
	}
}

// renderInfo prints one app as a two-column table.
func renderInfo(w io.Writer, app api.App) {
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.SetTitle("%s (id %d)", Escape(app.Name), app.ID)
	s := app.Spec
	pid, uptime := "-", "-"
	if app.PID > 0 {
		pid, uptime = strconv.Itoa(app.PID), formatUptime(app.UptimeMs)
	}
	exit := "-"
	if app.ExitCode >= 0 && app.PID == 0 {
		exit = strconv.Itoa(app.ExitCode)
	}
	rows := []table.Row{
		{"status", statusText(app, useColor(w))},
		{"pid", pid},
		{"uptime", uptime},
		{"restarts", app.Restarts},
		{"last exit code", exit},
		{"cpu", fmt.Sprintf("%.1f%%", app.CPU)},
		{"memory", formatBytes(app.Memory)},
		{"command", Escape(app.Command)},
		{"interpreter", orDash(Escape(s.Interpreter))},
		{"exec", orDash(Escape(s.Exec))},
		{"argv", orDash(strings.Join(escapeEach(s.Argv), " "))},
		{"cwd", Escape(s.Cwd)},
		{"restart policy", Escape(s.Restart)},
		{"max restarts", s.MaxRestarts},
		{"kill timeout", fmt.Sprintf("%dms", s.KillTimeoutMs)},
		{"out log", Escape(s.OutLog)},
		{"err log", Escape(s.ErrLog)},
		{"environment", fmt.Sprintf("%d variables (see 'opm env %s')", len(s.Env), Escape(app.Name))},
	}
	t.AppendRows(rows)
	t.Render()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
