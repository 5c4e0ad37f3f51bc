package main

import (
	"os"
	"slices"

	"opm/daemon/proc"
)

// appCensus is what a /proc scan found: the live processes of each app.
type appCensus map[int][]int

// scanApps finds the live processes of w's apps.
func scanApps(w workload) (appCensus, error) {
	all, err := proc.PIDs()
	if err != nil {
		return nil, err
	}
	c := make(appCensus)
	for _, p := range all {
		argv, err := proc.Argv(p)
		if err != nil {
			continue // exited meanwhile
		}
		if i := w.index(argv); i >= 0 && proc.Alive(p) {
			c[i] = append(c[i], p)
		}
	}
	return c, nil
}

// tally counts, over apps 0..n-1, the apps with no process (missing) and
// the extra processes of apps that run more than once (duplicates).
func (c appCensus) tally(n int) (running, missing, duplicates int) {
	for i := range n {
		switch k := len(c[i]); {
		case k == 0:
			missing++
		default:
			running++
			duplicates += k - 1
		}
	}
	return running, missing, duplicates
}

// complete reports whether apps 0..n-1 each run at least once.
func (c appCensus) complete(n int) bool {
	_, missing, _ := c.tally(n)
	return missing == 0
}

// scanMatching returns the live processes whose argv satisfies match and
// whose environment holds kv.
func scanMatching(kv string, match func(argv []string) bool) ([]int, error) {
	all, err := proc.PIDs()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, p := range all {
		argv, err := proc.Argv(p)
		if err != nil || !match(argv) {
			continue
		}
		if proc.HasEnv(p, kv) && proc.Alive(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// scanTagged returns every live process, other than this one, whose
// environment holds kv: everything a sandbox started, apps included.
func scanTagged(kv string) ([]int, error) {
	self := os.Getpid()
	l, err := scanMatching(kv, func([]string) bool { return true })
	return slices.DeleteFunc(l, func(p int) bool { return p == self }), err
}
