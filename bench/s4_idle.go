package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"opm/daemon/proc"
)

// Scenario 4: N quiet apps; after a short settle the daemon is left alone
// for a window, and its counters are read from /proc before and after:
// CPU time (utime+stime of all threads from /proc/<pid>/stat, and the
// finer schedstat of its live threads), write syscalls and bytes
// (/proc/<pid>/io: syscw, wchar, write_bytes — any fd, disk or not), and
// context switches summed over its threads (each voluntary one is a
// wake-up after a sleep). RSS is read at the end.

const scenarioIdle = "4 idle daemon"

// idleSettle separates the window from the start-up commands, and lets
// opm's daemon give back the memory those used (its heap, its mappings of
// code pages it ran), which it does once, 10 s after its last request
// (trimDelay in daemon/memory.go); variantSettle is longer: after a
// hundred apps' watches are set up, the Go runtime returns the memory
// that took for some seconds (its scavenger, GOMAXPROCS update: ~10
// wake-ups in the first 10 s, none after), which is not what an idle
// daemon costs.
const (
	idleSettle    = 12 * time.Second
	variantSettle = 15 * time.Second
)

func runIdle(ctx context.Context, b *bench) error {
	var errs []error
	n, window := b.p.IdleN, b.p.IdleWindow
	perMin := 60 / window.Seconds()
	for _, t := range b.tools() {
		u, err := measureIdle(ctx, b, t, n, window, idleSettle)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Name(), err))
			continue
		}
		m := func(metric string) string { return fmt.Sprintf("%d apps: %s", n, metric) }
		name := t.Name()
		b.rep.set(scenarioIdle, m("RSS"), "MB", name, mb(u.after.RSS)).target("≤ 12, ≤ ¼ PM2", andRatio(atMost(12), 0.25))
		b.rep.set(scenarioIdle, m("RSS anonymous (private)"), "MB", name, mb(u.after.RSSAnon))
		b.rep.set(scenarioIdle, m("RSS file-backed (executable)"), "MB", name, mb(u.after.RSSFile))
		b.rep.set(scenarioIdle, m("CPU utime+stime"), "s/min", name, float64(sub(u.after.CPUTicks, u.before.CPUTicks))/proc.TicksPerSecond*perMin).target("< 0.05", below(0.05))
		b.rep.set(scenarioIdle, m("CPU schedstat"), "ms/min", name, float64(sub(u.after.SchedNs, u.before.SchedNs))/1e6*perMin)
		b.rep.set(scenarioIdle, m("write syscalls in window"), "count", name, float64(sub(u.after.Syscw, u.before.Syscw))).target("0", atMost(0))
		b.rep.set(scenarioIdle, m("bytes written, any fd (wchar)"), "bytes", name, float64(sub(u.after.Wchar, u.before.Wchar)))
		b.rep.set(scenarioIdle, m("bytes written to storage"), "bytes", name, float64(sub(u.after.WriteBytes, u.before.WriteBytes))).target("0", atMost(0))
		b.rep.set(scenarioIdle, m("wake-ups (voluntary switches)"), "per min", name, float64(sub(u.after.Voluntary, u.before.Voluntary))*perMin)
		b.rep.set(scenarioIdle, m("threads"), "count", name, float64(u.after.Threads)).noRatio = true
	}
	if b.opm != nil {
		errs = append(errs, runIdleVariants(ctx, b, n, window), runIdleStream(ctx, b, n, window))
	}
	b.rep.notef("scenario 4 window: %s after a %s settle (%s for the variants); CPU ticks are 10 ms, so figures below ~%.2f s/min read as 0", window, idleSettle, variantSettle, 0.01*perMin)
	return errors.Join(errs...)
}

// idleVariants are opm with features that must not cost an idle daemon
// anything (watch, cron: armed, nothing happens) and one that costs by
// design (memory limits: sampled while such apps run), measured as the
// plain run.
var idleVariants = []struct {
	name  string
	flags []string
	// free: the variant must cost an idle daemon nothing.
	free bool
}{
	{"watch + cron on each", []string{"--watch-path", "{dir}", "--cron-restart", "0 3 * * *"}, true},
	{"memory limit on each", []string{"--max-memory-restart", "1G"}, false},
}

