package main

import (
	"slices"
)

// appWatcher finds a new process of one app quickly enough to time a
// restart to a fraction of a millisecond: it lists /proc and reads the
// argv of processes it has not ruled out before. A process is ruled out
// once it shows an argv that is neither the app's nor its daemon's (a
// child between fork and exec still shows the daemon's argv).
type appWatcher struct {
	w          workload
	app        int
	daemonArgv []string
	ruledOut   map[int]bool
}

func newAppWatcher(w workload, app, daemonPID int) (*appWatcher, error) {
	argv, err := readArgv(daemonPID)
	if err != nil {
		return nil, err
	}
	return &appWatcher{w: w, app: app, daemonArgv: argv, ruledOut: map[int]bool{}}, nil
}

// find returns a live process of the app other than old, or 0.
func (a *appWatcher) find(old int) (int, error) {
	all, err := pids()
	if err != nil {
		return 0, err
	}
	for _, p := range all {
		if p == old || a.ruledOut[p] {
			continue
		}
		argv, err := readArgv(p)
		if err != nil {
			continue
		}
		switch {
		case a.w.index(argv) == a.app:
			if alive(p) {
				return p, nil
			}
		case len(argv) > 0 && !slices.Equal(argv, a.daemonArgv):
			a.ruledOut[p] = true
		}
	}
	return 0, nil
}
