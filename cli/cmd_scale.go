package cli

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

// scaleCommand sets how many instances of an app run (PM2's scale).
func (a *App) scaleCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "scale",
		Usage:     "run N instances of an app, or add (+N) or remove (-N) some: opm scale web 4",
		ArgsUsage: "<name> <N | +N | -N | max>",
		Description: `Sets how many processes (instances) of the app run, as 'pm2 scale' does:

   opm scale web 4      4 instances
   opm scale web +2     2 more than now
   opm scale web -1     1 fewer than now
   opm scale web max    one per CPU

Each instance is a row of its own in 'opm list', with its own id, pid and
restarts, and learns its instance id (0 to N-1) in NODE_APP_INSTANCE (or
the app's instance_var) and OPM_INSTANCE. The app's name targets all of
its instances, an id one of them. Instances are processes of their own
(PM2's fork mode): instances that listen on one port need SO_REUSEPORT,
or a port each (--increment-var PORT). The count is saved with the app:
'opm start web -i N' sets it too.`,
		Action: func(c *ucli.Context) error {
			args := positionals(c)
			if len(afterDashes(c)) > 0 {
				return usageErrorf("opm scale takes no arguments after '--' (e.g. opm scale web -1)")
			}
			switch len(args) {
			case 0:
				return usageErrorf("opm scale needs an app's name and a number of instances (e.g. opm scale web 4, opm scale web +2)")
			case 1:
				return usageErrorf("opm scale needs a number of instances after the app's name (e.g. opm scale %s 4, or +2, -1, max)", Escape(args[0]))
			case 2:
			default:
				return usageErrorf("opm scale takes an app's name and a number of instances, got %d arguments: %s (e.g. opm scale web 4)", len(args), strings.Join(escapeEach(args), " "))
			}
			name, count := strings.TrimSpace(args[0]), strings.TrimSpace(args[1])
			if err := scaleArgs(name, count); err != nil {
				return err
			}
			path := api.TargetPath(name) + "/scale?" + url.Values{api.ScaleParam: {count}}.Encode()
			var apps []api.App
			if err := a.call(c.Context, http.MethodPost, path, nil, &apps); err != nil {
				return err
			}
			renderApps(a.out(), apps)
			return nil
		},
	}
}

// scaleArgs refuses what opm scale cannot take: a target that is not one
// app's name, or a count that is no number of instances. The daemon
// reads the count against the app's current one.
func scaleArgs(name, count string) error {
	t, err := api.ParseTarget(name)
	switch {
	case err != nil:
		return usageErrorf("opm scale: %v (see 'opm list')", err)
	case len(t) > 1 || t.All():
		return usageErrorf("opm scale scales one app at a time: give its name, not %q", name)
	case api.IsID(name):
		return usageErrorf("opm scale takes an app's name, not an id: the count is the app's, for all its instances (see 'opm list')")
	}
	n, err := strconv.Atoi(count)
	switch {
	case count == "max":
	case err != nil:
		_, err := api.ParseInstances(count, 0) // says what a count is
		return usageErrorf("opm scale: %v", err)
	case strings.HasPrefix(count, "+") || strings.HasPrefix(count, "-"):
		if n > api.MaxInstances || n < -api.MaxInstances {
			return usageErrorf("opm scale: %v", api.CheckInstances(n))
		}
	default:
		if _, err := api.ParseInstances(count, 0); err != nil {
			return usageErrorf("opm scale: %v", err)
		}
	}
	return nil
}
