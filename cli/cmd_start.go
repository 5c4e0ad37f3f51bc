package cli

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

func (a *App) startCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "start",
		Usage:     "register and start an app, or start an existing stopped one",
		ArgsUsage: "<script-or-command | target> [-- ARGS...]",
		Description: `Registers a new app and starts it. The app gets your environment plus
the --env overrides, and runs in your current directory unless --cwd is set.
A script runs with its interpreter (.js node, .py python3, .sh bash); a
quoted command line runs as typed: opm start "python3 -m http.server 8000" --name web

When the argument names an app opm already knows (an id, a name, a comma
list of them, or 'all'), that app is started instead.`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "the app's `NAME` (default: derived from the script)"},
			&ucli.StringFlag{Name: "cwd", Usage: "working `DIR` (default: the current directory)"},
			&ucli.GenericFlag{Name: "env", Aliases: []string{"e"}, Value: &envFlag{}, Usage: "set `K=V` in the app's environment (repeatable)"},
			&ucli.StringFlag{Name: "restart", Usage: "restart `POLICY`: always, on-failure or never", Value: api.RestartAlways},
			&ucli.IntFlag{Name: "max-restarts", Usage: "errored after `N` restarts in the window", DefaultText: "15"},
			&ucli.StringFlag{Name: "kill-timeout", Usage: "wait `TIME` after SIGTERM before SIGKILL, e.g. 5s or 5000 (ms)"},
		},
		Action: a.start,
	}
}

func (a *App) start(c *ucli.Context) error {
	args := positionals(c)
	switch {
	case len(args) == 0:
		return usageErrorf("opm start needs a script or command to run, or an app to start (e.g. opm start app.js --name web)")
	case len(args) > 1:
		return usageErrorf("opm start takes one script or command, got %d: %q (quote a command line, or pass arguments after '--')", len(args), args)
	}
	arg := args[0]
	if strings.TrimSpace(arg) == "" {
		return usageErrorf("opm start needs a non-empty script or command")
	}
	// An argument that names apps opm knows (and no file here) is a
	// target: those apps are started as they are. With settings to
	// change, it is refused rather than read as a new command.
	settings := c.IsSet("name") || c.IsSet("cwd") || c.IsSet("env") || c.IsSet("restart") ||
		c.IsSet("max-restarts") || c.IsSet("kill-timeout") || len(afterDashes(c)) > 0
	if !isFile(arg) {
		apps, err := a.apps(c.Context, arg)
		switch {
		case err == nil && len(apps) > 0 && settings:
			return usageErrorf("%q is an app opm knows (id %d): 'opm start %s' starts it as it is, and does not take new settings (--name, --cwd, --env, --restart, --max-restarts, --kill-timeout, arguments); to run it with other settings, remove it ('opm remove %s') and start it again with them", arg, apps[0].ID, arg, arg)
		case err == nil && len(apps) > 0:
			return a.act(c, "start", arg)
		case err != nil && api.CodeOf(err) != api.CodeNotFound:
			return err
		case onlyIDs(arg):
			return api.Errorf(api.CodeNotFound, "no app matches %q (see 'opm list')", arg)
		}
	}
	req, err := startRequest(c, arg)
	if err != nil {
		return err
	}
	var app api.App
	if err := a.call(c.Context, http.MethodPost, api.PathApps, req, &app); err != nil {
		return err
	}
	renderApps(a.out(), []api.App{app})
	return nil
}

// onlyIDs reports whether arg can only be a target, never a command: all,
// an id, or a comma list of ids.
func onlyIDs(arg string) bool {
	t, err := api.ParseTarget(arg)
	return err == nil && t.OnlyIDs()
}

// isFile reports whether arg is a path to an existing file, from the
// current directory: then it is a script to start, never an app's name.
func isFile(arg string) bool {
	fi, err := os.Stat(arg)
	return err == nil && !fi.IsDir()
}

// startRequest builds the request that registers a new app: what the user
// typed, plus the caller's directory and environment.
func startRequest(c *ucli.Context, command string) (api.StartRequest, error) {
	req := api.StartRequest{
		Command: command,
		Args:    afterDashes(c),
		Name:    c.String("name"),
		Restart: c.String("restart"),
	}
	if c.IsSet("name") {
		// The daemon's rule, checked before the environment is sent.
		if err := api.CheckName(req.Name); err != nil {
			return req, usageErrorf("invalid --name: %w", err)
		}
	}
	if err := api.CheckRestartPolicy(req.Restart); err != nil {
		return req, usageErrorf("invalid --restart: %v", err)
	}
	if c.IsSet("max-restarts") {
		n := c.Int("max-restarts")
		if err := api.CheckMaxRestarts(n); err != nil {
			return req, usageErrorf("invalid --max-restarts: %v", err)
		}
		req.MaxRestarts = &n
	}
	if c.IsSet("kill-timeout") {
		ms, err := parseKillTimeout(c.String("kill-timeout"))
		if err != nil {
			return req, usageErrorf("invalid --kill-timeout %q: %v (use e.g. 5s, 1500ms or 5000)", c.String("kill-timeout"), err)
		}
		req.KillTimeoutMs = ms
	}
	wd, err := os.Getwd()
	if err != nil {
		return req, fmt.Errorf("find the current directory: %w (pass --cwd)", err)
	}
	req.Cwd, req.Dir = wd, wd
	if dir := c.String("cwd"); dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(wd, dir)
		}
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			return req, usageErrorf("--cwd %s is not a directory", dir)
		}
		req.Cwd = dir
	}
	req.Env, err = mergeEnv(os.Environ(), envFlagValues(c, "env"))
	return req, err
}

// parseKillTimeout reads --kill-timeout as Go syntax ("5s") or bare
// milliseconds, in the range the daemon accepts.
func parseKillTimeout(s string) (ms int64, err error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		// Checked as milliseconds: 2^63-1 of them is no duration.
		return n, api.CheckKillTimeoutMs(n)
	}
	d, err := parseMillis(s)
	if err != nil {
		return 0, err
	}
	return d.Milliseconds(), api.CheckKillTimeout(d)
}

// parseMillis reads a duration as Go syntax ("5s") or bare milliseconds.
func parseMillis(s string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Millisecond) {
			return 0, errors.New("too long")
		}
		d = time.Duration(n) * time.Millisecond
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, errors.New("not a duration")
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}

// mergeEnv applies K=V overrides to env, replacing earlier values of K.
func mergeEnv(env, overrides []string) ([]string, error) {
	out := append([]string(nil), env...)
	for _, kv := range overrides {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n") {
			return nil, usageErrorf("invalid --env %q: use --env KEY=VALUE", kv)
		}
		out = withoutEnv(out, k)
		out = append(out, kv)
	}
	return out, nil
}
