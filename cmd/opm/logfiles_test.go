package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/logs"
	"opm/daemon/testkit"
)

// chatterEnv is the environment flags of an app in mode chatter.
func chatterEnv(lines, size int, every string, toErr bool) []string {
	f := []string{
		"--env", fmt.Sprintf("%s=%d", testkit.ChatterLinesEnv, lines),
		"--env", fmt.Sprintf("%s=%d", testkit.ChatterSizeEnv, size),
	}
	if every != "" {
		f = append(f, "--env", testkit.ChatterEveryEnv+"="+every)
	}
	if toErr {
		f = append(f, "--env", testkit.ChatterErrEnv+"=1")
	}
	return f
}

// logLines reads a log file and its rotated files, oldest first, gzipped
// ones too, and returns their lines and how many files there were.
func logLines(t *testing.T, path string) (lines []string, files int) {
	t.Helper()
	backups, err := api.Backups(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(backups, path) {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(p, api.GzipSuffix) {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			r = zr
		}
		data, err := io.ReadAll(r)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		files++
		for l := range strings.Lines(string(data)) {
			lines = append(lines, strings.TrimSuffix(l, "\n"))
		}
	}
	return lines, files
}

// lineNumbers returns the numbers of chatter's "line N" lines in order,
// after an optional timestamp prefix.
var lineRE = regexp.MustCompile(`(?:^|: )line (\d+) x*$`)

func lineNumbers(t *testing.T, lines []string) []int {
	t.Helper()
	var ns []int
	for _, l := range lines {
		if m := lineRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			ns = append(ns, n)
		}
	}
	return ns
}

// checkSequence fails unless ns holds every number of want exactly once,
// in order.
func checkSequence(t *testing.T, what string, ns, want []int) {
	t.Helper()
	if len(ns) != len(want) {
		t.Fatalf("%s: %d lines, want %d (first %v, last %v)", what, len(ns), len(want), head(ns), tail(ns))
	}
	for i := range ns {
		if ns[i] != want[i] {
			t.Fatalf("%s: line %d is number %d, want %d", what, i, ns[i], want[i])
		}
	}
}

func head(ns []int) []int { return ns[:min(5, len(ns))] }
func tail(ns []int) []int { return ns[max(0, len(ns)-5):] }

func span(from, to, step int) []int {
	var out []int
	for n := from; n <= to; n += step {
		out = append(out, n)
	}
	return out
}

// waitLogHas waits until the log file at path holds a line containing s.
func waitLogHas(t *testing.T, path, s string) {
	t.Helper()
	testkit.WaitFor(t, fmt.Sprintf("%q in %s", s, path), 20*time.Second, func() bool {
		data, _ := os.ReadFile(path)
		return strings.Contains(string(data), s)
	})
}

// A log rotates at its size, keeps its newest files and drops older ones:
// every file within the size, the kept ones the last lines written, with
// no gap; compressed when asked.
func TestLogRotationKeepsNewestFiles(t *testing.T) {
	t.Parallel()
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			const lines, size, max, keep = 3000, 100, 16 << 10, 3
			flags := append(chatterEnv(lines, size, "", false), "--log-max-size", "16K", "--log-max-files", strconv.Itoa(keep))
			if compress {
				flags = append(flags, "--log-compress")
			}
			e.startApp("web", "chatter", flags...)
			out, _ := logs.Paths(e.home, "web")
			waitLogHas(t, out, fmt.Sprintf("chatter done %d", lines))
			// The mill compresses and prunes after the last rotation.
			var backups []string
			testkit.WaitFor(t, "the rotated files to be pruned and compressed", 20*time.Second, func() bool {
				backups, _ = api.Backups(out)
				if len(backups) != keep {
					return false
				}
				for _, b := range backups {
					if strings.HasSuffix(b, api.GzipSuffix) != compress {
						return false
					}
				}
				return true
			})
			for _, p := range append(backups, out) {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if !compress && st.Size() > max {
					t.Errorf("%s is %d bytes, over the 16K limit", p, st.Size())
				}
			}
			got, files := logLines(t, out)
			ns := lineNumbers(t, got)
			if files != keep+1 || len(ns) == 0 {
				t.Fatalf("%d files with %d lines", files, len(ns))
			}
			// The newest lines, without a gap, up to the last.
			checkSequence(t, "kept lines", ns, span(ns[0], lines, 1))
			if ns[0] == 1 {
				t.Errorf("nothing was dropped: retention did not prune")
			}
			if st := e.app("web").Logs; st.Rotations < keep {
				t.Errorf("info reports %d rotations, want at least %d", st.Rotations, keep)
			}
		})
	}
}

