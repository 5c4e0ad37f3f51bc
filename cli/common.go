package cli

import (
	"context"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

// call sends one request to the daemon, starting the daemon when it is not
// running, and explains a failure in words the user can act on.
func (a *App) call(ctx context.Context, method, path string, body, out any) error {
	cl, err := a.conn.ensure(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return explain(cl.Do(ctx, method, path, body, out))
}

// apps fetches the apps named by target ("all" for every app).
func (a *App) apps(ctx context.Context, target string) ([]api.App, error) {
	var apps []api.App
	path := api.PathApps
	if target != "all" {
		path = api.TargetPath(target)
	}
	err := a.call(ctx, "GET", path, nil, &apps)
	return apps, err
}

// positionals returns the command's positional arguments, without the
// user's "--" and what follows it.
func positionals(c *ucli.Context) []string {
	args := c.Args().Slice()
	for i, s := range args {
		if s == "--" {
			return args[:i]
		}
	}
	return args
}

// afterDashes returns the arguments after the user's "--".
func afterDashes(c *ucli.Context) []string {
	args := c.Args().Slice()
	for i, s := range args {
		if s == "--" {
			return args[i+1:]
		}
	}
	return nil
}

// targetArg returns the one <target> argument of a command.
func targetArg(c *ucli.Context) (string, error) {
	args := positionals(c)
	name := "opm " + c.Command.FullName()
	switch {
	case len(args) == 0:
		return "", usageErrorf("%s needs a target: an app name, an id, a comma list of them, or 'all' (see 'opm list')", name)
	case len(args) > 1:
		return "", usageErrorf("%s takes one target, got %d: %s (join several with commas: web,3)", name, len(args), strings.Join(args, " "))
	case len(afterDashes(c)) > 0:
		return "", usageErrorf("%s takes no arguments after '--'", name)
	}
	t := strings.TrimSpace(args[0])
	if t == "" {
		return "", usageErrorf("%s needs a non-empty target (see 'opm list')", name)
	}
	return t, nil
}

// noArgs refuses positional arguments on commands that take none.
func noArgs(c *ucli.Context) error {
	if c.Args().Len() > 0 {
		return usageErrorf("opm %s takes no arguments, got %q (see 'opm %s --help')", c.Command.FullName(), c.Args().Slice(), c.Command.FullName())
	}
	return nil
}

// jsonFlag is the --json flag of commands that can print JSON.
func jsonFlag() ucli.Flag {
	return &ucli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"}
}
