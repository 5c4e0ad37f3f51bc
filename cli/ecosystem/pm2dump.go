package ecosystem

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"opm/daemon/api"
)

// FormatPM2Dump is File.Format for PM2's saved process list (the file
// `pm2 save` writes, $PM2_HOME/dump.pm2).
const FormatPM2Dump = "pm2-dump"

// pm2Internal are the keys PM2 writes into every entry of its dump for
// its own bookkeeping (runtime state, monitoring, paths it derives): not
// settings a user chose, so they are dropped without a warning.
var pm2Internal = map[string]bool{
	"pm_id": true, "unique_id": true, "status": true, "pm_uptime": true,
	"created_at": true, "restart_time": true, "unstable_restarts": true,
	"prev_restart_delay": true, "exit_code": true, "_tree_pids": true,
	"axm_actions": true, "axm_monitor": true, "axm_options": true, "axm_dynamic": true,
	"versioning": true, "version": true, "node_version": true, "_pm2_version": true,
	"vizion": true, "vizion_running": true, "km_link": true, "pmx": true,
	"automation": true, "treekill": true, "windowsHide": true, "username": true,
	"kill_retry_time": true, "pm_pid_path": true,
	"pm_exec_path": true, "pm_cwd": true, "exec_interpreter": true,
	"pm_out_log_path": true, "pm_err_log_path": true, "pm_log_path": true,
	"node_args": true, "interpreter_args": true, "env": true, "autostart": true,
	"command": true, "started_inside": true, "pmx_module": true,
	"unique_id_set": true, "NODE_APP_INSTANCE": true,
	// with PM2's default value only (see pm2Defaults)
	"namespace": true, "filter_env": true, "exec_mode": true, "watch": true,
	"merge_logs": true, "instances": true, "instance_var": true,
}

// pm2Defaults are the values PM2 writes for keys the user did not set:
// such a key is dropped; any other value is the user's, and is read as
// in an ecosystem file (kept in Pending, or warned about).
var pm2Defaults = map[string]string{
	"namespace":  `"default"`,
	"filter_env": `[]`,
	"exec_mode":  `"fork_mode"`,
	"watch":      `false`,
	"merge_logs": `true`,
	"instances":  `1`,
	// the variable of the instance id
	"instance_var": `"NODE_APP_INSTANCE"`,
}

// pm2Env reports whether key of an app's env in a PM2 dump is one PM2
// set itself, not the app's: PM2's own variables (PM2_HOME, PM2_USAGE,
// PM2_JSON_PROCESSING, PM2_INTERACTOR_PROCESSING: every PM2_*), its
// process ids (pm_id, unique_id, NODE_APP_INSTANCE or the app's
// instance_var), the key named after the app (where PM2 keeps the app's
// settings: a map, or for an app of an ecosystem file the JSON text
// "{}"), "_" (the shell's last command: pm2 itself) and any value that
// is not a string, number or boolean.
func pm2Env(key, app, instanceVar string, val *node) bool {
	switch {
	case strings.HasPrefix(key, "PM2_"), key == "pm_id", key == "unique_id",
		key == "NODE_APP_INSTANCE", key == instanceVar, key == app, key == "_":
		return true
	}
	_, scalar := val.scalarText()
	return !scalar
}

// LoadPM2Dump reads PM2's saved process list (the JSON list `pm2 save`
// writes) into start requests, one per app, read by the same rules as an
// ecosystem file's apps: each entry's settings are mapped to their
// ecosystem keys (pm_exec_path is script, pm_cwd cwd, exec_interpreter
// interpreter, node_args interpreter_args, ...), PM2's bookkeeping is
// dropped, and the app gets SIGINT as its kill signal unless it set one.
//
// An app's environment is the one PM2 saved for it (PM2 snapshots the
// whole environment of the shell that started it), without PM2's own
// variables (see pm2Env); Options.Environ is not used. An app PM2 had
// stopped (status "stopped", or autostart false) has App.Stopped set.
// A file that cannot be used (missing, not JSON, not a list, an entry
// without pm_exec_path) is an *Error, and no app is returned.
func LoadPM2Dump(path string, o Options) (*File, error) {
	o.Environ = []string{}
	l := &loader{file: path, o: o, format: FormatPM2Dump}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, l.fail(0, "cannot find its directory", err)
	}
	l.dir = filepath.Dir(abs)
	data, err := l.read()
	if err != nil {
		return nil, err
	}
	return l.dump(data)
}