// daemon.log rotates too, with the config's limits.
func TestDaemonLogRotates(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, fastConfig+"log_max_size = \"1K\"\nlog_max_files = 2\n")
	e.startApp("web", "block")
	path := filepath.Join(e.home, api.DaemonLogName)
	for range 8 {
		e.ok("restart", "web")
	}
	testkit.WaitFor(t, "two rotated daemon logs", 10*time.Second, func() bool {
		b, _ := api.Backups(path)
		return len(b) == 2
	})
	backups, _ := api.Backups(path)
	for _, p := range append(backups, path) {
		if st, err := os.Stat(p); err != nil || st.Size() > 1024 {
			t.Errorf("%s: %v, size over 1K", p, err)
		}
	}
	lines, _ := logLines(t, path)
	if n := strings.Count(strings.Join(lines, "\n"), "event=started"); n == 0 {
		t.Errorf("no start in the kept daemon logs:\n%s", strings.Join(lines, "\n"))
	}
}

// Under load, with files rotating fast, every line reaches the files
// exactly once and in order, stdout and stderr alike.
func TestNoLineLostAcrossRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const lines = 20000
	names := []string{"a", "b", "c"}
	for _, n := range names {
		e.startApp(n, "chatter", append(chatterEnv(lines, 100, "", true), "--log-max-size", "64K", "--log-max-files", "1000")...)
	}
	for _, n := range names {
		out, errLog := logs.Paths(e.home, n)
		waitLogHas(t, out, fmt.Sprintf("chatter done %d", lines))
		outLines, files := logLines(t, out)
		if files < 10 {
			t.Errorf("%s: %d files: the test did not rotate much", n, files)
		}
		checkSequence(t, n+" stdout", lineNumbers(t, outLines), span(1, lines, 2))
		testkit.WaitFor(t, "the last err line", 10*time.Second, func() bool {
			l, _ := logLines(t, errLog)
			return len(l) > 0 && strings.HasPrefix(l[len(l)-1], fmt.Sprintf("line %d ", lines))
		})
		errLines, _ := logLines(t, errLog)
		checkSequence(t, n+" stderr", lineNumbers(t, errLines), span(2, lines, 2))
		if st := e.app(n).Logs; st.LinesLost != 0 {
			t.Errorf("%s: %d lines lost: %s", n, st.LinesLost, st.LastError)
		}
	}
}

// --time stamps each line in PM2's default format; --log-date-format in
// the format given, with the time the line was logged.
func TestLogTimestamps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := time.Now().Add(-time.Second)
	e.startApp("plain", "chatter", append(chatterEnv(3, 0, "", false), "--time")...)
	e.startApp("fmt", "chatter", append(chatterEnv(3, 0, "", false), "--log-date-format", "YYYY-MM-DD HH:mm:ss.SSS Z")...)
	for _, c := range []struct{ app, layout string }{
		{"plain", "2006-01-02T15:04:05"},
		{"fmt", "2006-01-02 15:04:05.000 -07:00"},
	} {
		out, _ := logs.Paths(e.home, c.app)
		waitLogHas(t, out, "chatter done 3")
		lines, _ := logLines(t, out)
		if len(lines) != 4 {
			t.Fatalf("%s: %q", c.app, lines)
		}
		for _, l := range lines {
			stamp, msg, ok := strings.Cut(l, api.TimestampSep)
			if !ok {
				t.Fatalf("%s: line without timestamp: %q", c.app, l)
			}
			at, err := time.ParseInLocation(c.layout, stamp, time.Local)
			if err != nil {
				t.Fatalf("%s: %q: %v", c.app, l, err)
			}
			if at.Before(before.Truncate(time.Second)) || at.After(time.Now().Add(time.Second)) {
				t.Errorf("%s: timestamp %s is not the time of logging", c.app, at)
			}
			if !strings.HasPrefix(msg, "line ") && !strings.HasPrefix(msg, "chatter done") {
				t.Errorf("%s: message %q", c.app, msg)
			}
		}
	}
	if r := e.run("start", os.Args[0], "--name", "bad", "--log-date-format", "YYYY-Q"); r.code != 2 || !strings.Contains(r.stderr, "log-date-format") {
		t.Errorf("a format Go cannot write: %v", r)
	}
}

