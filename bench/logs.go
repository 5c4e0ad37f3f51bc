package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"opm/daemon/proc"
)

// Scenario logs: N apps each write numbered 100-byte lines to stdout as
// fast as they can for a while (the harness re-executed as logWriterArg).
// The clock runs from the moment they are let go at once (a FIFO they
// all block on opening) until every line each reports having written is
// in its log files, rotated ones included; the lines are then checked one
// by one (lost, duplicated, malformed). The cost is the CPU, wake-ups,
// RSS and threads of whatever carries the lines to the files: opm's
// daemon, PM2's God daemon (and its pm2-logrotate module), or two
// prototype relays; the floor is the same apps writing straight to their
// files.

const (
	// logsQuiet: once the writers are done, files that stay unchanged
	// this long are final even when lines are missing.
	logsQuiet = 3 * time.Second
	// logsPoll is how often the logs directory is looked at.
	logsPoll = 50 * time.Millisecond
	// logsDirName is the logs directory inside OPM_HOME and PM2_HOME.
	logsDirName = "logs"
)

// logsScenario names the rows: "logs 10 apps × 10s".
func logsScenario(p params) string { return fmt.Sprintf("logs %d apps × %s", p.LogsN, p.LogsTime) }

func runLogs(ctx context.Context, b *bench) error {
	var errs []error
	scen := logsScenario(b.p)
	for _, s := range []struct {
		label  string
		wiring logsWiring
	}{
		{"floor (direct file)", logsDirect},
		{"prototype pipe relay", logsPipeRelay},
		{"prototype per-app relay", logsPerAppRelay},
	} {
		logf("logs: %s", s.label)
		r, err := measureLogsDirect(ctx, b, s.wiring)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.label, err))
			continue
		}
		m := func(metric string) string { return s.label + ": " + metric }
		b.rep.set(scen, m("throughput"), "MB/s", "opm", r.mbps()).noRatio = true
		if s.wiring == logsDirect {
			b.rep.set(scen, m("MB reaching the files"), "MB", "opm", mb(uint64(r.tally.Bytes)))
			b.rep.set(scen, m("writers' CPU"), "ms/MB", "opm", r.perMB(r.writerTicks*10))
		} else {
			b.rep.set(scen, m("relay CPU"), "ms/MB", "opm", r.perMB(r.cost.ticks()*10))
			b.rep.set(scen, m("relay peak RSS"), "MB", "opm", mb(r.cost.hwm))
			b.rep.set(scen, m("relay threads"), "count", "opm", float64(r.cost.threads))
			b.rep.set(scen, m("relay wake-ups"), "per MB", "opm", r.perMB(r.cost.wakeups()))
		}
		b.rep.set(scen, m("lines lost"), "lines", "opm", float64(r.tally.Lost))
		if r.note != "" {
			b.rep.notef("logs, %s: %s", s.label, r.note)
		}
	}
	for _, t := range b.tools() {
		logf("logs: %s", t.Name())
		var r logResult
		var err error
		if t.Name() == "opm" {
			r, err = measureLogsOPM(ctx, b)
		} else {
			r, err = measureLogsPM2(ctx, b)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Name(), err))
			continue
		}
		name := t.Name()
		b.rep.set(scen, "MB reaching the files", "MB", name, mb(uint64(r.tally.Bytes))).noRatio = true
		b.rep.set(scen, "time until every line is in the files", "s", name, r.elapsed.Seconds()).noRatio = true
		b.rep.set(scen, "throughput", "MB/s", name, r.mbps()).noRatio = true
		b.rep.set(scen, "daemon CPU", "ms/MB", name, r.perMB(r.cost.ticks()*10))
		b.rep.set(scen, "daemon peak RSS", "MB", name, mb(r.cost.hwm))
		b.rep.set(scen, "daemon RSS at end", "MB", name, mb(r.cost.rss))
		b.rep.set(scen, "daemon threads", "count", name, float64(r.cost.threads)).noRatio = true
		b.rep.set(scen, "daemon wake-ups", "per MB", name, r.perMB(r.cost.wakeups()))
		if r.module != nil {
			b.rep.set(scen, "pm2-logrotate CPU", "ms/MB", name, r.perMB(r.module.ticks()*10))
			b.rep.set(scen, "pm2-logrotate peak RSS", "MB", name, mb(r.module.hwm))
		}
		b.rep.set(scen, "writers' CPU", "ms/MB", name, r.perMB(r.writerTicks*10))
		b.rep.set(scen, "lines written", "lines", name, float64(r.written)).noRatio = true
		b.rep.set(scen, "lines lost", "lines", name, float64(r.tally.Lost)).target("0", atMost(0)).noRatio = true
		b.rep.set(scen, "lines duplicated", "lines", name, float64(r.tally.Duplicates)).target("0", atMost(0)).noRatio = true
		b.rep.set(scen, "malformed lines", "lines", name, float64(r.tally.Malformed)).target("0", atMost(0)).noRatio = true
		b.rep.set(scen, "rotated files", "files", name, float64(r.tally.Rotated)).noRatio = true
		if r.note != "" {
			b.rep.notef("logs, %s: %s", name, r.note)
		}
	}
	b.rep.notef("logs: %d apps write %d-byte lines, %d per write(2), for %s each; rotation at %s (log_max_files %d, no compression; pm2-logrotate: max_size %s, retain %d, workerInterval 1 s); CPU is utime+stime in 10 ms ticks, per MiB that reached the files",
		b.p.LogsN, logLineLen, logBatchLines, b.p.LogsTime, b.p.LogsMaxSize, b.p.LogsMaxFiles, b.p.LogsMaxSize, b.p.LogsMaxFiles)
	return errors.Join(errs...)
}