// dump reads the content of a PM2 dump.
func (l *loader) dump(data []byte) (*File, error) {
	root, err := parseJSON(data, true)
	if err != nil {
		var pe *posError
		if errors.As(err, &pe) {
			return nil, l.fail(pe.line, pe.msg+" (is it the dump.pm2 that 'pm2 save' writes?)", pe.err)
		}
		return nil, err
	}
	if root.kind != kindList {
		return nil, l.fail(root.line, "want PM2's list of processes (as 'pm2 save' writes it), got "+root.describe(), nil)
	}
	if len(root.items) == 0 {
		return nil, l.fail(root.line, "PM2 saved no process (run 'pm2 save' while your apps run under PM2)", nil)
	}
	// PM2 saves one entry per process: an app started with -i N (or
	// scaled) is N entries of one name and script. They become one app
	// of that many instances, defined by its lowest instance (whose
	// environment holds the base value of its increment_var), stopped
	// only when every instance was.
	var groups [][]int
	byName := map[string]int{}
	for i, entry := range root.items {
		name := ""
		if v := entry.get("name"); entry.kind == kindMap && v != nil && v.kind == kindString {
			name = v.text
		}
		if j, seen := byName[name]; seen && name != "" {
			groups[j] = append(groups[j], i)
			continue
		}
		byName[name] = len(groups)
		groups = append(groups, []int{i})
	}
	var stopped []bool
	apps := &node{kind: kindList, line: root.line}
	for _, g := range groups {
		procs := l.sameApp(root.items, g)
		first := procs[0]
		for _, i := range procs[1:] {
			if id := pm2Instance(root.items[i]); id >= 0 && (pm2Instance(root.items[first]) < 0 || id < pm2Instance(root.items[first])) {
				first = i
			}
		}
		app, err := l.fromDump(first+1, root.items[first])
		if err != nil {
			return nil, err
		}
		if len(procs) > 1 {
			setInstances(app, len(procs))
		}
		down := true
		for _, i := range procs {
			down = down && pm2Stopped(root.items[i])
		}
		stopped = append(stopped, down)
		apps.items = append(apps.items, app)
	}
	f, err := l.load(apps)
	if err != nil {
		return nil, err
	}
	for i := range f.Apps {
		f.Apps[i].Stopped = stopped[i]
	}
	return f, nil
}

// sameApp keeps, of the entries (indexes into items) that share a
// name, those of the first one's script: the processes of one app. PM2
// also lets apps of other scripts take the same name, which opm cannot:
// each of those is a warning, and is not imported.
func (l *loader) sameApp(items []*node, entries []int) []int {
	script := func(e *node) string {
		if v := e.get("pm_exec_path"); v != nil && v.kind == kindString {
			return v.text
		}
		return ""
	}
	want := script(items[entries[0]])
	procs := []int{entries[0]}
	for _, i := range entries[1:] {
		if script(items[i]) == want {
			procs = append(procs, i)
			continue
		}
		name := items[i].get("name").text
		l.fileNotes = append(l.fileNotes, note{kind: noteSameName, key: name, line: items[i].line})
	}
	return procs
}

// pm2Instance is the instance id PM2 gave the process of a dump's entry
// (its instance_var, NODE_APP_INSTANCE by default), -1 when unknown.
func pm2Instance(entry *node) int64 {
	ivar := api.DefaultInstanceVar
	if v := entry.get("instance_var"); v != nil && v.kind == kindString && v.text != "" {
		ivar = v.text
	}
	for _, m := range []*node{entry, entry.get("env")} {
		if m == nil || m.kind != kindMap {
			continue
		}
		if v := m.get(ivar); v != nil && (v.kind == kindNumber || v.kind == kindString) {
			if id, ok := wholeNumber(strings.TrimSpace(v.text)); ok && id >= 0 {
				return id
			}
		}
	}
	return -1
}

// setInstances sets the instances of an app mapped from a dump to n,
// the number of processes PM2 ran, over what its entry recorded.
func setInstances(app *node, n int) {
	val := &node{kind: kindNumber, line: app.line, text: strconv.Itoa(n)}
	if i := fieldIndex(app, "instances"); i >= 0 {
		val.line = app.fields[i].val.line
		app.fields[i].val = val
		return
	}
	app.fields = append(app.fields, field{key: "instances", line: app.line, val: val})
}

// pm2Stopped reports whether PM2 had the app of a dump's entry stopped.
func pm2Stopped(entry *node) bool {
	if v := entry.get("status"); v != nil && v.kind == kindString && v.text == "stopped" {
		return true
	}
	v := entry.get("autostart")
	return v != nil && v.kind == kindBool && v.text == "false"
}

