// Package daemon is opm's supervisor: the per-user daemon that owns the
// app table, spawns and watches apps, restarts them by policy, serves the
// HTTP/JSON API on <runtime>/opm.sock, and saves and restores the app list.
//
// One goroutine (Supervisor.run) owns the table. Everything else sends it
// events (events.go): API requests with reply channels, exits from the
// per-process watcher goroutines, finished spawns, and timers (back-off,
// kill timeout, restore-flag recheck). Supervisor.handle is a plain method,
// so unit tests drive the state machine without goroutines.
//
// Stop sends SIGTERM, then SIGKILL after the app's kill timeout, to the
// app's process group — and, where cgroup v2 is mounted and delegated to
// the daemon (config.toml: cgroups = "auto", the default), to every
// process of the app's own cgroup (cgroup.go). Without cgroup v2, or with
// cgroups = "off", a grandchild that calls setsid() leaves the app's
// process group and survives stop; `opm daemon status` says which mode
// is in effect and why.
//
// Where things live:
//
//	main.go, run.go        Main (for `opm daemon run`) and Run: dirs, lock, socket, serve
//	config.go              config.toml and defaults
//	lock.go                the daemon locks (flock): in the runtime dir and in OPM_HOME
//	socket.go, listener.go the socket (peer uid check); a cap on connections served at once
//	ready.go               the $OPM_READY_FD readiness line
//	server.go              HTTP handlers → supervisor requests
//	supervisor.go          the loop, handle, waiters
//	state.go, app.go       the typed state machine and the app record
//	actions.go             start/stop/restart/remove
//	launch.go, spawn.go    spawning off the loop; the process itself
//	pidfd.go               waiting for any app process on a pidfd, threadless
//	cgroup.go              one cgroup per app (v2): spawn into it, stop, kill and remove it whole
//	policy.go              exits: restart policy, back-off, errored
//	resolve.go, spec.go    command resolution and start-request checks
//	target.go              id/name/comma list/all
//	sample.go              CPU and memory on demand (internal/proc)
//	logs.go                app log files (never through a symlink) and flush
//	records.go             RAM runtime records for takeover; no spawn without its record
//	token.go               the token in every app's environment, found by a /proc scan at takeover
//	recover.go, adopt.go   takeover at start: adopt live apps via pidfd
//	hold.go                takeover starts wait while a restore holds the flag; stalls reported
//	dump.go, save.go,      the dump: atomic save, restore exactly once
//	restore.go
//	shutdown.go            daemon stop (apps stopped) or exit keeping apps
//	status.go              `opm daemon status`: flag, notes, stalled restores
package daemon
