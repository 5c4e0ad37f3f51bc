package ecosystem

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"opm/daemon/api"
)

// pendingKeys are PM2's keys opm accepts and keeps (in Settings.Pending,
// so they are saved and shown) but does not act on (appReader.keep).
var pendingKeys = map[string]bool{
	// How PM2 runs an app's instances: opm runs each as a process of
	// its own, PM2's fork mode, whatever the key says (ExecModeNote).
	"exec_mode": true,
}

// settledKeys are PM2's keys that an older opm kept in Settings.Pending
// without acting on them, and that are settings now: a value kept under
// one of them is stale, the setting says what the app runs with.
var settledKeys = map[string]bool{"instances": true, "increment_var": true, "instance_var": true}

// Settled reports whether a key of Settings.Pending is stale: kept by an
// older opm, and a setting of its own now.
func Settled(key string) bool { return settledKeys[key] }

// CurrentPending is the kept PM2 settings p without the stale ones
// (Settled); nil when none is left.
func CurrentPending(p map[string]json.RawMessage) map[string]json.RawMessage {
	var out map[string]json.RawMessage
	for k, v := range p {
		if settledKeys[k] {
			continue
		}
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		out[k] = v
	}
	return out
}

// decoded is an app read from the file, with what the file's warnings
// need to know about it.
type decoded struct {
	App
	index int // from 1
	notes []note
	// hasEnv is set when the app defines the env_NAME that
	// Options.Env asks for.
	hasEnv bool
}

// appReader reads the keys of one app.
type appReader struct {
	l *loader
	d *decoded
}

// fault is an *Error about key f of the app.
func (a *appReader) fault(f field, msg string) *Error {
	return &Error{File: a.l.file, Line: f.line, App: a.d.Name, Index: a.d.index, Key: f.key, Msg: msg}
}

// wrong is an *Error for a value of the wrong type.
func (a *appReader) wrong(f field, want string) *Error {
	return a.fault(f, "want "+want+", got "+f.val.describe())
}

