package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/mattn/go-shellwords"
	ucli "github.com/urfave/cli/v2"

	"opm/daemon/api"
)

// settingFlags are the flags that set an app's definition, on `opm start`
// (a new app, or a change of existing ones) and `opm restart`. PM2's
// names where PM2 has one.
func settingFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "the app's `NAME` (default: derived from the script)"},
		&ucli.StringFlag{Name: "cwd", Usage: "working `DIR` (default: the current directory)"},
		&ucli.GenericFlag{Name: "env", Value: &envFlag{}, Usage: "set `K=V` in the app's environment (repeatable); with an ecosystem file, --env NAME applies its env_NAME"},
		&ucli.BoolFlag{Name: "update-env", Usage: "changing apps: give them your environment instead of their saved one"},
		&ucli.StringFlag{Name: "restart", Usage: "restart `POLICY`: always, on-failure or never"},
		&ucli.BoolFlag{Name: "no-autorestart", Usage: "never restart the app (--restart never)"},
		&ucli.IntFlag{Name: "max-restarts", Usage: "errored after `N` restarts in a row (default 15)"},
		&ucli.StringFlag{Name: "min-uptime", Usage: "an exit after running `TIME` (e.g. 10s) does not count towards --max-restarts"},
		&ucli.StringFlag{Name: "restart-delay", Usage: "wait `TIME` before every restart, e.g. 3s or 3000 (ms)"},
		&ucli.StringFlag{Name: "exp-backoff-restart-delay", Usage: "restart after `TIME`, doubling on every restart in a row"},
		&ucli.StringFlag{Name: "kill-timeout", Usage: "wait `TIME` after the kill signal before SIGKILL, e.g. 5s or 5000 (ms)"},
		&ucli.StringFlag{Name: "kill-signal", Usage: "stop the app with `SIGNAL` (default SIGTERM; PM2's apps expect SIGINT)"},
		&ucli.StringFlag{Name: "stop-exit-codes", Usage: "exit `CODES` (e.g. 0,3) after which the app is not restarted"},
		&ucli.StringFlag{Name: "interpreter", Usage: "run the script with `PROGRAM` (\"none\": run it directly)"},
		&ucli.StringFlag{Name: "interpreter-args", Aliases: []string{"node-args"}, Usage: "`ARGS` for the interpreter, before the script"},
		&ucli.BoolFlag{Name: "watch", Usage: "restart the app when a file under its cwd (or --watch-path) changes; --watch=PATH,... watches those"},
		&ucli.StringSliceFlag{Name: "watch-path", Usage: "watch `PATH` (repeatable; relative to the app's cwd); implies --watch"},
		&ucli.StringFlag{Name: "ignore-watch", Usage: "do not watch files matching `GLOBS` (space or comma separated; node_modules, .git and the app's logs never are)"},
		&ucli.StringFlag{Name: "watch-delay", Usage: "restart `TIME` after the last change of a burst (default 1s)"},
		&ucli.BoolFlag{Name: "wait-ready", Usage: "the app is launching until it sends READY=1 to $NOTIFY_SOCKET (sd_notify), or --listen-timeout passes"},
		&ucli.StringFlag{Name: "listen-timeout", Usage: "with --wait-ready: wait at most `TIME` for READY=1 (default 3s)"},
		&ucli.StringFlag{Name: "max-memory-restart", Usage: "restart the app when its memory stays over `SIZE` (e.g. 200M, 1G)"},
		&ucli.StringFlag{Name: "instances", Aliases: []string{"i"}, Usage: "run `N` processes (instances) of the app, each a row of its own in 'opm list'; max or 0: one per CPU, -1: one less (see also 'opm scale')"},
		&ucli.StringFlag{Name: "increment-var", Usage: "give each instance environment variable `NAME` (e.g. PORT) plus its instance id; \"\" for none"},
		&ucli.StringFlag{Name: "cron-restart", Aliases: []string{"c", "cron"}, Usage: "restart the app at the times of cron `EXPR` (\"0 3 * * *\"; 6 fields with seconds); with --no-autorestart, start it then"},
		&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write stdout to `FILE` (/dev/null discards; default OPM_HOME/logs/NAME-out.log)"},
		&ucli.StringFlag{Name: "error", Aliases: []string{"e"}, Usage: "write stderr to `FILE` (/dev/null discards; default OPM_HOME/logs/NAME-err.log)"},
		&ucli.StringFlag{Name: "log", Aliases: []string{"l"}, Usage: "also write stdout and stderr together to `FILE`"},
		&ucli.BoolFlag{Name: "time", Usage: "start each log line with the time it was logged"},
		&ucli.StringFlag{Name: "log-date-format", Usage: "timestamps in `FORMAT`, PM2's tokens (default YYYY-MM-DDTHH:mm:ss); implies --time"},
		&ucli.BoolFlag{Name: "merge-logs", Usage: "all instances of the app share its log files"},
		&ucli.StringFlag{Name: "log-max-size", Usage: "rotate a log file at `SIZE` (e.g. 500K, 10M; default config's log_max_size)"},
		&ucli.IntFlag{Name: "log-max-files", Usage: "keep `N` rotated files of each log (default config's log_max_files)"},
		&ucli.BoolFlag{Name: "log-compress", Usage: "gzip rotated log files (--log-compress=false: do not)"},
		&ucli.StringFlag{Name: "on-start", Usage: "hook run when a process of the app starts: a `COMMAND` (/bin/sh -c, the event in $OPM_EVENT, $OPM_APP...) or an http:// URL the event JSON is POSTed to; \"\" for none"},
		&ucli.StringFlag{Name: "on-exit", Usage: "hook run when a process of the app ends: a `COMMAND` or an http:// URL"},
		&ucli.StringFlag{Name: "on-restart", Usage: "hook run when the app is restarted: a `COMMAND` or an http:// URL"},
		&ucli.StringFlag{Name: "on-errored", Usage: "hook run when the app is errored (restart limit, failed exit): a `COMMAND` or an http:// URL"},
		&ucli.StringFlag{Name: "on-stop", Usage: "hook run when the app is stopped: a `COMMAND` or an http:// URL"},
		&ucli.StringFlag{Name: "on-memory-limit", Usage: "hook run when the app goes over --max-memory-restart: a `COMMAND` or an http:// URL"},
		&ucli.StringFlag{Name: "webhook-format", Usage: "body of the app's URL hooks: `FORMAT` json (the event), slack ({\"text\"}) or discord ({\"content\"})"},
	}
}

