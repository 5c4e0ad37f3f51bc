package cli

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

func (a *App) eventsCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "events",
		Usage:     "follow what happens to apps: starts, exits, restarts, stops, errors (one line per event)",
		ArgsUsage: "[<app>...]",
		Description: `Prints one line per event as the daemon publishes it (GET /v1/events):
time, app, event, then pid, exit code or signal, reason. --json prints
each event's JSON on a line of its own instead. With app names (or
name:instance labels, or ids), only their events and the daemon's own
(restore-begin, restore-end) are printed.

Events: start, exit, restart (reason crash, cron, watch, memory, reload,
user), errored, stop, restore-begin, restore-end, memory-limit,
watch-restart; "lost" says a reader fell so far behind that events were
dropped for it. --since N replays first the events after id N that the
daemon still holds in memory (0: all of them; the ids are in --json).

Ends with status 0 on Ctrl-C or SIGTERM. When the daemon goes away
(stopped, restarted), it says so and ends with status 1: run it again
with --since to go on where it stopped.`,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "json", Usage: "print each event as JSON, one per line"},
			&ucli.StringFlag{Name: "since", Usage: "replay the events after event `ID` the daemon still holds (0: all)"},
		},
		Action: func(c *ucli.Context) error {
			header := http.Header{}
			if c.IsSet("since") {
				if _, err := strconv.ParseUint(c.String("since"), 10, 64); err != nil {
					return usageErrorf("invalid --since %q: give an event id (a whole number ≥ 0; 0 replays all the daemon holds)", c.String("since"))
				}
				header.Set(api.LastEventIDHeader, c.String("since"))
			}
			cl, err := a.conn.ensure(c.Context)
			if err != nil {
				return err
			}
			body, err := cl.Stream(c.Context, api.PathEvents, header)
			if err != nil {
				if c.Context.Err() != nil {
					return nil
				}
				return explain(err)
			}
			defer body.Close()
			filter := c.Args().Slice()
			last, err := api.ReadEvents(body, func(ev api.Event, data []byte) {
				if !eventWanted(ev, filter) {
					return
				}
				if c.Bool("json") {
					a.printf("%s\n", data)
					return
				}
				a.printf("%s\n", eventLine(ev))
			})
			if c.Context.Err() != nil {
				return nil // SIGINT, SIGTERM
			}
			why := "the stream ended"
			if err != nil {
				why = err.Error()
			}
			return failuref("the opm daemon went away (%s); no more events (run 'opm events --since %d' to go on once it runs again)", why, last)
		},
	}
}

// eventWanted reports whether ev concerns one of the apps named (all
// when none); the daemon's own events always are.
func eventWanted(ev api.Event, names []string) bool {
	if len(names) == 0 || ev.Name == "" {
		return true
	}
	return slices.ContainsFunc(names, func(n string) bool {
		return n == ev.Name || n == ev.App || n == strconv.Itoa(ev.ID)
	})
}

// eventLine is ev for people:
// "2025-01-02 15:04:05.000  web:1  exit  pid 42  code 1".
func eventLine(ev api.Event) string {
	app := ev.App
	if app == "" {
		app = "-"
	}
	f := []string{ev.Time.Local().Format("2006-01-02 15:04:05.000"), app, ev.Type}
	if ev.PID != 0 {
		f = append(f, "pid "+strconv.Itoa(ev.PID))
	}
	if ev.Code != nil {
		f = append(f, "code "+strconv.Itoa(*ev.Code))
	}
	if ev.Signal != "" {
		f = append(f, "signal "+ev.Signal)
	}
	if ev.Reason != "" {
		f = append(f, "reason "+ev.Reason)
	}
	if ev.Detail != "" {
		f = append(f, ev.Detail)
	}
	return strings.Join(f, "  ")
}