// decode reads the app n, the index-th of the file, into a start request.
func (l *loader) decode(index int, n *node) (*decoded, error) {
	d := &decoded{App: App{Line: n.line}, index: index}
	a := &appReader{l: l, d: d}
	if n.kind != kindMap {
		return nil, &Error{File: l.file, Line: n.line, Index: index, Msg: "want an app (a map of keys such as name and script), got " + n.describe()}
	}
	req := &d.Request
	// The name first, so that every message names the app.
	var script *field
	for i, f := range n.fields {
		switch {
		case f.val.kind == kindNull: // as PM2: a key set to null is not set
		case f.key == "name":
			s, ok := a.text(f)
			if !ok || s == "" {
				return nil, a.wrong(f, "the app's name (a string)")
			}
			if err := api.CheckName(s); err != nil {
				return nil, a.fault(f, err.Error())
			}
			d.Name = s
		case f.key == "script":
			script = &n.fields[i]
		}
	}
	if script == nil {
		return nil, &Error{File: l.file, Line: n.line, App: d.Name, Index: index, Key: "script", Msg: "missing: every app needs a script (the file or command to run)"}
	}
	s, ok := a.text(*script)
	if !ok || strings.TrimSpace(s) == "" {
		return nil, a.wrong(*script, "the file or command to run (a string)")
	}
	req.Command = s
	if d.Name == "" {
		name := defaultName(s)
		if err := api.CheckName(name); err != nil {
			return nil, a.fault(field{key: "name", line: n.line}, fmt.Sprintf("none given, and the one PM2 would take from the script (%q) cannot be used: %v", name, err))
		}
		d.Name = name
	}
	req.Name = d.Name

	var env, envNamed []string
	var autorestart *bool
	var interpArgsKey string
	for _, f := range n.fields {
		if f.val.kind == kindNull {
			continue
		}
		var err error
		switch f.key {
		case "name", "script":
		case "args":
			req.Args, err = a.words(f)
		case "interpreter":
			req.Interpreter, ok = a.text(f)
			if !ok || req.Interpreter == "" {
				err = a.wrong(f, `an interpreter (a program such as "python3", or "none" to run the script itself)`)
			}
		case "interpreter_args", "node_args":
			if interpArgsKey != "" {
				err = a.fault(f, fmt.Sprintf("%s and %s are one setting (the interpreter's arguments); keep one", interpArgsKey, f.key))
				break
			}
			interpArgsKey = f.key
			req.InterpreterArgs, err = a.words(f)
		case "cwd":
			req.Cwd, ok = a.text(f)
			if !ok || req.Cwd == "" {
				err = a.wrong(f, "a directory (a string)")
			}
		case "env":
			env, err = a.env(f)
		case "autorestart":
			var b bool
			if b, err = a.boolean(f); err == nil {
				autorestart = &b
			}
		case "restart":
			req.Restart, ok = a.text(f)
			if !ok {
				err = a.wrong(f, "a restart policy (always, on-failure or never)")
			} else if perr := api.CheckRestartPolicy(req.Restart); perr != nil {
				err = a.fault(f, perr.Error())
			}
		case "max_restarts":
			var v int64
			if v, err = a.whole(f); err == nil {
				limit := int(v)
				req.MaxRestarts = &limit
				if cerr := api.CheckMaxRestarts(limit); cerr != nil {
					err = a.fault(f, cerr.Error())
				}
			}
		case "kill_timeout":
			if req.KillTimeoutMs, err = a.millis(f); err == nil {
				if cerr := api.CheckKillTimeoutMs(req.KillTimeoutMs); cerr != nil {
					err = a.fault(f, cerr.Error())
				}
			}
		case "min_uptime":
			req.MinUptimeMs, err = a.setting(f)
		case "restart_delay":
			req.RestartDelayMs, err = a.setting(f)
		case "exp_backoff_restart_delay":
			req.ExpBackoffRestartDelayMs, err = a.setting(f)
		case "kill_signal":
			req.KillSignal, err = a.signal(f)
		case "stop_exit_codes":
			req.StopExitCodes, err = a.exitCodes(f)
		case "wait_ready":
			req.WaitReady, err = a.boolean(f)
		case "listen_timeout":
			req.ListenTimeoutMs, err = a.setting(f)
		case "watch", "ignore_watch", "watch_delay", "max_memory_restart":
			err = a.watchSetting(f, &req.Settings)
		case "cron_restart":
			text, ok := a.text(f)
			if f.val.kind == kindNumber && f.val.text == "0" {
				text, ok = "0", true // PM2's way to turn it off
			}
			if !ok {
				err = a.wrong(f, `a cron expression (a string such as "0 3 * * *")`)
				break
			}
			var cerr error
			if req.CronRestart, cerr = api.CronSetting(text); cerr != nil {
				err = a.fault(f, cerr.Error())
			}
		case "webhook_format":
			err = a.hookSetting(f, &req.Hooks)
		case "instances":
			req.Instances, err = a.instances(f)
		case "increment_var":
			req.IncrementVar, err = a.envName(f)
		case "instance_var":
			req.InstanceVar, err = a.envName(f)
		case "out_file", "error_file", "log_file", "time", "log_date_format", "merge_logs", "combine_logs",
			"log_max_size", "log_max_files", "log_compress":
			err = a.logSetting(f, &req.LogSettings)
		default:
			switch name, isEnv := strings.CutPrefix(f.key, "env_"); {
			case req.Hooks.Field(f.key) != nil: // on_start, on_exit...
				err = a.hookSetting(f, &req.Hooks)
			case pendingKeys[f.key]:
				err = a.keep(f)
			case isEnv && name != "":
				var vars []string
				if vars, err = a.env(f); err == nil && name == l.o.Env {
					envNamed, d.hasEnv = vars, true
				}
			default:
				d.notes = append(d.notes, note{kind: noteUnknown, key: f.key, line: f.line})
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if autorestart != nil {
		if err := a.restartPolicy(n, *autorestart); err != nil {
			return nil, err
		}
	}
	d.Env = MergeEnv(env, envNamed)
	req.Env = MergeEnv(l.environ(), d.Env)
	if req.KillSignal == "" && l.pm2() {
		req.KillSignal = "SIGINT"
		d.notes = append(d.notes, note{kind: noteSIGINT})
	}
	switch {
	case req.Cwd == "":
		req.Cwd = l.dir
	case !filepath.IsAbs(req.Cwd):
		req.Cwd = filepath.Join(l.dir, req.Cwd)
	}
	req.Cwd = filepath.Clean(req.Cwd)
	req.Dir = req.Cwd
	return d, nil
}

// restartPolicy applies PM2's autorestart to the request: false is
// opm's "never"; true leaves the policy to restart (or the default). A
// restart policy that says otherwise is refused.
func (a *appReader) restartPolicy(n *node, autorestart bool) error {
	req := &a.d.Request
	f := n.fields[fieldIndex(n, "autorestart")]
	switch {
	case !autorestart && req.Restart != "" && req.Restart != api.RestartNever:
		return a.fault(f, fmt.Sprintf("false contradicts restart: %s; keep one of the two", req.Restart))
	case autorestart && req.Restart == api.RestartNever:
		return a.fault(f, "true contradicts restart: never; keep one of the two")
	case !autorestart:
		req.Restart = api.RestartNever
	}
	return nil
}

// fieldIndex is the index of key among n's fields.
func fieldIndex(n *node, key string) int {
	for i, f := range n.fields {
		if f.key == key {
			return i
		}
	}
	return -1
}

// defaultName is PM2's name for an app that sets none: the script's base
// name without its extension ("./api/app.js" is "app"); for a command
// line, its program's.
func defaultName(script string) string {
	base := filepath.Base(strings.Fields(script)[0])
	if ext := filepath.Ext(base); ext != "" && ext != base {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// MergeEnv is an app's environment: each list's variables over the
// earlier ones'. A variable keeps the place it first had, with its last
// value, so that the same lists merged again give the same environment
// (and an unchanged app looks unchanged).
func MergeEnv(lists ...[]string) []string {
	var out []string
	at := map[string]int{}
	for _, list := range lists {
		for _, kv := range list {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := at[k]; ok {
				out[i] = kv
				continue
			}
			at[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}
