package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

// call sends one request to the daemon, starting the daemon when it is not
// running, and explains a failure in words the user can act on.
func (a *App) call(ctx context.Context, method, path string, body, out any) error {
	limit, err := requestTimeout()
	if err != nil {
		return err
	}
	do := func(cl *api.Client) error {
		rctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		return cl.Do(rctx, method, path, body, out)
	}
	if method != http.MethodGet {
		// A request that changes something goes to a daemon known to
		// answer, and is sent once.
		cl, err := a.conn.ensure(ctx)
		if err != nil {
			return err
		}
		return unanswered(do(cl), method, limit)
	}
	// A GET goes straight to the daemon: a running one answers in one
	// round trip, not two. When none answers — nothing listens, or the
	// connection broke before an answer (a daemon starting or dying) —
	// one is started or waited for, and the GET, which changes nothing,
	// sent again; its wait starts then.
	_, cl, err := a.conn.resolve()
	if err != nil {
		return err
	}
	err = do(cl)
	if errors.Is(err, api.ErrUnreachable) {
		if cl, err = a.conn.ensure(ctx); err != nil {
			return err
		}
		err = do(cl)
	}
	return unanswered(err, method, limit)
}

// TimeoutEnv names the variable that bounds how long a command waits for
// the daemon's answer to one request.
const TimeoutEnv = "OPM_TIMEOUT"

// requestTimeout is $OPM_TIMEOUT (a duration such as 30s, or milliseconds)
// or the default.
func requestTimeout() (time.Duration, error) {
	v := os.Getenv(TimeoutEnv)
	if v == "" {
		return defaultRequestTimeout, nil
	}
	d, err := parseMillis(v)
	if err != nil {
		return 0, usageErrorf("invalid %s=%q: %v (use e.g. 30s, 1500ms or 30000)", TimeoutEnv, v, err)
	}
	return d, nil
}

// unanswered explains a request the daemon did not answer before the
// command gave up (its deadline, or Ctrl-C). A request that changes
// something may still be carried out: the daemon got it and goes on.
func unanswered(err error, method string, limit time.Duration) error {
	return unansweredHint(err, method, limit, TimeoutEnv+" sets how long to wait")
}

// unansweredHint is unanswered with its own hint on how long to wait.
func unansweredHint(err error, method string, limit time.Duration, hint string) error {
	var why string
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		why = fmt.Sprintf("the opm daemon did not answer within %s", limit)
	case errors.Is(err, context.Canceled):
		why = "interrupted before the opm daemon answered"
	default:
		return explain(err)
	}
	if method == http.MethodGet {
		return fmt.Errorf("%s (check 'opm daemon status' and %s; %s)", why, api.DaemonLogName, hint)
	}
	return fmt.Errorf("%s: the outcome is unknown, the daemon may still carry it out; check with 'opm list' (%s)", why, hint)
}

// apps fetches the apps named by target ("all" for every app).
// In full: with their environments.
func (a *App) apps(ctx context.Context, target string) ([]api.App, error) {
	var apps []api.App
	err := a.call(ctx, "GET", api.TargetPath(target), nil, &apps)
	return apps, err
}

// targetApps fetches, in full, the apps named by the command's one
// <target> argument.
func (a *App) targetApps(c *ucli.Context) (string, []api.App, error) {
	target, err := targetArg(c)
	if err != nil {
		return "", nil, err
	}
	apps, err := a.apps(c.Context, target)
	return target, apps, err
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
	if _, err := api.ParseTarget(args[0]); err != nil {
		return "", usageErrorf("%s: %v (see 'opm list')", name, err)
	}
	return strings.TrimSpace(args[0]), nil
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