// get is the value of key in a map, nil if it has none.
func (n *node) get(key string) *node {
	if i := fieldIndex(n, key); i >= 0 {
		return n.fields[i].val
	}
	return nil
}

// fromDump maps the index-th entry of a PM2 dump to an app of ecosystem
// keys, each at the line PM2 wrote it on.
func (l *loader) fromDump(index int, entry *node) (*node, error) {
	if entry.kind != kindMap {
		return nil, &Error{File: l.file, Line: entry.line, Index: index, Msg: "want one of PM2's processes (a map with pm_exec_path, name...), got " + entry.describe()}
	}
	app := &node{kind: kindMap, line: entry.line}
	add := func(key string, f field) {
		app.fields = append(app.fields, field{key: key, line: f.line, val: f.val})
	}
	name := ""
	if v := entry.get("name"); v != nil && v.kind == kindString {
		name = v.text
	}
	instanceVar := "NODE_APP_INSTANCE"
	if v := entry.get("instance_var"); v != nil && v.kind == kindString {
		instanceVar = v.text
	}
	var envKeys map[string]bool
	if i := fieldIndex(entry, "env"); i >= 0 && entry.fields[i].val.kind == kindMap {
		f := entry.fields[i]
		env := &node{kind: kindMap, line: f.val.line}
		envKeys = map[string]bool{}
		for _, v := range f.val.fields {
			envKeys[v.key] = true
			if !pm2Env(v.key, name, instanceVar, v.val) {
				env.fields = append(env.fields, v)
			}
		}
		add("env", field{line: f.line, val: env})
	}
	script := fieldIndex(entry, "pm_exec_path")
	if script < 0 {
		return nil, &Error{File: l.file, Line: entry.line, App: name, Index: index, Key: "pm_exec_path", Msg: "missing: PM2 writes the program to run there (is this the dump.pm2 that 'pm2 save' writes?)"}
	}
	if f := entry.fields[script]; f.val.kind == kindString && (api.NeedsShell(f.val.text) || len(strings.Fields(f.val.text)) > 1) {
		// opm reads a script as a command line: such a path would be
		// split into words, or run by a shell without its interpreter.
		return nil, &Error{File: l.file, Line: f.line, App: name, Index: index, Key: "pm_exec_path",
			Msg: fmt.Sprintf("%q holds spaces or shell characters, which opm cannot run as a script's path yet: move or link the script to a plain path, start it under PM2 from there and run 'pm2 save' again", f.val.text)}
	}
	add("script", entry.fields[script])
	logs := l.pm2Logs(entry)
	interpArgs := false
	for _, f := range entry.fields {
		switch f.key {
		case "pm_cwd":
			add("cwd", f)
		case "exec_interpreter":
			add("interpreter", f)
		case "node_args", "interpreter_args":
			// PM2 writes node_args (an empty list when unset); one of
			// the two is the interpreter's arguments.
			if !interpArgs && !(f.val.kind == kindList && len(f.val.items) == 0) {
				interpArgs = true
				add("interpreter_args", f)
			}
		case "pm_out_log_path":
			if !defaultLog(f.val, logs) {
				add("out_file", f)
			}
		case "pm_err_log_path":
			if !defaultLog(f.val, logs) {
				add("error_file", f)
			}
		case "pm_log_path":
			add("log_file", f)
		default:
			switch {
			case pm2Defaults[f.key] != "":
				if string(f.val.json()) != pm2Defaults[f.key] {
					add(f.key, f)
				}
			case pm2Internal[f.key], envKeys[f.key], f.key == instanceVar:
				// PM2's bookkeeping; the env, which PM2 also copies
				// to the entry's top level.
			default:
				add(f.key, f)
			}
		}
	}
	return app, nil
}

// pm2Logs is the directory of PM2's default log files for the dump's
// entry: $PM2_HOME/logs, PM2_HOME as PM2 saved it in the app's env, or
// the dump's own directory.
func (l *loader) pm2Logs(entry *node) string {
	home := l.dir
	if env := entry.get("env"); env != nil && env.kind == kindMap {
		if v := env.get("PM2_HOME"); v != nil && v.kind == kindString && v.text != "" {
			home = v.text
		}
	}
	return filepath.Join(home, "logs")
}

// defaultLog reports whether a log path of a PM2 dump is one of PM2's
// default files, in dir: not the user's choice, so not kept.
func defaultLog(val *node, dir string) bool {
	return val.kind != kindString || val.text == "" || filepath.Dir(val.text) == filepath.Clean(dir)
}