// -o, -e and -l put the logs where asked (relative paths from where opm
// runs), /dev/null discards a stream, and a spool is made only for what
// is kept.
func TestCustomLogPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	r := e.runIn(dir, nil, append([]string{"start", os.Args[0], "--name", "web", "--env", testkit.ChildEnv + "=chatter",
		"-o", "out.log", "-e", filepath.Join(dir, "err.log"), "-l", "all.log"}, chatterEnv(10, 0, "", true)...)...)
	if r.code != 0 {
		t.Fatal(r)
	}
	waitLogHas(t, filepath.Join(dir, "out.log"), "chatter done 10")
	testkit.WaitFor(t, "all 11 lines in the combined log", 10*time.Second, func() bool {
		l, _ := logLines(t, filepath.Join(dir, "all.log"))
		return len(l) == 11
	})
	outLines, _ := logLines(t, filepath.Join(dir, "out.log"))
	errLines, _ := logLines(t, filepath.Join(dir, "err.log"))
	checkSequence(t, "out", lineNumbers(t, outLines), span(1, 10, 2))
	checkSequence(t, "err", lineNumbers(t, errLines), span(2, 10, 2))
	a := e.app("web")
	if a.Spec.OutLog != filepath.Join(dir, "out.log") || a.Spec.CombinedLog != filepath.Join(dir, "all.log") {
		t.Errorf("spec logs: %q %q %q", a.Spec.OutLog, a.Spec.ErrLog, a.Spec.CombinedLog)
	}
	if _, err := os.Stat(filepath.Join(e.home, api.LogsDir, "web-out.log")); !os.IsNotExist(err) {
		t.Errorf("the default out log was made too: %v", err)
	}

	e.startApp("quiet", "chatter", append(chatterEnv(10, 0, "", true), "-o", api.DevNull)...)
	out, errLog := logs.Paths(e.home, "quiet")
	waitLogHas(t, errLog, "line 10 ")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("stdout to /dev/null made %s: %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(e.runtime, logs.SpoolDir, "quiet.out")); !os.IsNotExist(err) {
		t.Errorf("stdout to /dev/null has a spool: %v", err)
	}
	if r := e.run("start", os.Args[0], "--name", "x", "-o", filepath.Join(dir, "missing", "out.log")); r.code == 0 || !strings.Contains(r.stderr, "directory does not exist") {
		t.Errorf("a log in a directory that does not exist: %v", r)
	}
}

// An app that logs while its daemon is SIGKILLed runs on, unblocked and
// without a write error; the next daemon adopts it and its logs get
// every line, those written while no daemon ran included.
func TestAppLogsThroughDaemonKill(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	web := e.startApp("web", "chatter", chatterEnv(0, 200, "200us", false)...)
	out, errLog := logs.Paths(e.home, "web")
	waitLogHas(t, out, "line 100 ")
	spool := filepath.Join(e.runtime, logs.SpoolDir, "web.out")
	e.killDaemon()
	size := func() int64 {
		st, err := os.Stat(spool)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	atKill := size()
	// More than a pipe holds: a pipe would have blocked the app by now.
	testkit.WaitFor(t, "the app to write 256K with no daemon", 30*time.Second, func() bool { return size() > atKill+256<<10 })
	if !testkit.Alive(web.PID) {
		t.Fatal("the app died with its daemon")
	}
	e.ok("list") // starts a daemon, which adopts the app
	a := e.app("web")
	if a.PID != web.PID || a.Status != api.StatusOnline {
		t.Fatalf("after the kill: %+v, want pid %d online", a, web.PID)
	}
	written := size()
	testkit.WaitFor(t, "the lines written with no daemon in the log", 20*time.Second, func() bool {
		st, err := os.Stat(out)
		return err == nil && st.Size() >= written
	})
	e.ok("stop", "web")
	waitLogHas(t, out, "chatter stopped after ")
	lines, _ := logLines(t, out)
	last, _ := strconv.Atoi(strings.Fields(strings.TrimPrefix(lines[len(lines)-1], "chatter stopped after "))[0])
	ns := lineNumbers(t, lines)
	// Every line, in order. A daemon killed between writing a read's
	// lines and freeing them in the spool writes them again: repeats
	// are allowed, no more than one read's worth (256K of 200-byte
	// lines).
	seen, next, repeats := map[int]bool{}, 1, 0
	for _, n := range ns {
		if seen[n] {
			repeats++
			continue
		}
		if n != next {
			t.Fatalf("line %d after line %d: lines lost", n, next-1)
		}
		seen[n] = true
		next++
	}
	if next-1 != last || repeats > 1320 {
		t.Errorf("%d lines, app wrote %d; %d repeated", next-1, last, repeats)
	}
	if data, _ := os.ReadFile(errLog); strings.Contains(string(data), "failed") {
		t.Errorf("the app saw a write fail: %s", data)
	}
}

// A full disk costs lines, never the app or the daemon: the lines that
// cannot be written are counted in info and said in daemon.log, and
// logging goes on once there is room again.
func TestLogDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs as the logs directory needs root")
	}
	e := newEnv(t)
	logsDir := filepath.Join(e.home, api.LogsDir)
	if err := os.MkdirAll(logsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	testkit.MountTmpfs(t, logsDir, "64k")
	t.Cleanup(func() { e.run("daemon", "stop") })
	web := e.startApp("web", "chatter", chatterEnv(0, 500, "200us", false)...)
	a := e.waitApp("web", "lines lost", 30*time.Second, func(a api.App) bool { return a.Logs.LinesLost > 0 })
	if !strings.Contains(a.Logs.LastError, "no space left") {
		t.Errorf("last error %q, want the disk full", a.Logs.LastError)
	}
	if !strings.Contains(e.daemonLog(), "log write failed") {
		t.Errorf("daemon.log does not say lines are dropped")
	}
	if info := e.ok("info", "web").stdout; !strings.Contains(info, "lines lost") {
		t.Errorf("info does not show the lost lines:\n%s", info)
	}
	if a.PID != web.PID || !testkit.Alive(web.PID) {
		t.Fatalf("the app did not survive the full disk: %+v", a)
	}
	e.ok("flush", "web", "--all")
	out, _ := logs.Paths(e.home, "web")
	testkit.WaitFor(t, "lines in the log again after the flush", 20*time.Second, func() bool {
		st, err := os.Stat(out)
		return err == nil && st.Size() > 0
	})
	testkit.WaitFor(t, "daemon.log to say logging works again", 20*time.Second, func() bool {
		return strings.Contains(e.daemonLog(), "log writes work again")
	})
	if err := syscall.Kill(web.PID, 0); err != nil {
		t.Errorf("the app is gone: %v", err)
	}
	// A line the full disk cut is taken back: the file holds whole lines.
	lines, _ := logLines(t, out)
	for _, l := range lines {
		if !lineRE.MatchString(l) || len(l) != len(lines[0]) && !strings.Contains(l, "line 1 ") {
			t.Fatalf("a cut line in the log: %q", l)
		}
	}
}

