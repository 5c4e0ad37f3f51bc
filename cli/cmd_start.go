package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"opm/cli/ecosystem"
	"opm/daemon/api"
)

func (a *App) startCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "start",
		Usage:     "register and start an app, start existing ones, or every app of an ecosystem file",
		ArgsUsage: "<script-or-command | target | ecosystem file> [-- ARGS...]",
		Description: `Registers a new app and starts it. The app gets your environment plus
the --env overrides, and runs in your current directory unless --cwd is set.
A script runs with its interpreter (.js node, .py python3, .sh bash); a
quoted command line runs as typed: opm start "python3 -m http.server 8000" --name web

When the argument names apps opm already knows (an id, a name, a comma list
of them, or 'all'), those apps are started; with settings (--env, --cwd,
arguments after --, ...) they are changed and restarted with them, keeping
their saved environment unless --update-env gives them yours.

An ecosystem file (ecosystem.config.js, *.json, *.yaml, *.toml) starts
every app it defines, or those --only names; apps it defines that exist
already are changed to the file's definition. --env NAME applies the
file's env_NAME.`,
		Flags:  append(settingFlags(), onlyFlag),
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
	if fileArg(arg, false) {
		return a.startFile(c, arg, false)
	}
	if c.IsSet("only") {
		return usageErrorf("--only picks apps of an ecosystem file; %q is none (see 'opm start --help')", arg)
	}
	// An argument that names apps opm knows (and no file here) is a
	// target: those apps are started — or changed and restarted, with
	// new settings.
	if !isFile(arg) {
		apps, err := a.apps(c.Context, arg)
		switch {
		case err == nil && len(apps) > 0 && settingsGiven(c):
			return a.update(c, apps)
		case err == nil && len(apps) > 0:
			return a.act(c, "start", arg)
		case err != nil && api.CodeOf(err) != api.CodeNotFound:
			return err
		case onlyIDs(arg):
			return api.Errorf(api.CodeNotFound, "no app matches %q (see 'opm list')", arg)
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("find the current directory: %w (pass --cwd)", err)
	}
	req := api.StartRequest{Command: arg, Cwd: wd, Dir: wd, Env: os.Environ(), Restart: api.RestartAlways}
	if err := applySettings(c, &req, false); err != nil {
		return err
	}
	rows, err := a.startApp(c.Context, req)
	if err != nil {
		return err
	}
	renderApps(a.out(), rows)
	return nil
}

// startApp sends a start request and returns the app's rows as they are
// then: one per instance. The daemon answers with one of them; the
// others are fetched, for the user to see every process that runs.
func (a *App) startApp(ctx context.Context, req api.StartRequest) ([]api.App, error) {
	var raw json.RawMessage
	if err := a.call(ctx, http.MethodPost, api.PathApps, req, &raw); err != nil {
		return nil, err
	}
	rows, err := decodeApps(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read the opm daemon's answer: %w", err)
	case len(rows) == 0:
		return nil, errors.New("the opm daemon answered with no app")
	}
	if rows[0].Instances <= len(rows) {
		return rows, nil
	}
	var all []api.App
	path := api.TargetPath(rows[0].Name) + "?" + api.SummaryParam + "=1"
	if err := a.call(ctx, http.MethodGet, path, nil, &all); err != nil || len(all) == 0 {
		// Started: its other rows are for 'opm list' to show.
		return rows, nil
	}
	return all, nil
}

// decodeApps reads an answer of one app or a list of them.
func decodeApps(raw json.RawMessage) ([]api.App, error) {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		var apps []api.App
		err := json.Unmarshal(t, &apps)
		return apps, err
	}
	var app api.App
	if err := json.Unmarshal(raw, &app); err != nil {
		return nil, err
	}
	return []api.App{app}, nil
}

// update changes apps to the settings on the command line and restarts
// them: each from its own definition (api.Spec.Request), with the saved
// environment — or, with --update-env, the caller's — and the overrides.
func (a *App) update(c *ucli.Context, apps []api.App) error {
	var out []api.App
	var errs []error
	// An app of several instances is several rows, one definition.
	for _, app := range ecosystem.ByApp(apps) {
		req := app.Spec.Request()
		if c.Bool("update-env") {
			req.Env = os.Environ()
		}
		if err := applySettings(c, &req, true); err != nil {
			return err
		}
		req.Pending = ecosystem.CurrentPending(req.Pending)
		req.Update = true
		rows, err := a.startApp(c.Context, req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, rows...)
	}
	if len(out) > 0 || len(errs) == 0 {
		renderApps(a.out(), out)
	}
	return errors.Join(errs...)
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

// mergeEnv applies --env K=V overrides to env, refusing what is no
// variable.
func mergeEnv(env, overrides []string) ([]string, error) {
	for _, kv := range overrides {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n") {
			return nil, usageErrorf("invalid --env %q: use --env KEY=VALUE", kv)
		}
	}
	return ecosystem.MergeEnv(env, overrides), nil
}
