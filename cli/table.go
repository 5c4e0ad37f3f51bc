package cli

import (
	"fmt"
	"io"
	"strconv"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"opm/cli/monit"
	"opm/daemon/api"
)

// renderApps prints apps as the table `opm list` shows.
func renderApps(w io.Writer, apps []api.App) {
	color := useColor(w)
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"id", "name", "pid", "uptime", "restarts", "status", "cpu", "memory"})
	t.SetColumnConfigs([]table.ColumnConfig{
		{Number: 1, Align: text.AlignRight},
		{Number: 3, Align: text.AlignRight},
		{Number: 5, Align: text.AlignRight},
		{Number: 7, Align: text.AlignRight},
		{Number: 8, Align: text.AlignRight},
	})
	for _, app := range apps {
		pid, uptime, cpu, mem := "-", "-", "-", "-"
		if app.PID > 0 {
			pid = strconv.Itoa(app.PID)
			uptime = formatUptime(app.UptimeMs)
			if app.Memory > 0 { // sampled
				cpu = fmt.Sprintf("%.1f%%", app.CPU)
				mem = formatBytes(app.Memory)
			}
		}
		t.AppendRow(table.Row{app.ID, label(app), pid, uptime, app.Restarts, listStatus(app, color), cpu, mem})
	}
	if len(apps) == 0 {
		fmt.Fprintln(w, "no apps (start one with 'opm start <script-or-command>')")
		return
	}
	t.Render()
}

// label names an app's row for people, escaped: its name, with the
// instance id after it for an app of several instances ("web:2").
func label(app api.App) string {
	return Escape(api.Label(app.Name, app.Instance, app.Instances))
}

// listStatus is an app's status as `opm list` shows it: with a watching
// marker for an app that restarts when its files change.
func listStatus(app api.App, color bool) string {
	s := statusText(app, color)
	if app.Spec.Watch {
		s += " " + watchingMarker
	}
	return s
}

// watchingMarker follows the status of an app that watches its files.
const watchingMarker = "[watching]"

// statusText is an app's status, coloured on a terminal.
func statusText(app api.App, color bool) string {
	s := Escape(app.Status)
	if app.Status == api.StatusWaiting && app.NextRestartMs > 0 {
		s = fmt.Sprintf("%s (%dms)", s, app.NextRestartMs)
	}
	if !color {
		return s
	}
	c := text.Colors{monit.StatusColor(app.Status)}
	if app.Status == api.StatusOnline || app.Status == api.StatusErrored {
		c = append(c, text.Bold)
	}
	return c.Sprint(s)
}