// `opm logs --follow` reads a log to its end when it is rotated, then
// the new file: every line printed once, in order, across many
// rotations.
func TestLogsFollowAcrossRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startApp("web", "block") // the app exists before the follower
	cmd := exec.Command(os.Args[0], "logs", "web", "--follow", "--raw", "--out", "--lines", "0")
	cmd.Env = e.environ
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	got := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.HasPrefix(sc.Text(), "chatter done ") {
				break
			}
		}
		got <- lines
	}()
	const lines = 4000
	testkit.WaitFor(t, "the follower to watch", 10*time.Second, func() bool {
		return followerWatching(cmd.Process.Pid)
	})
	e.ok(append([]string{"start", "web", "--env", testkit.ChildEnv + "=chatter", "--log-max-size", "16K", "--log-max-files", "1000"}, chatterEnv(lines, 100, "", false)...)...)
	var printed []string
	select {
	case printed = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the follower did not print the last line")
	}
	out, _ := logs.Paths(e.home, "web")
	if b, _ := api.Backups(out); len(b) < 10 {
		t.Errorf("%d rotations: the test did not rotate much", len(b))
	}
	checkSequence(t, "followed lines", lineNumbers(t, printed), span(1, lines, 1))
}

// followerWatching reports whether the process pid has an inotify
// descriptor open: `opm logs --follow` is watching.
func followerWatching(pid int) bool {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, e := range entries {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); l == "anon_inode:inotify" {
			return true
		}
	}
	return false
}

// `opm flush --all` empties the logs and removes their rotated files.
func TestFlushAllRemovesRotated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startApp("web", "chatter", append(chatterEnv(2000, 100, "", false), "--log-max-size", "16K")...)
	out, _ := logs.Paths(e.home, "web")
	waitLogHas(t, out, "chatter done 2000")
	if b, _ := api.Backups(out); len(b) == 0 {
		t.Fatal("no rotated file to remove")
	}
	e.ok("flush", "web")
	if b, _ := api.Backups(out); len(b) == 0 {
		t.Error("flush without --all removed the rotated files")
	}
	r := e.ok("flush", "web", "--all")
	if !strings.Contains(r.stdout, "rotated") {
		t.Errorf("flush --all does not say it removed rotated files: %q", r.stdout)
	}
	if b, _ := api.Backups(out); len(b) != 0 {
		t.Errorf("rotated files left: %q", b)
	}
	if st, err := os.Stat(out); err != nil || st.Size() != 0 {
		t.Errorf("%s after flush: %v, %v", out, st, err)
	}
}