// logResult is one measured way of getting the writers' lines to files.
type logResult struct {
	// written is the lines the writers report; elapsed the time from
	// their release until every line was in the files (or, when some
	// never arrived, until the files last changed).
	written     int64
	elapsed     time.Duration
	complete    bool
	tally       logTally
	cost        usageSum
	module      *usageSum // pm2-logrotate
	writerTicks uint64
	note        string
}

func (r logResult) mbps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return mb(uint64(r.tally.Bytes)) / r.elapsed.Seconds()
}

// perMB divides v by the MiB that reached the files.
func (r logResult) perMB(v uint64) float64 {
	m := mb(uint64(r.tally.Bytes))
	if m == 0 {
		return 0
	}
	return float64(v) / m
}

// usageSum is the cost of a set of processes over the run: CPU ticks and
// voluntary context switches between two readings, and at the end the
// summed peak RSS (VmHWM), RSS and threads.
type usageSum struct {
	pids           []int
	before, after  []proc.Usage
	hwm, rss       uint64
	threads        int
	ticks0, ticks1 uint64
	vol0, vol1     uint64
}

func (u *usageSum) ticks() uint64   { return sub(u.ticks1, u.ticks0) }
func (u *usageSum) wakeups() uint64 { return sub(u.vol1, u.vol0) }

func (u *usageSum) read(after bool) error {
	for i, p := range u.pids {
		x, err := proc.ReadUsage(p)
		if err != nil {
			return fmt.Errorf("process %d: %w", p, err)
		}
		if !after {
			u.before = append(u.before, x)
			u.ticks0 += x.CPUTicks
			u.vol0 += x.Voluntary
			continue
		}
		if x.Start != u.before[i].Start {
			return fmt.Errorf("process %d was replaced during the run", p)
		}
		u.after = append(u.after, x)
		u.ticks1 += x.CPUTicks
		u.vol1 += x.Voluntary
		u.rss += x.RSS
		u.threads += x.Threads
		h, err := readHWM(p)
		if err != nil {
			return err
		}
		u.hwm += h
	}
	return nil
}

// readHWM reads a process's peak RSS (VmHWM) in bytes.
func readHWM(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return parseKBValue(v), nil
		}
	}
	return 0, fmt.Errorf("process %d: no VmHWM", pid)
}

// parseKBValue parses "  1234 kB" into bytes.
func parseKBValue(s string) uint64 {
	v, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "kB")), 10, 64)
	return v * 1024
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	return strings.Join(slices.DeleteFunc(notes, func(s string) bool { return s == "" }), "; ")
}

// logApps are the writer apps of one run: their names, markers, the
// count file each writes, and the gate they wait at.
type logApps struct {
	names, markers, counts []string
	gate                   string
	dur                    time.Duration
}

// newLogApps prepares n writers of sb for dur: the gate FIFO in scratch.
func newLogApps(sb *sandbox, n int, dur time.Duration) (*logApps, error) {
	a := &logApps{gate: filepath.Join(sb.scratch, "gate"), dur: dur}
	if err := unix.Mkfifo(a.gate, 0o600); err != nil {
		return nil, fmt.Errorf("mkfifo: %w", err)
	}
	for i := range n {
		a.names = append(a.names, fmt.Sprintf("log%02d", i))
		a.markers = append(a.markers, fmt.Sprintf("L%s-%02d", sb.w.Tag, i))
		a.counts = append(a.counts, filepath.Join(sb.scratch, fmt.Sprintf("count%02d", i)))
	}
	return a, nil
}