// applyHookFlags applies the hook flags of c to h.
func applyHookFlags(c *ucli.Context, h *api.Hooks) error {
	for _, k := range api.HookKeys {
		flag := strings.ReplaceAll(k.Key, "_", "-")
		if !c.IsSet(flag) {
			continue
		}
		v := c.String(flag)
		if v != "" {
			if err := api.CheckHook(v); err != nil {
				return usageErrorf("invalid --%s: %v", flag, err)
			}
		}
		*h.Field(k.Key) = v
	}
	if c.IsSet("webhook-format") {
		h.WebhookFormat = c.String("webhook-format")
		if err := api.CheckWebhookFormat(h.WebhookFormat); err != nil {
			return usageErrorf("invalid --webhook-format: %v", err)
		}
	}
	return nil
}

// envName is what a variable's name looks like: -e NAME=VALUE is a
// variable meant for --env, not an error log path.
var envName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// settingsGiven reports whether the command line changes an app's
// definition: a setting flag, or arguments after "--".
func settingsGiven(c *ucli.Context) bool {
	for _, f := range settingFlags() {
		if c.IsSet(f.Names()[0]) {
			return true
		}
	}
	return len(afterDashes(c)) > 0
}

// applySettings applies the setting flags of c to req: a new app's (its
// command, directory and the caller's environment already in req), or an
// existing one's definition being changed (forUpdate). Every rule is
// daemon/api's; the daemon checks them again.
func applySettings(c *ucli.Context, req *api.StartRequest, forUpdate bool) error {
	if c.IsSet("name") {
		if forUpdate {
			return usageErrorf("--name cannot rename an app; remove it ('opm remove %s') and start it again under the new name", req.Name)
		}
		req.Name = c.String("name")
		if err := api.CheckName(req.Name); err != nil {
			return usageErrorf("invalid --name: %w", err)
		}
	}
	if args := afterDashes(c); len(args) > 0 {
		req.Args = args
	}
	if dir := c.String("cwd"); dir != "" {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("find the current directory: %w", err)
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(wd, dir)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return usageErrorf("--cwd %s is not a directory", dir)
		}
		req.Cwd = dir
	}
	env, names, err := splitEnvFlags(envFlagValues(c, "env"))
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return usageErrorf("invalid --env %s: to set a variable use --env KEY=VALUE (--env NAME picks env_NAME of an ecosystem file)", names[0])
	}
	if req.Env, err = mergeEnv(req.Env, env); err != nil {
		return err
	}
	if c.IsSet("restart") {
		req.Restart = c.String("restart")
	}
	if c.Bool("no-autorestart") {
		req.Restart = api.RestartNever
	}
	if err := api.CheckRestartPolicy(req.Restart); err != nil {
		return usageErrorf("invalid --restart: %v", err)
	}
	if c.IsSet("max-restarts") {
		n := c.Int("max-restarts")
		if err := api.CheckMaxRestarts(n); err != nil {
			return usageErrorf("invalid --max-restarts: %v", err)
		}
		req.MaxRestarts = &n
	}
	if c.IsSet("kill-timeout") {
		ms, err := parseKillTimeout(c.String("kill-timeout"))
		if err != nil {
			return usageErrorf("invalid --kill-timeout %q: %v (use e.g. 5s, 1500ms or 5000)", c.String("kill-timeout"), err)
		}
		req.KillTimeoutMs = ms
	}
	for _, d := range []struct {
		flag string
		ms   *int64
	}{
		{"min-uptime", &req.MinUptimeMs},
		{"restart-delay", &req.RestartDelayMs},
		{"exp-backoff-restart-delay", &req.ExpBackoffRestartDelayMs},
	} {
		if c.IsSet(d.flag) {
			v, err := parseMillis(c.String(d.flag))
			if err != nil {
				return usageErrorf("invalid --%s %q: %v (use e.g. 3s, 1500ms or 3000)", d.flag, c.String(d.flag), err)
			}
			*d.ms = v.Milliseconds()
		}
	}
	if c.IsSet("kill-signal") {
		req.KillSignal = c.String("kill-signal")
	}
	if c.IsSet("stop-exit-codes") {
		req.StopExitCodes = nil
		for _, f := range strings.Split(c.String("stop-exit-codes"), ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return usageErrorf("invalid --stop-exit-codes %q: use whole numbers, e.g. 0,3", c.String("stop-exit-codes"))
			}
			req.StopExitCodes = append(req.StopExitCodes, n)
		}
	}
	if err := applyWatchFlags(c, &req.Settings); err != nil {
		return err
	}
	if c.IsSet("wait-ready") {
		req.WaitReady = c.Bool("wait-ready")
	}
	if c.IsSet("listen-timeout") {
		v, err := parseMillis(c.String("listen-timeout"))
		if err != nil {
			return usageErrorf("invalid --listen-timeout %q: %v (use e.g. 3s, 500ms or 3000)", c.String("listen-timeout"), err)
		}
		req.ListenTimeoutMs = v.Milliseconds()
	}
	if c.IsSet("max-memory-restart") {
		n, err := api.ParseMemory(c.String("max-memory-restart"))
		if err != nil {
			return usageErrorf("invalid --max-memory-restart: %v", err)
		}
		req.MaxMemoryRestart = n
	}
	if c.IsSet("cron-restart") {
		cron, err := api.CronSetting(c.String("cron-restart"))
		if err != nil {
			return usageErrorf("invalid --cron-restart: %v", err)
		}
		req.CronRestart = cron
	}
	if err := applyInstanceFlags(c, &req.Settings); err != nil {
		return err
	}
	if err := applyLogFlags(c, &req.LogSettings); err != nil {
		return err
	}
	if err := applyHookFlags(c, &req.Hooks); err != nil {
		return err
	}
	if err := api.CheckSettings(req.Settings); err != nil {
		return usageErrorf("invalid setting: %v", err)
	}
	if c.IsSet("interpreter") {
		req.Interpreter = c.String("interpreter")
	}
	if c.IsSet("interpreter-args") {
		args, err := shellwords.Parse(c.String("interpreter-args"))
		if err != nil {
			return usageErrorf("invalid --interpreter-args %q: %v", c.String("interpreter-args"), err)
		}
		req.InterpreterArgs = args
	}
	return nil
}

