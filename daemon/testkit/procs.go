package testkit

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"opm/daemon/proc"
)

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool { return proc.Alive(pid) }

// Marked lists the live processes, other than this one, whose initial
// environment holds kv ("K=V"), such as a test's NewMark.
func Marked(kv string) []int {
	return scan(func(pid int) bool { return pid != os.Getpid() && proc.HasEnv(pid, kv) })
}

// WithArg lists the live processes that have arg as one of their
// arguments: an argv marker tells apart processes that share an
// environment.
func WithArg(arg string) []int {
	return scan(func(pid int) bool {
		argv, err := proc.Argv(pid)
		return err == nil && slices.Contains(argv, arg)
	})
}

// scan lists the live processes for which match holds.
func scan(match func(pid int) bool) []int {
	pids, _ := proc.PIDs()
	var out []int
	for _, pid := range pids {
		if match(pid) && proc.Alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// Cmdline is the argv of pid, joined by spaces, for messages.
func Cmdline(pid int) string {
	argv, _ := proc.Argv(pid)
	return strings.Join(argv, " ")
}

// FDs is the number of descriptors pid has open.
func FDs(pid int) (int, error) {
	ents, err := os.ReadDir(fdDir(pid))
	return len(ents), err
}

// FDTargets is what each of pid's open descriptors names ("socket:[12]",
// a path), by descriptor number.
func FDTargets(pid int) map[string]string {
	ents, _ := os.ReadDir(fdDir(pid))
	out := make(map[string]string, len(ents))
	for _, e := range ents {
		l, err := os.Readlink(fdDir(pid) + "/" + e.Name())
		if err == nil {
			out[e.Name()] = l
		}
	}
	return out
}

// Sockets is the number of sockets pid has open.
func Sockets(pid int) int {
	n := 0
	for _, what := range FDTargets(pid) {
		if strings.HasPrefix(what, "socket:") {
			n++
		}
	}
	return n
}

func fdDir(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/fd" }

// WaitLogPID waits until the log file at path holds count lines that
// start with prefix — a child mode's "grandchild <pid>", "armed <pid>" —
// and returns the pid that ends the last of them.
func WaitLogPID(t testing.TB, path, prefix string, count int) int {
	t.Helper()
	pid := 0
	WaitFor(t, strconv.Itoa(count)+" lines "+strconv.Quote(prefix)+" in "+path, 10*time.Second, func() bool {
		data, _ := os.ReadFile(path)
		seen := 0
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				seen++
				pid, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		return seen >= count && pid > 0
	})
	return pid
}

// Settle reads a counter of another process (its write syscalls, its
// descriptors) until it has not moved for a tenth of a second — the work
// just asked of that process is done — and returns it. It fails the test
// when the counter keeps moving for 10 s.
func Settle(t testing.TB, what string, read func() (int64, error)) int64 {
	t.Helper()
	const still = 100 * time.Millisecond
	last, err := read()
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	WaitFor(t, what+" to settle", 10*time.Second, func() bool {
		cur, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if cur != last {
			last, since = cur, time.Now()
		}
		return time.Since(since) >= still
	})
	return last
}