func runIdleVariants(ctx context.Context, b *bench, n int, window time.Duration) error {
	var errs []error
	perMin := 60 / window.Seconds()
	for _, v := range idleVariants {
		o := *b.opm
		o.extra = v.flags
		u, err := measureIdle(ctx, b, &o, n, window, variantSettle)
		if err != nil {
			errs = append(errs, fmt.Errorf("opm, %s: %w", v.name, err))
			continue
		}
		m := func(metric string) string { return fmt.Sprintf("%d apps, %s: %s", n, v.name, metric) }
		cpu := float64(sub(u.after.CPUTicks, u.before.CPUTicks)) / proc.TicksPerSecond
		sched := float64(sub(u.after.SchedNs, u.before.SchedNs)) / 1e9
		b.rep.set(scenarioIdle, m("CPU utime+stime"), "s/min", "opm", cpu*perMin)
		b.rep.set(scenarioIdle, m("CPU schedstat per app per second"), "µs", "opm", sched/window.Seconds()/float64(n)*1e6)
		writes := b.rep.set(scenarioIdle, m("write syscalls in window"), "count", "opm", float64(sub(u.after.Syscw, u.before.Syscw)))
		b.rep.set(scenarioIdle, m("bytes written to storage"), "bytes", "opm", float64(sub(u.after.WriteBytes, u.before.WriteBytes))).target("0", atMost(0))
		wakes := b.rep.set(scenarioIdle, m("wake-ups (voluntary switches)"), "per min", "opm", float64(sub(u.after.Voluntary, u.before.Voluntary))*perMin)
		if v.free {
			writes.target("0", atMost(0))
			wakes.target("0", atMost(0))
		}
		b.rep.set(scenarioIdle, m("RSS"), "MB", "opm", mb(u.after.RSS))
	}
	return errors.Join(errs...)
}

// runIdleStream measures opm idle with its TCP listener on and a client
// following /v1/events on it, as an open web dashboard does: nothing
// happens, so nothing may wake the daemon.
func runIdleStream(ctx context.Context, b *bench, n int, window time.Duration) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	o := *b.opm
	o.config = fmt.Sprintf("listen = \"127.0.0.1:%d\"\n", port)
	var u idleUsage
	err = b.withSandbox(&o, func(sb *sandbox) error {
		if err := startApps(ctx, &o, sb, n); err != nil {
			return err
		}
		pid, err := daemonPID(&o, sb)
		if err != nil {
			return err
		}
		tok := sb.run(ctx, cmdTimeout, o.bin, "token")
		if err := tok.error(); err != nil {
			return fmt.Errorf("opm token: %w", err)
		}
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		req, err := http.NewRequestWithContext(sctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/v1/events", port), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok.Stdout)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("open the event stream: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("open the event stream: %s", resp.Status)
		}
		go io.Copy(io.Discard, resp.Body) // until the stream is closed below
		if u, err = measureWindow(ctx, pid, variantSettle, window); err != nil {
			return err
		}
		return checkOnce(sb, n)
	})
	if err != nil {
		return fmt.Errorf("opm, listener and event stream: %w", err)
	}
	perMin := 60 / window.Seconds()
	m := func(metric string) string {
		return fmt.Sprintf("%d apps, TCP listener on, an event stream open: %s", n, metric)
	}
	cpu := float64(sub(u.after.CPUTicks, u.before.CPUTicks)) / proc.TicksPerSecond
	b.rep.set(scenarioIdle, m("CPU utime+stime"), "s/min", "opm", cpu*perMin)
	b.rep.set(scenarioIdle, m("bytes written to storage"), "bytes", "opm", float64(sub(u.after.WriteBytes, u.before.WriteBytes))).target("0", atMost(0))
	b.rep.set(scenarioIdle, m("wake-ups (voluntary switches)"), "per min", "opm", float64(sub(u.after.Voluntary, u.before.Voluntary))*perMin).
		target("0", atMost(0))
	b.rep.set(scenarioIdle, m("RSS"), "MB", "opm", mb(u.after.RSS))
	return nil
}

// freePort returns a TCP port of the loopback that nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type idleUsage struct{ before, after proc.Usage }

func measureIdle(ctx context.Context, b *bench, t tool, n int, window, settle time.Duration) (u idleUsage, err error) {
	err = b.withSandbox(t, func(sb *sandbox) error {
		if err := startApps(ctx, t, sb, n); err != nil {
			return err
		}
		pid, err := daemonPID(t, sb)
		if err != nil {
			return err
		}
		if u, err = measureWindow(ctx, pid, settle, window); err != nil {
			return err
		}
		return checkOnce(sb, n)
	})
	return u, err
}

// measureWindow leaves the daemon pid alone for settle, then reads its
// usage before and after window.
func measureWindow(ctx context.Context, pid int, settle, window time.Duration) (idleUsage, error) {
	if err := pause(ctx, settle); err != nil {
		return idleUsage{}, err
	}
	return usageDuring(pid, func() error { return pause(ctx, window) })
}

// usageDuring reads the usage of the daemon pid before and after during
// runs; the daemon must not be replaced meanwhile.
func usageDuring(pid int, during func() error) (u idleUsage, err error) {
	if u.before, err = proc.ReadUsage(pid); err != nil {
		return u, err
	}
	if err := during(); err != nil {
		return u, err
	}
	if u.after, err = proc.ReadUsage(pid); err != nil {
		return u, fmt.Errorf("daemon %d during the window: %w", pid, err)
	}
	if u.after.Start != u.before.Start {
		return u, fmt.Errorf("daemon %d was replaced during the window", pid)
	}
	return u, nil
}
