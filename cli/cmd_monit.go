package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	ucli "github.com/urfave/cli/v2"

	"opm/cli/monit"
	"opm/daemon/api"
)

func (a *App) monitCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "monit",
		Usage: "a terminal dashboard: apps with cpu and memory, the selected app's logs; keys restart, stop, start, reload",
		Description: `Shows every app (one line per instance, as 'opm list') with sparklines of
its CPU and memory, its status, restarts and uptime, and below them the
last lines of the selected app's out and err logs, as 'opm logs' prints
them (err lines in red).

Keys: up/down or j/k move the selection (g/G, Home/End: first/last),
r restarts the selected app, s stops it, t starts it, l reloads it,
q or Ctrl-C quits and gives the terminal back as it was.

It asks the daemon for the apps once every --interval, and only while it
is open: the daemon does nothing for it otherwise. A terminal smaller
than 60x12 is told so instead of drawn on.`,
		Flags: []ucli.Flag{
			&ucli.DurationFlag{Name: "interval", Value: time.Second, Usage: "how often to fetch the apps (at least 100ms)"},
		},
		Action: a.monit,
	}
}

func (a *App) monit(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	interval := c.Duration("interval")
	if interval < 100*time.Millisecond {
		return usageErrorf("invalid --interval %s: use 100ms or more", interval)
	}
	if err := monit.CheckTerminal(os.Stdin, os.Stdout); err != nil {
		return failuref("%v", err)
	}
	limit, err := requestTimeout()
	if err != nil {
		return err
	}
	// Like 'opm list', opm monit starts the daemon when none runs; once
	// open, the dashboard never starts one: a daemon stopped meanwhile is
	// reported on the screen.
	cl, err := a.conn.ensure(c.Context)
	if err != nil {
		return err
	}
	src := &monitSource{cl: cl, limit: limit, apps: map[int]api.App{}}
	return monit.Run(c.Context, os.Stdin, os.Stdout, src, monit.Options{
		Interval: interval,
		Color:    os.Getenv("NO_COLOR") == "",
	})
}

// monitSource is the daemon as opm monit sees it.
type monitSource struct {
	cl    *api.Client
	limit time.Duration
	mu    sync.Mutex
	apps  map[int]api.App // the last listing, by id: where each app logs
}

// do sends one request, bounded by $OPM_TIMEOUT, without starting a
// daemon.
func (s *monitSource) do(ctx context.Context, method, path string, out any) error {
	rctx, cancel := context.WithTimeout(ctx, s.limit)
	defer cancel()
	return unanswered(s.cl.Do(rctx, method, path, nil, out), method, s.limit)
}

func (s *monitSource) Apps(ctx context.Context) ([]monit.Row, error) {
	var apps []api.App
	if err := s.do(ctx, http.MethodGet, api.SummaryPath, &apps); err != nil {
		return nil, err
	}
	byID := make(map[int]api.App, len(apps))
	rows := make([]monit.Row, 0, len(apps))
	for _, app := range apps {
		byID[app.ID] = app
		r := monit.Row{
			ID:         app.ID,
			Label:      label(app),
			Status:     app.Status,
			StatusText: statusText(app, false),
			PID:        app.PID,
			Restarts:   app.Restarts,
			Uptime:     "-",
		}
		if app.PID > 0 {
			r.Uptime = formatUptime(app.UptimeMs)
			if app.Memory > 0 { // sampled
				r.Sampled, r.CPU, r.Memory, r.MemoryText = true, app.CPU, app.Memory, formatBytes(app.Memory)
			}
		}
		rows = append(rows, r)
	}
	s.mu.Lock()
	s.apps = byID
	s.mu.Unlock()
	return rows, nil
}

// Logs reads the tails of the app's out and err logs as 'opm logs
// <app> --lines n' does, and keeps the last n lines of both: in time
// order when the app logs with timestamps, out then err otherwise.
func (s *monitSource) Logs(_ context.Context, id, n int) ([]monit.LogLine, error) {
	s.mu.Lock()
	app, ok := s.apps[id]
	s.mu.Unlock()
	if !ok {
		return nil, nil
	}
	srcs := logSources([]api.App{app}, true, true)
	if len(srcs) == 0 {
		return []monit.LogLine{{Text: fmt.Sprintf("the logs of %s go to /dev/null: nothing to show", label(app))}}, nil
	}
	tails := make([]tail, 0, len(srcs))
	for _, src := range srcs {
		lines, _, _, err := tailLog(src, n, false)
		if err != nil {
			return nil, err
		}
		tails = append(tails, tail{src, lines})
	}
	var out []monit.LogLine
	mergeTails(tails, func(src *logSource, line []byte) {
		text := Escape(src.label) + " | " + escapeLogText(string(line))
		out = append(out, monit.LogLine{Text: text, Err: src.stream == "err"})
	})
	return out[max(0, len(out)-n):], nil
}

func (s *monitSource) Act(ctx context.Context, action string, id int) error {
	return s.do(ctx, http.MethodPost, api.TargetPath(strconv.Itoa(id))+"/"+action, nil)
}