// applyInstanceFlags applies --instances and --increment-var to s.
func applyInstanceFlags(c *ucli.Context, s *api.Settings) error {
	if c.IsSet("instances") {
		text := strings.TrimSpace(c.String("instances"))
		if strings.HasPrefix(text, "+") {
			return usageErrorf("invalid --instances %q: give a number of processes or max; to add or remove processes of an app, use opm scale NAME %s", text, text)
		}
		if _, err := strconv.Atoi(text); err != nil && text != "max" {
			return usageErrorf("invalid --instances %q: give a number of processes, or max for one per CPU (e.g. -i 4, -i max)", text)
		}
		n, err := api.ParseInstances(text, 0)
		if err != nil {
			return usageErrorf("invalid --instances: %v", err)
		}
		s.Instances = n
	}
	if c.IsSet("increment-var") {
		v := c.String("increment-var")
		if v != "" {
			if err := api.CheckEnvName("--increment-var", v); err != nil {
				return usageErrorf("invalid %v (e.g. --increment-var PORT)", err)
			}
		}
		s.IncrementVar = v
	}
	return nil
}

// applyWatchFlags applies the watch flags of c to s.
func applyWatchFlags(c *ucli.Context, s *api.Settings) error {
	if c.IsSet("watch") {
		s.Watch = c.Bool("watch")
		if !s.Watch {
			s.WatchPaths = nil
		}
	}
	if c.IsSet("watch-path") {
		s.WatchPaths = nil
		for _, p := range c.StringSlice("watch-path") {
			if p = strings.TrimSpace(p); p != "" {
				s.WatchPaths = append(s.WatchPaths, p)
			}
		}
		s.Watch = len(s.WatchPaths) > 0 || s.Watch
	}
	if c.IsSet("ignore-watch") {
		s.IgnoreWatch = strings.FieldsFunc(c.String("ignore-watch"), func(r rune) bool { return r == ' ' || r == ',' })
	}
	if c.IsSet("watch-delay") {
		v, err := parseMillis(c.String("watch-delay"))
		if err != nil {
			return usageErrorf("invalid --watch-delay %q: %v (use e.g. 1s, 500ms or 1000)", c.String("watch-delay"), err)
		}
		s.WatchDelayMs = v.Milliseconds()
	}
	return nil
}

