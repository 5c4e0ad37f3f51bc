// Package cgroup keeps one cgroup per app. A process group holds an app only as long as its
// processes stay in it: a grandchild that calls setsid() leaves it and
// survives a stop. A cgroup (v2) cannot be left that way, so where cgroup
// v2 is mounted and delegated to us the daemon keeps
//
//	<the daemon's own cgroup>/opm-<hash of OPM_HOME>/app-<app key>/run-<n>
//
// app-<app key> is the app's cgroup: named by the app's key (token.go),
// the same for the app's name across daemons and ids, so that killing
// leftovers in it never touches another app's processes; "app-" so that
// no name clashes with cgroupfs' own files. Each process of the app is
// cloned straight into a leaf run-<n> of it (clone3 with
// CLONE_INTO_CGROUP: the process never runs outside, not even between
// fork and exec): a new leaf, or, for a restart after an exit that left
// nothing behind (cgroup.events: "populated 0"), the leaf the last
// process ran in, never killed. Stop
// sends SIGTERM to the process group and to every other process in the
// app's cgroup, and writes its cgroup.kill after the kill timeout; once
// the leader has exited cgroup.kill ends the rest, so a restart never runs
// beside leftovers. Removing an app, or stopping the daemon with its apps,
// removes their cgroups; a daemon that exits keeping its apps leaves them,
// and the next one finds an adopted app's cgroup in /proc/<pid>/cgroup.
//
// Why leaves, and why a killed one is never reused: Linux (6.18 at least)
// kills a process cloned into a cgroup at birth when that cgroup's
// cgroup.kill count differs from the count of the spawner's own cgroup —
// so a cgroup that was ever killed through cgroup.kill can never take a
// cloned process again. A fresh leaf has never been killed; a reused one
// neither: an exit that left nothing is not followed by a kill
// (KillLeftovers), and any kill forgets the leaf remembered for reuse. The daemon checks once at start that a process
// cloned into a fresh cgroup survives (probe), and uses cgroups only then.
//
// No controller is enabled anywhere: cgroup.procs, cgroup.kill and
// cgroup.events are core files. That is also why the no-internal-processes
// rule (a non-root cgroup that hands domain controllers to its children
// holds no process itself) does not bite: opm-<hash> and app-<key> hold no
// process and enable nothing, run-<n> are leaves, and the daemon's own
// cgroup is left as it is — were a domain controller enabled in its
// subtree, the daemon could not be running in it (the root cgroup, exempt
// from the rule, aside).
//
// All of it runs on events — spawn, stop, exit, remove — as a few small
// system calls: no timer, no polling. The one wait, for the last killed
// process of a removed app's cgroup to be gone before the directory can be
// removed, is a goroutine parked on an inotify watch of cgroup.events.
//
// The daemon's supervisor decides when (daemon/cgroups.go); this package
// knows how, and never touches the app table.
//
// Files:
//
//	cgroup.go   Tree, Setup: the home's cgroup, its creation and probe
//	locate.go   the cgroup2 mount, a process's cgroup (Of), Dir, DirOf
//	enter.go    the leaf of an app's next process (Enter): a fresh one, or the last, reused
//	signal.go   SIGTERM to every process of a cgroup; cgroup.kill; KillLeftovers
//	remove.go   removing an app's cgroups once empty; Close at exit
package cgroup
