package cli

import (
	"fmt"
	"path/filepath"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

func (a *App) logsCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "logs",
		Usage:     "print the last lines of apps' logs; --follow keeps printing new ones (not by default, unlike PM2)",
		ArgsUsage: "[<target>]",
		Description: `Prints the last lines of the out and err logs (stdout and stderr) of the
target's apps, of every app when no target is given. Each line starts with
its app's name and " | ", as in PM2; for an app of several instances, each
instance's own files with its name and instance id ("web:1 | "), files its
instances share (merge_logs) with the app's name. Out lines go to standard output, err
lines to standard error. Unprintable characters are escaped (tabs are
kept as they are). When a log holds fewer lines than asked, the rest come
from its newest rotated file, unless that one is compressed. Lines of
apps that log with timestamps come in time order; other logs come one
after the other. A log that goes to /dev/null has nothing to show.

Unlike 'pm2 logs', 'opm logs' does not follow unless asked: --follow (-f)
keeps printing lines as they are written, those of all the apps
interleaved as they come, across rotations and flushes, until Ctrl-C.

--raw prints lines exactly as stored, without the app's name. --json
prints one JSON object a line, all on standard output:
  {"app": "web", "stream": "out", "time": "2026-11-27T10:00:00.000+01:00", "message": "hello"}
with "instance": N after app for a line of one instance of several; time (RFC 3339) comes from the line's stored timestamp when the app
logs with timestamps, is when opm read it for a followed line without
one, and is left out when unknown; message is the line without its
stored timestamp. --timestamp starts each line with its time, found the
same way, in local time (2026-11-27T10:00:00); a line whose time is
unknown is printed without.`,
		Flags: []ucli.Flag{
			&ucli.IntFlag{Name: "lines", Aliases: []string{"n"}, Value: 15, Usage: "print the last `N` lines of each log"},
			&ucli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines until interrupted (off by default, unlike PM2)"},
			&ucli.BoolFlag{Name: "out", Usage: "only the out logs (stdout)"},
			&ucli.BoolFlag{Name: "err", Usage: "only the err logs (stderr)"},
			&ucli.BoolFlag{Name: "raw", Usage: "print lines exactly as stored, without the app's name"},
			&ucli.BoolFlag{Name: "json", Usage: "print one JSON object a line: app, stream, time, message"},
			&ucli.BoolFlag{Name: "timestamp", Usage: "start each line with its time"},
		},
		Action: a.logs,
	}
}

func (a *App) logs(c *ucli.Context) error {
	target := "all"
	if c.Args().Len() > 0 {
		t, err := targetArg(c)
		if err != nil {
			return err
		}
		target = t
	}
	n := c.Int("lines")
	if n < 0 {
		return usageErrorf("invalid --lines %d: use 0 or more", n)
	}
	opts := logOptions{raw: c.Bool("raw"), json: c.Bool("json"), timestamp: c.Bool("timestamp")}
	if err := checkLogFlags(c.Bool("out"), c.Bool("err"), opts); err != nil {
		return err
	}
	apps, err := a.apps(c.Context, target)
	if err != nil {
		return err
	}
	if len(apps) == 0 {
		return fmt.Errorf("no apps, so no logs (start one with 'opm start')")
	}
	srcs := logSources(apps, !c.Bool("err"), !c.Bool("out"))
	if len(srcs) == 0 {
		return failuref("nothing to show: the logs asked for go to /dev/null (see 'opm info <app>' for where an app's logs go)")
	}
	following := c.Bool("follow")
	p := newLogPrinter(opts, a.out(), a.errOut())
	tails := make([]tail, len(srcs))
	logs := make([]*followed, len(srcs))
	for i, src := range srcs {
		// The files rotated before the tail opens the log are the
		// tail's to show (or older than it asks for); any rotated
		// later, the follower reads.
		last := newestRotation(src.path)
		lines, fh, off, err := tailLog(src, n, following)
		if err != nil {
			for _, f := range logs[:i] {
				if f.fh != nil {
					f.fh.Close()
				}
			}
			return err
		}
		tails[i] = tail{src: src, lines: lines}
		logs[i] = &followed{src: src, fh: fh, off: off, lastRotated: last}
	}
	printTails(p, tails)
	if err := p.flush(); err != nil {
		return err
	}
	if !following {
		return nil
	}
	return follow(c.Context, p, logs)
}

// checkLogFlags refuses the flags of `opm logs` that contradict each
// other.
func checkLogFlags(out, err bool, opts logOptions) error {
	switch {
	case out && err:
		return usageErrorf("--out and --err together are every log: give one of them, or neither for both")
	case opts.json && opts.raw:
		return usageErrorf("--json and --raw do not go together: --json gives each line's message as stored; drop one of them")
	case opts.json && opts.timestamp:
		return usageErrorf("--json already gives each line's time: drop --timestamp")
	case opts.raw && opts.timestamp:
		return usageErrorf("--raw prints lines exactly as stored, without a time in front: drop --timestamp, or --raw to get it")
	}
	return nil
}

// logSources lists the logs of apps to print: the out log (withOut) and
// the err log (withErr) of each, in the apps' order; not the combined
// log, which holds the same lines. A log that goes to /dev/null has
// nothing to read, and a file two logs share is read once. Each instance
// of an app of several has its own files, its lines prefixed with its
// label ("web:1"); a file its instances share (merge_logs) is the app's,
// prefixed with its name.
func logSources(apps []api.App, withOut, withErr bool) []*logSource {
	type log struct {
		stream, path string
		want         bool
	}
	logsOf := func(app api.App) []log {
		var out []log
		for _, l := range []log{{"out", app.Spec.OutLog, withOut}, {"err", app.Spec.ErrLog, withErr}} {
			if l.want && l.path != "" && l.path != api.DevNull {
				// The daemon resolved the paths (logs.Own): absolute.
				l.path = filepath.Clean(l.path)
				out = append(out, l)
			}
		}
		return out
	}
	// The rows that write each file.
	writers := map[string]map[int]bool{}
	for _, app := range apps {
		for _, l := range logsOf(app) {
			if writers[l.path] == nil {
				writers[l.path] = map[int]bool{}
			}
			writers[l.path][app.ID] = true
		}
	}
	var srcs []*logSource
	seen := map[string]bool{}
	for _, app := range apps {
		layout := app.Spec.LogSettings.DateLayout()
		for _, l := range logsOf(app) {
			if seen[l.path] {
				continue
			}
			seen[l.path] = true
			src := newLogSource(app.Name, l.stream, l.path, layout)
			if app.Instances > 1 && !app.Spec.MergeLogs && len(writers[l.path]) == 1 {
				src.label = api.Label(app.Name, app.Instance, app.Instances)
				src.instance = &app.Instance
			}
			srcs = append(srcs, src)
		}
	}
	return srcs
}