// applyLogFlags applies the log flags of c to l. A relative log path is
// from the current directory, as the shell would take it.
func applyLogFlags(c *ucli.Context, l *api.LogSettings) error {
	for _, p := range []struct {
		flag string
		path *string
	}{{"output", &l.OutFile}, {"error", &l.ErrorFile}, {"log", &l.LogFile}} {
		if !c.IsSet(p.flag) {
			continue
		}
		text := c.String(p.flag)
		if k, _, ok := strings.Cut(text, "="); ok && p.flag == "error" && envName().MatchString(k) {
			return usageErrorf("-e is PM2's --error (the error log file), not a variable: to set one use --env KEY=VALUE (--env %s)", text)
		}
		if text == "" {
			return usageErrorf("--%s needs a file (/dev/null to discard)", p.flag)
		}
		if !filepath.IsAbs(text) {
			wd, err := os.Getwd()
			if err != nil {
				return fmt.Errorf("find the current directory: %w", err)
			}
			text = filepath.Join(wd, text)
		}
		*p.path = text
	}
	if c.IsSet("time") {
		l.Time = c.Bool("time")
	}
	if c.IsSet("log-date-format") {
		l.LogDateFormat = c.String("log-date-format")
		if _, err := api.DateLayout(l.LogDateFormat); err != nil {
			return usageErrorf("invalid --log-date-format: %v", err)
		}
	}
	if c.IsSet("merge-logs") {
		l.MergeLogs = c.Bool("merge-logs")
	}
	if c.IsSet("log-max-size") {
		n, err := api.ParseSize(c.String("log-max-size"))
		if err == nil {
			err = api.CheckLogSize(n)
		}
		if err != nil {
			return usageErrorf("invalid --log-max-size: %v", err)
		}
		l.LogMaxSize = n
	}
	if c.IsSet("log-max-files") {
		n := c.Int("log-max-files")
		if err := api.CheckLogFiles(n); err != nil {
			return usageErrorf("invalid --log-max-files: %v", err)
		}
		l.LogMaxFiles = n
	}
	if c.IsSet("log-compress") {
		v := c.Bool("log-compress")
		l.LogCompress = &v
	}
	return nil
}

// splitEnvFlags tells --env K=V (a variable) from --env NAME (an
// environment of an ecosystem file).
func splitEnvFlags(values []string) (vars, names []string, err error) {
	for _, v := range values {
		if strings.Contains(v, "=") {
			vars = append(vars, v)
		} else if strings.TrimSpace(v) != "" {
			names = append(names, v)
		} else {
			return nil, nil, usageErrorf("invalid --env %q: use --env KEY=VALUE, or --env NAME with an ecosystem file", v)
		}
	}
	return vars, names, nil
}