// argv is the writer command of app i after the program.
func (a *logApps) argv(i int) []string {
	return []string{logWriterArg, a.markers[i], a.dur.String(), a.gate, a.counts[i]}
}

// measure waits until every writer is at the gate, reads the cost
// processes' counters, lets the writers go and polls dir until every line
// is there; then reads the counters again and checks every line.
func (a *logApps) measure(ctx context.Context, p params, dir string, cost, module *usageSum, writers func() ([]int, error)) (r logResult, err error) {
	n := len(a.names)
	err = poll(ctx, onlineTimeout(n), 20*time.Millisecond, func() (bool, error) {
		for _, c := range a.counts {
			if _, err := os.Stat(c + ".ready"); err != nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return r, fmt.Errorf("wait for %d writers at the gate: %w", n, err)
	}
	for _, u := range []*usageSum{cost, module} {
		if u != nil {
			if err := u.read(false); err != nil {
				return r, err
			}
		}
	}
	// Open the gate: every writer blocked opening it for reading goes.
	var gate int
	err = poll(ctx, 10*time.Second, time.Millisecond, func() (bool, error) {
		var err error
		gate, err = unix.Open(a.gate, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == unix.ENXIO { // no reader yet
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return r, fmt.Errorf("open the gate: %w", err)
	}
	start := time.Now()
	defer unix.Close(gate)

	counts := make([]logCount, n)
	err = poll(ctx, a.dur+onlineTimeout(n), 20*time.Millisecond, func() (bool, error) {
		for i, c := range a.counts {
			b, err := os.ReadFile(c)
			if errors.Is(err, os.ErrNotExist) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			if counts[i], err = parseLogCount(b); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return r, fmt.Errorf("wait for the writers' counts: %w", err)
	}
	writersDone := time.Now()
	var partial int64
	for _, c := range counts {
		r.written += c.Lines
		partial += c.Partial
	}
	if partial > 0 {
		r.note = fmt.Sprintf("writers failed mid-line: %d bytes of unfinished lines", partial)
	}

	// Poll until every line is in the files, or they stop changing.
	var lastSig, tallied string
	lastChange := start
	err = poll(ctx, p.LogsDrain, logsPoll, func() (bool, error) {
		now := time.Now()
		s, err := snapshotLogs(dir, a.names)
		if err != nil {
			return false, err
		}
		if s.sig != lastSig {
			lastSig, lastChange = s.sig, now
		}
		all := true
		for i, b := range s.bytes {
			all = all && b >= counts[i].Lines*logLineLen
		}
		if all && s.sig != tallied {
			tallied = s.sig
			t, err := a.tally(dir, counts)
			if err == nil && t.Lost == 0 {
				r.elapsed, r.complete = now.Sub(start), true
				return true, nil
			}
		}
		if now.Sub(lastChange) >= logsQuiet && now.Sub(writersDone) >= logsQuiet {
			r.elapsed = lastChange.Sub(start)
			return true, nil
		}
		return false, nil
	})
	if errors.Is(err, errDeadline) {
		r.elapsed = lastChange.Sub(start)
		err = fmt.Errorf("files still changing %s after the writers stopped", p.LogsDrain)
	}
	if err != nil {
		return r, err
	}
	for _, u := range []*usageSum{cost, module} {
		if u != nil {
			if err := u.read(true); err != nil {
				return r, err
			}
		}
	}
	r.cost, r.module = *cost, module
	pids, err := writers()
	if err != nil {
		return r, err
	}
	for _, pid := range pids {
		st, err := proc.ReadStat(pid)
		if err != nil {
			return r, fmt.Errorf("writer %d: %w", pid, err)
		}
		r.writerTicks += st.Ticks()
	}
	if r.tally, err = a.stableTally(ctx, dir, counts); err != nil {
		return r, err
	}
	if !r.complete {
		r.note = joinNotes(r.note, fmt.Sprintf("%d of %d lines never reached the files; time is until the files last changed", r.tally.Lost, r.written))
	}
	return r, nil
}

// tally checks every app's files.
func (a *logApps) tally(dir string, counts []logCount) (logTally, error) {
	var sum logTally
	for i, n := range a.names {
		t, err := tallyAppLogs(dir, n, a.markers[i], counts[i].Lines)
		if err != nil {
			return sum, err
		}
		sum.add(t)
	}
	return sum, nil
}

// stableTally tallies until the files are the same before and after
// (a rotation may run meanwhile).
func (a *logApps) stableTally(ctx context.Context, dir string, counts []logCount) (t logTally, err error) {
	var last error
	err = poll(ctx, time.Minute, logsPoll, func() (bool, error) {
		s0, err := snapshotLogs(dir, a.names)
		if err != nil {
			return false, err
		}
		t, last = a.tally(dir, counts)
		s1, err := snapshotLogs(dir, a.names)
		return err == nil && last == nil && s0.sig == s1.sig, err
	})
	if err != nil {
		return t, fmt.Errorf("count the lines in the files: %w (%v)", err, last)
	}
	return t, nil
}

// How measureLogsDirect connects the writers to their files.
type logsWiring int

const (
	logsDirect      logsWiring = iota // stdout is the file: the floor
	logsPipeRelay                     // one relay process, a pipe per app
	logsPerAppRelay                   // a relay process per app, one pipe each
)

// measureLogsDirect runs the writers under the harness itself, in a bare
// sandbox, wired as w says.
func measureLogsDirect(ctx context.Context, b *bench, w logsWiring) (r logResult, err error) {
	self, err := os.Executable()
	if err != nil {
		return r, err
	}
	sb, err := newSandbox("OPM_HOME", "")
	if err != nil {
		return r, err
	}
	var cmds []*exec.Cmd
	defer func() {
		kerr := sb.killAll(10 * time.Second)
		for _, c := range cmds {
			c.Wait()
		}
		err = errors.Join(err, kerr, sb.remove())
	}()
	a, err := newLogApps(sb, b.p.LogsN, b.p.LogsTime)
	if err != nil {
		return r, err
	}
	dir := filepath.Join(sb.home, logsDirName)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return r, err
	}
	start := func(argv []string, stdout *os.File, extra []*os.File) (*exec.Cmd, error) {
		errf, err := os.Create(filepath.Join(sb.scratch, fmt.Sprintf("stderr%d", len(cmds))))
		if err != nil {
			return nil, err
		}
		defer errf.Close()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env, cmd.Dir = sb.env, sb.scratch
		cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = stdout, errf, extra
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		cmds = append(cmds, cmd)
		return cmd, nil
	}
	files := make([]string, len(a.names))
	for i, n := range a.names {
		files[i] = filepath.Join(dir, n+"-out.log")
	}
	// stdouts are the writers' standard outputs: the files themselves,
	// or the write ends of pipes whose read ends go to the relays.
	stdouts := make([]*os.File, len(a.names))
	var reads []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			if f != nil {
				f.Close()
			}
		}
	}
	defer func() { closeAll(stdouts); closeAll(reads) }()
	for i := range a.names {
		if w == logsDirect {
			if stdouts[i], err = os.OpenFile(files[i], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
				return r, err
			}
			continue
		}
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return r, fmt.Errorf("pipe: %w", err)
		}
		reads = append(reads, os.NewFile(uintptr(p[0]), "pipe-r"))
		stdouts[i] = os.NewFile(uintptr(p[1]), "pipe-w")
	}
	cost := &usageSum{}
	switch w {
	case logsPipeRelay:
		cmd, err := start(append([]string{self, logRelayArg, "poll"}, files...), nil, reads)
		if err != nil {
			return r, err
		}
		cost.pids = append(cost.pids, cmd.Process.Pid)
	case logsPerAppRelay:
		for i := range reads {
			cmd, err := start([]string{self, logRelayArg, "block", files[i]}, nil, reads[i:i+1])
			if err != nil {
				return r, err
			}
			cost.pids = append(cost.pids, cmd.Process.Pid)
		}
	}
	closeAll(reads)
	reads = nil
	var writers []int
	for i := range a.names {
		cmd, err := start(append([]string{self}, a.argv(i)...), stdouts[i], nil)
		if err != nil {
			return r, err
		}
		writers = append(writers, cmd.Process.Pid)
	}
	closeAll(stdouts)
	stdouts = nil
	return a.measure(ctx, b.p, dir, cost, nil, func() ([]int, error) { return writers, nil })
}

// opmLogConfig is added to the sandbox's config.toml: rotation at
// --logs-max-size, every rotated file kept, no compression.
const opmLogConfig = `log_max_size = %q
log_max_files = %d
log_compress = false
`

// measureLogsOPM runs the writers under opm: one `opm start` per app
// with --restart never (a writer stays alive once done).
func measureLogsOPM(ctx context.Context, b *bench) (r logResult, err error) {
	self, err := os.Executable()
	if err != nil {
		return r, err
	}
	o := b.opm
	err = b.withSandbox(o, func(sb *sandbox) error {
		note, err := configureOPMLogs(ctx, o, sb, b.p)
		if err != nil {
			return err
		}
		a, err := newLogApps(sb, b.p.LogsN, b.p.LogsTime)
		if err != nil {
			return err
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(o.jobs)
		for i, n := range a.names {
			g.Go(func() error {
				argv := append([]string{o.bin, "start", self, "--name", n, "--restart", "never", "--"}, a.argv(i)...)
				return sb.run(gctx, cmdTimeout, argv...).error()
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		daemon, err := daemonPID(o, sb)
		if err != nil {
			return err
		}
		r, err = a.measure(ctx, b.p, filepath.Join(sb.home, logsDirName), &usageSum{pids: []int{daemon}}, nil, listedPIDs(ctx, o, sb, a.names))
		r.note = joinNotes(r.note, note)
		return err
	})
	return r, err
}

// configureOPMLogs adds the log settings to config.toml and starts the
// daemon. An opm whose config does not know them yet (apps write straight
// to their files, without rotation) runs with the file as it was; note
// says so.
func configureOPMLogs(ctx context.Context, o *opmTool, sb *sandbox, p params) (note string, err error) {
	path := filepath.Join(sb.home, "config.toml")
	base, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	cfg := append(base, fmt.Sprintf(opmLogConfig, p.LogsMaxSize, p.LogsMaxFiles)...)
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return "", err
	}
	res := sb.run(ctx, cmdTimeout, o.bin, "daemon", "start")
	if res.Err == nil {
		return "", nil
	}
	if !strings.Contains(string(res.Stderr), `unknown key "log_`) {
		return "", res.error()
	}
	if err := os.WriteFile(path, base, 0o600); err != nil {
		return "", err
	}
	note = "this opm does not know log_max_size (config.toml): apps write straight to their files, without rotation"
	return note, sb.run(ctx, cmdTimeout, o.bin, "daemon", "start").error()
}

// listedPIDs returns a function listing the PIDs of apps names.
func listedPIDs(ctx context.Context, t tool, sb *sandbox, names []string) func() ([]int, error) {
	return func() ([]int, error) {
		apps, err := t.list(ctx, sb)
		if err != nil {
			return nil, err
		}
		pid := map[string]int{}
		for _, a := range apps {
			pid[a.Name] = a.PID
		}
		var out []int
		for _, n := range names {
			if pid[n] <= 0 {
				return nil, fmt.Errorf("%s: app %s has no process", t.Name(), n)
			}
			out = append(out, pid[n])
		}
		return out, nil
	}
}

// measureLogsPM2 runs the writers under PM2 from one ecosystem file,
// with pm2-logrotate installed in the sandbox when it can be.
func measureLogsPM2(ctx context.Context, b *bench) (r logResult, err error) {
	self, err := os.Executable()
	if err != nil {
		return r, err
	}
	p := b.pm2
	err = b.withSandbox(p, func(sb *sandbox) error {
		var module *usageSum
		note := "pm2-logrotate missing"
		if pid, err := p.installLogrotate(ctx, sb, b.p); err != nil {
			note += ": " + err.Error()
		} else {
			module, note = &usageSum{pids: []int{pid}}, ""
		}
		a, err := newLogApps(sb, b.p.LogsN, b.p.LogsTime)
		if err != nil {
			return err
		}
		var apps []pm2App
		for i, n := range a.names {
			apps = append(apps, pm2App{Name: n, Script: self, Args: a.argv(i), Interpreter: "none"})
		}
		if err := p.startApps(ctx, sb, "logs.json", apps); err != nil {
			return err
		}
		daemon, err := daemonPID(p, sb)
		if err != nil {
			return err
		}
		r, err = a.measure(ctx, b.p, filepath.Join(sb.home, logsDirName), &usageSum{pids: []int{daemon}}, module, listedPIDs(ctx, p, sb, a.names))
		r.note = joinNotes(r.note, note)
		return err
	})
	return r, err
}
