package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// tool drives one process manager (opm or PM2) through its CLI, the way
// its users do.
type tool interface {
	// Name is "opm" or "PM2".
	Name() string
	// newSandbox creates a sandbox with the tool's configuration written.
	newSandbox() (*sandbox, error)
	// start registers and starts apps from..to-1 of the sandbox's workload.
	start(ctx context.Context, sb *sandbox, from, to int) error
	// list returns the app table as the tool's JSON listing reports it.
	list(ctx context.Context, sb *sandbox) ([]listed, error)
	// listArgv is the command that lists apps as JSON; parseList decodes
	// its output.
	listArgv() []string
	parseList(out []byte) ([]listed, error)
	// save writes the tool's dump.
	save(ctx context.Context, sb *sandbox) error
	// shutdown stops the daemon and its apps.
	shutdown(ctx context.Context, sb *sandbox) error
	// restoreArgv is the command that restores the dump.
	restoreArgv() []string
	// isDaemon reports whether argv is this sandbox's daemon.
	isDaemon(sb *sandbox, argv []string) bool
	// stopOnCleanup reports whether cleanup shuts the tool down before
	// killing what is left (and reports leftovers), rather than killing
	// everything at once.
	stopOnCleanup() bool
}

// listed is one app of a tool's JSON listing.
type listed struct {
	Name   string
	PID    int
	Status string
}

// Timeouts for single CLI commands.
const (
	cmdTimeout  = 60 * time.Second
	bulkTimeout = 10 * time.Minute
)

// daemons returns the live daemon processes of sb.
func daemons(t tool, sb *sandbox) ([]int, error) {
	return scanMatching(sb.tag(), func(argv []string) bool { return t.isDaemon(sb, argv) })
}

// daemonPID returns the one daemon of sb.
func daemonPID(t tool, sb *sandbox) (int, error) {
	d, err := daemons(t, sb)
	if err != nil {
		return 0, err
	}
	if len(d) != 1 {
		return 0, fmt.Errorf("%s: expected one daemon, found %d %v", t.Name(), len(d), d)
	}
	return d[0], nil
}

// waitOnline polls the tool's listing until apps 0..n-1 are all online,
// then checks /proc: each must run exactly once.
func waitOnline(ctx context.Context, t tool, sb *sandbox, n int, timeout time.Duration) error {
	var last string
	err := poll(ctx, timeout, 50*time.Millisecond, func() (bool, error) {
		apps, err := t.list(ctx, sb)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		online := 0
		for _, a := range apps {
			if a.Status == "online" && a.PID > 0 {
				online++
			}
		}
		last = fmt.Sprintf("%d of %d apps online (%d listed)", online, n, len(apps))
		return online == n && len(apps) == n, nil
	})
	if err != nil {
		return fmt.Errorf("%s: wait for apps online: %w: %s", t.Name(), err, last)
	}
	return checkOnce(sb, n)
}

// checkOnce verifies in /proc that apps 0..n-1 each run exactly once.
func checkOnce(sb *sandbox, n int) error {
	c, err := scanApps(sb.w)
	if err != nil {
		return err
	}
	if _, missing, dup := c.tally(n); missing+dup > 0 {
		return fmt.Errorf("/proc shows %d missing and %d duplicate app processes", missing, dup)
	}
	return nil
}

// waitStopped polls /proc until sb has no daemon and no app left.
func waitStopped(ctx context.Context, t tool, sb *sandbox, timeout time.Duration) error {
	var nd, na int
	err := poll(ctx, timeout, 10*time.Millisecond, func() (bool, error) {
		d, err := daemons(t, sb)
		if err != nil {
			return false, err
		}
		c, err := scanApps(sb.w)
		if err != nil {
			return false, err
		}
		nd, na = len(d), len(c)
		return nd == 0 && na == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%s: wait for shutdown: %w: %d daemons and %d apps still running", t.Name(), err, nd, na)
	}
	return nil
}

// startApps starts apps 0..n-1 in batches and waits until all are online.
func startApps(ctx context.Context, t tool, sb *sandbox, n int) error {
	if err := t.start(ctx, sb, 0, n); err != nil {
		return err
	}
	return waitOnline(ctx, t, sb, n, onlineTimeout(n))
}

// onlineTimeout allows ~50 ms per app with a floor of 30 s.
func onlineTimeout(n int) time.Duration {
	return max(30*time.Second, time.Duration(n)*50*time.Millisecond)
}

// closeSandbox shuts the tool down (when t.stopOnCleanup), kills
// whatever is left and removes the directories. It reports processes a
// successful shutdown left behind.
func closeSandbox(t tool, sb *sandbox) error {
	var errLeft error
	if t.stopOnCleanup() {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		if t.shutdown(ctx, sb) == nil {
			errLeft = waitStopped(ctx, t, sb, 10*time.Second)
		}
		cancel()
	}
	errKill := sb.killAll(10 * time.Second)
	errRemove := sb.remove()
	// A failed shutdown is not a benchmark failure once everything is
	// killed; processes left after a successful one are worth reporting.
	return errors.Join(errLeft, errKill, errRemove)
}
