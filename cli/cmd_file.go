package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"opm/cli/ecosystem"
	"opm/daemon/api"
)

// onlyFlag picks apps of an ecosystem file.
var onlyFlag = &ucli.StringFlag{Name: "only", Usage: "with an ecosystem file: only these `APPS` (a,b)"}

// fileArg reports whether the argument of start, stop, restart, reload or
// remove is an ecosystem file: for start, any name of the kind (a config
// file is never run as an app); for the others, such a file that exists
// (an app may be named "api.json").
func fileArg(arg string, mustExist bool) bool {
	return ecosystem.IsFile(arg) && (!mustExist || isFile(arg))
}

// loadFile reads the ecosystem file at path as the command line asks:
// --only some apps, --env NAME applying each app's env_NAME, and --env
// K=V over every app's environment. The file's warnings go to standard
// error when warn is set (start and restart: not stop and remove). A file
// that cannot be used is a usage error: nothing starts.
func (a *App) loadFile(c *ucli.Context, path string, warn bool) (*ecosystem.File, error) {
	if err := fileSettingsOnly(c); err != nil {
		return nil, err
	}
	vars, names, err := splitEnvFlags(envFlagValues(c, "env"))
	if err != nil {
		return nil, err
	}
	if _, err := mergeEnv(nil, vars); err != nil {
		return nil, err
	}
	var o ecosystem.Options
	switch len(names) {
	case 0:
	case 1:
		o.Env = names[0]
	default:
		return nil, usageErrorf("--env NAME picks one environment of the file, got %s", strings.Join(names, ", "))
	}
	if c.IsSet("only") {
		for _, n := range strings.Split(c.String("only"), ",") {
			if n = strings.TrimSpace(n); n == "" {
				return nil, usageErrorf("invalid --only %q: name apps of the file, separated by commas (--only web,worker)", c.String("only"))
			}
			o.Only = append(o.Only, n)
		}
	}
	f, err := ecosystem.Load(path, o)
	if err != nil {
		return nil, &exitError{code: ExitUsage, err: err}
	}
	for _, w := range f.Warnings {
		if warn {
			fmt.Fprintf(a.errOut(), "opm: warning: %s\n", Escape(w))
		}
	}
	for i := range f.Apps {
		app := &f.Apps[i]
		app.Env = ecosystem.MergeEnv(app.Env, vars)
		app.Request.Env = ecosystem.MergeEnv(app.Request.Env, vars)
	}
	return f, nil
}

// fileSettingsOnly refuses the setting flags that an ecosystem file
// replaces: its apps' settings are the file's.
func fileSettingsOnly(c *ucli.Context) error {
	for _, name := range c.FlagNames() {
		switch name {
		case "env", "only", "update-env":
		default:
			if isSettingFlag(name) && c.IsSet(name) {
				return usageErrorf("--%s does not apply to an ecosystem file: set it in the file (only --only, --env and --update-env go with a file)", name)
			}
		}
	}
	if len(afterDashes(c)) > 0 {
		return usageErrorf("arguments after '--' do not apply to an ecosystem file: set each app's args in the file")
	}
	return nil
}

// isSettingFlag reports whether name is one of settingFlags.
func isSettingFlag(name string) bool {
	for _, f := range settingFlags() {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// startFile starts the apps of an ecosystem file. An app opm does not
// know is registered and started. One it knows takes the file's
// definition: with its saved environment under the file's variables (or,
// with --update-env, the caller's), and restarted when restart is set
// or when the definition changed or the app is not running; a running
// app whose definition is the same is left alone by `opm start`.
func (a *App) startFile(c *ucli.Context, path string, restart bool) error {
	f, err := a.loadFile(c, path, true)
	if err != nil {
		return err
	}
	return a.startLoaded(c, f, restart)
}

// startLoaded is startFile with the file loaded (loadFile).
func (a *App) startLoaded(c *ucli.Context, f *ecosystem.File, restart bool) error {
	known, err := a.appsByName(c.Context, api.TargetPath(api.TargetAll))
	if err != nil {
		return err
	}
	var out []api.App
	var errs []error
	for _, fa := range f.Apps {
		req := fa.Request
		if old, ok := known[fa.Name]; ok {
			base := old.Spec.Env
			if c.Bool("update-env") {
				base = os.Environ()
			}
			req.Env = ecosystem.MergeEnv(base, fa.Env)
			req.Update, req.KeepIfSame = true, !restart
		}
		rows, err := a.startApp(c.Context, req)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", Escape(fa.Name), err))
			continue
		}
		out = append(out, rows...)
	}
	renderApps(a.out(), out)
	if len(errs) > 0 && len(out) > 0 {
		// Some apps are up: a failure, not a usage error.
		return &exitError{code: ExitFailure, err: errors.Join(errs...)}
	}
	return errors.Join(errs...)
}

// fileTarget is the target of the apps of an ecosystem file that opm
// knows, for stop and remove. Those it does not know are said on
// standard error; none known is an error.
func (a *App) fileTarget(c *ucli.Context, path string) (string, error) {
	f, err := a.loadFile(c, path, false)
	if err != nil {
		return "", err
	}
	known, err := a.appsByName(c.Context, api.SummaryPath)
	if err != nil {
		return "", err
	}
	var names []string
	for _, fa := range f.Apps {
		if _, ok := known[fa.Name]; ok {
			names = append(names, fa.Name)
		} else {
			fmt.Fprintf(a.errOut(), "opm: %s is not in opm (see 'opm list')\n", Escape(fa.Name))
		}
	}
	if len(names) == 0 {
		return "", api.Errorf(api.CodeNotFound, "no app of %s is in opm (start them with 'opm start %s')", Escape(path), Escape(path))
	}
	return strings.Join(names, ","), nil
}

// appsByName are the apps opm knows, by name, as the listing at path
// gives them: in full (their saved environment, for start) or in summary
// (for stop and remove, which need only their names). An app of several
// instances is the row of its lowest.
func (a *App) appsByName(ctx context.Context, path string) (map[string]api.App, error) {
	var apps []api.App
	if err := a.call(ctx, http.MethodGet, path, nil, &apps); err != nil {
		return nil, err
	}
	apps = ecosystem.ByApp(apps)
	m := make(map[string]api.App, len(apps))
	for _, app := range apps {
		m[app.Name] = app
	}
	return m, nil
}
