package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	ucli "github.com/urfave/cli/v2"

	"opm/cli/ecosystem"
	"opm/daemon/api"
)

func (a *App) infoCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "info",
		Aliases:   []string{"describe", "desc", "show"},
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
	t.SetTitle("%s (id %d)", label(app), app.ID)
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
		{"restarts", restartsText(app)},
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
		{"min uptime", msOr(s.MinUptimeMs, "the daemon's restart_reset_after")},
		{"restart delay", restartDelayText(s.Settings)},
		{"stop exit codes", orDash(joinInts(s.StopExitCodes))},
		{"kill signal", orDefault(s.KillSignal, "SIGTERM")},
		{"kill timeout", fmt.Sprintf("%dms", s.KillTimeoutMs)},
		{"out log", Escape(s.OutLog)},
		{"err log", Escape(s.ErrLog)},
		{"log rotation", logRotationText(s.LogSettings, app.Logs)},
		{"environment", fmt.Sprintf("%d variables (see 'opm env %s')", len(s.Env), envTarget(app))},
	}
	rows = append(rows, instanceRows(app)...)
	if len(s.InterpreterArgs) > 0 {
		rows = append(rows, table.Row{"interpreter args", strings.Join(escapeEach(s.InterpreterArgs), " ")})
	}
	if s.CombinedLog != "" {
		rows = append(rows, table.Row{"combined log", Escape(s.CombinedLog)})
	}
	if s.CronRestart != "" {
		rows = append(rows, table.Row{"cron restart", Escape(s.CronRestart)})
	}
	if s.Watch {
		rows = append(rows, table.Row{"watch", watchText(s.Settings, s.Cwd)})
	}
	if s.MaxMemoryRestart > 0 {
		rows = append(rows, table.Row{"memory limit", api.FormatSize(s.MaxMemoryRestart) + " (restart when over it)"})
	}
	if s.Timestamped() {
		rows = append(rows, table.Row{"log timestamps", orDefault(s.LogDateFormat, api.DefaultLogDateFormat)})
	}
	if app.Logs.LinesLost > 0 {
		rows = append(rows, table.Row{"log lines lost", fmt.Sprintf("%d (last: %s at %s)", app.Logs.LinesLost, Escape(app.Logs.LastError), app.Logs.LastErrorAt.Local().Format(time.DateTime))})
	}
	pending := ecosystem.CurrentPending(s.Pending)
	for _, k := range slices.Sorted(maps.Keys(pending)) {
		why := " (not yet supported: kept and saved, not acted on)"
		if k == "exec_mode" {
			why = " (kept, not acted on: " + ecosystem.ExecModeNote + ")"
		}
		rows = append(rows, table.Row{Escape(k), Escape(string(pending[k])) + why})
	}
	t.AppendRows(rows)
	t.Render()
}

// instanceRows say how many instances the app has and which one the
// row is, and what each instance's environment gets.
func instanceRows(app api.App) []table.Row {
	s := app.Spec
	count := app.Instances
	if count < 1 {
		count = s.Count()
	}
	var rows []table.Row
	if count > 1 {
		rows = append(rows, table.Row{"instances", fmt.Sprintf("%d (this is instance %d)", count, app.Instance)})
	}
	if s.InstanceVar != "" || count > 1 {
		v := s.InstanceVarName()
		rows = append(rows, table.Row{"instance var", fmt.Sprintf("%s (this instance: %s=%d)", Escape(v), Escape(v), app.Instance)})
	}
	if v := s.IncrementVar; v != "" {
		text := Escape(v)
		env, err := api.InstanceEnvOf(s.Env, s.Settings, app.Instance)
		switch {
		case err != nil:
			text += " (" + Escape(err.Error()) + ")"
		default:
			for _, kv := range env {
				if k, val, _ := strings.Cut(kv, "="); k == v {
					text += fmt.Sprintf(" (this instance: %s=%s)", Escape(v), Escape(val))
				}
			}
		}
		rows = append(rows, table.Row{"increment var", text})
	}
	return rows
}

// envTarget is what 'opm env' takes to show the app's row: its name, or
// its id for an instance of several.
func envTarget(app api.App) string {
	if app.Instances > 1 {
		return strconv.Itoa(app.ID)
	}
	return Escape(app.Name)
}

// watchText lists the paths a watching app watches, and what it
// ignores.
func watchText(s api.Settings, cwd string) string {
	paths := s.WatchPaths
	if len(paths) == 0 {
		paths = []string{cwd}
	}
	text := strings.Join(escapeEach(paths), ", ")
	if len(s.IgnoreWatch) > 0 {
		text += "; ignoring " + strings.Join(escapeEach(s.IgnoreWatch), ", ")
	}
	if s.WatchDelayMs > 0 {
		text += fmt.Sprintf("; restart %dms after the last change", s.WatchDelayMs)
	}
	return text
}

// restartsText is the restart count, with why opm last restarted the
// app.
func restartsText(app api.App) string {
	if app.LastRestartReason == "" {
		return fmt.Sprint(app.Restarts)
	}
	return fmt.Sprintf("%d (last: %s)", app.Restarts, app.LastRestartReason)
}

// logRotationText says when the app's logs rotate and how many rotated
// files are kept.
func logRotationText(l api.LogSettings, st api.LogStats) string {
	size, files := "the daemon's log_max_size", "log_max_files"
	if l.LogMaxSize > 0 {
		size = api.FormatSize(l.LogMaxSize)
	}
	if l.LogMaxFiles > 0 {
		files = fmt.Sprint(l.LogMaxFiles)
	}
	text := fmt.Sprintf("at %s, keeping %s", size, files)
	if l.LogCompress != nil && *l.LogCompress {
		text += ", gzipped"
	}
	return fmt.Sprintf("%s (%d rotations since the daemon started)", text, st.Rotations)
}

// restartDelayText says how long an app waits before a restart.
func restartDelayText(s api.Settings) string {
	switch {
	case s.ExpBackoffRestartDelayMs > 0:
		return fmt.Sprintf("%dms, doubling on every restart in a row", s.ExpBackoffRestartDelayMs)
	case s.RestartDelayMs > 0:
		return fmt.Sprintf("%dms", s.RestartDelayMs)
	}
	return "the daemon's back-off (restart_delay, doubling)"
}

func msOr(ms int64, def string) string {
	if ms == 0 {
		return def
	}
	return fmt.Sprintf("%dms", ms)
}

func orDefault(s, def string) string {
	if s == "" {
		return def + " (default)"
	}
	return Escape(s)
}

func joinInts(ns []int) string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return strings.Join(out, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
