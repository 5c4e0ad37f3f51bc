// Package ecosystem reads and writes ecosystem files: files that define a
// set of apps, in PM2's formats (*.config.js, .cjs and .mjs, evaluated by
// node; .json; .yaml and .yml) and in opm's own .toml, with PM2's key
// names and meanings. Load turns a file into one api.StartRequest per
// app; Export writes apps, as the daemon reports them, back into a file
// that Load reads to the same apps. The package is the CLI's: it never
// talks to the daemon. LoadPM2Dump reads PM2's saved process list
// (dump.pm2) into apps by the same rules, for opm import pm2.
//
// Every format is parsed into one tree of values that knows the line of
// each (tree.go), so one decoder gives every format the same meanings and
// the same messages. An app's keys:
//
//	name                     default: the script's base name without extension
//	script                   the command; a relative path is found from cwd
//	args                     a string split as a shell splits words, or a list
//	interpreter              "none" runs the script itself
//	interpreter_args         also node_args; a string or a list
//	cwd                      relative to the file's directory, which is the default
//	env, env_NAME            over the caller's environment; env_NAME with --env NAME
//	autorestart, restart     false is "never"; restart: always, on-failure, never
//	max_restarts             a whole number
//	min_uptime, restart_delay, exp_backoff_restart_delay, kill_timeout
//	                         milliseconds, or a duration such as "10s"
//	kill_signal              a name or number; PM2's formats default to SIGINT
//	stop_exit_codes          a code or a list
//	instances                a number of processes; "max" or 0 one per CPU, -1 one less
//	increment_var            a variable (PORT) each instance gets plus its instance id
//	instance_var             the variable of the instance id (NODE_APP_INSTANCE)
//
// PM2's keys for what opm does not do (exec_mode: opm runs each instance
// as a process of its own, PM2's fork mode) are kept in Settings.Pending,
// cluster mode with a warning. Other keys are warnings; a value of the
// wrong type is an *Error, and then no app is returned.
//
// Files:
//
//	load.go    Load, Options, File, App, IsFile: a file into its apps; --only
//	app.go     one app's keys into a start request; PM2's defaults; kept keys
//	values.go  the readers of values: arguments, numbers, durations, signals, env
//	hooks.go   the hook settings: on_start... (a command or an http:// URL), webhook_format
//	warn.go    the file's warnings, one per key, naming the apps
//	error.go   Error: a file that cannot be used, where and why
//	tree.go    the tree every format is parsed into, and its limits
//	json.go    JSON, with lines
//	yaml.go    YAML, with lines, aliases and merge keys
//	toml.go    opm's TOML, with lines found in the source
//	js.go      JavaScript, evaluated by node in its own process group, with a timeout
//	export.go  Export: apps into a file
//	pm2dump.go LoadPM2Dump: PM2's dump.pm2, its entries mapped to ecosystem keys
package ecosystem
