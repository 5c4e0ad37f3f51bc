// Package daemon is opm's supervisor: the per-user daemon that owns the
// app table, starts and watches apps, restarts them by policy, serves the
// HTTP/JSON API on <runtime>/opm.sock, and saves and restores the app list.
//
// One goroutine (Supervisor.run) owns the table. Everything else sends it
// events (events.go): API requests with reply channels, exits from the
// per-process watcher goroutines, finished spawns, and timers (back-off,
// kill timeout, restore-flag recheck). Supervisor.handle is a plain method,
// so unit tests drive the state machine without goroutines. An app's state
// changes only through Supervisor.move, which refuses — loudly — a move
// the state machine does not allow (state.go); at the end of each event
// the records of the apps it moved are written if what they hold changed
// (records.go).
//
// What does not touch the table lives in packages of its own:
//
//	daemon/api      the contract with clients: types, rules, limits, the client
//	daemon/appspec  an app's definition built from a request, and checked
//	daemon/process  spawning, pidfd watches (fallbacks for kernels without them), adoption, signals, app tokens
//	daemon/cgroup   one cgroup per app: the tree, entering, killing, removing
//	daemon/store    file formats: the dump and the runtime records
//	daemon/logs     apps' output: spools in RAM drained into size-rotated log files
//	daemon/proc     facts about processes, from /proc
//	daemon/feed     the event bus: recent events in a RAM ring, their subscribers
//	daemon/hooks    the hooks run on events: commands and http:// webhooks, off the loop
//	daemon/wire     HTTP/1.1 on the socket, without http.Server and http.Transport
//	daemon/dashboard the web dashboard the TCP listener serves: embedded HTML, CSS, JS
//	daemon/testkit  what the tests of every package share (imported by tests only)
//
// Stop sends SIGTERM, then SIGKILL after the app's kill timeout, to the
// app's process group — and, where cgroup v2 is mounted and delegated to
// the daemon (config.toml: cgroups = "auto", the default), to every
// process of the app's own cgroup. Without cgroup v2, or with cgroups =
// "off", a grandchild that calls setsid() leaves the app's process group
// and survives stop; `opm daemon status` says which mode is in effect.
//
// Files, in the order an app meets them:
//
//	main.go, run.go     Main (for `opm daemon run`) and Run: home, locks, socket, serve
//	config.go           config.toml and defaults
//	lock.go             the daemon locks (flock): in the runtime dir and in OPM_HOME
//	socket.go           the socket, and the uid of a client (SO_PEERCRED)
//	listener.go         a cap on the connections served at once
//	tcp.go              the optional TCP listener (listen): the bearer token, failed attempts limited
//	weblogs.go          the log tail of the dashboard, followed by inotify (TCP only)
//	ready.go            the readiness line to the command that started the daemon
//	server.go           the route table (routes: every endpoint, checked against api/openapi.yaml); HTTP handlers → supervisor requests
//	listing.go          a listing's answer: each app's spec kept encoded while unchanged
//	supervisor.go       the loop, handle, waiters
//	events.go           what the loop handles
//	app.go, state.go    the app record; the typed state machine and move
//	target.go           a target (api.ParseTarget) into app ids
//	start.go            a new app registered and started; a stopped one started
//	instances.go        an app of N instances: scale, and exactly N kept
//	launch.go           a process made off the loop; a failed start retried
//	action.go           start, stop, restart, reload of existing apps
//	reload.go           zero-downtime reload: the new process first, then the old one goes
//	stop.go             SIGTERM, and the kill timer
//	exit.go             an app's process ended: the restart policy and back-off
//	timer.go            back-off and kill timers
//	remove.go           apps stopped and forgotten
//	hold.go             takeover starts wait while a restore holds the flag
//	cgroups.go          the supervisor's side of app cgroups
//	records.go          when runtime records are written
//	takeover.go         a new daemon adopts live apps, by record or by token
//	save.go, restore.go the dump written; a dump restored, exactly once
//	sample.go           CPU and memory figures, on demand
//	metrics.go          GET /metrics: Prometheus' text format, sampled when scraped
//	memory.go           the memory of a burst of work given back once quiet
//	cron.go             cron_restart: one timer an app, to its next time; restartFor
//	watch.go            watch: files changed under an app's paths, debounced
//	watchfs.go          the one inotify watcher of apps' files, walked off the loop
//	memlimit.go         max_memory_restart: sampled only while such an app runs
//	notify.go           wait_ready: READY=1 on the notify socket (sd_notify)
//	status.go           `opm daemon status`: flag, notes, stalled restores
//	shutdown.go         daemon stop (apps stopped) or exit keeping apps
//	publish.go          events published to the feed and the hooks (publish)
//	eventstream.go      GET /v1/events: the feed as server-sent events
//	servicemanager.go   under systemd: READY, STOPPING, the watchdog; restore on start
package daemon
