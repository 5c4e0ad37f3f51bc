package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procStat is the part of /proc/<pid>/stat the harness uses.
type procStat struct {
	State byte
	PPID  int
	PGID  int
	// Utime and Stime are in clock ticks (USER_HZ, 100 on Linux).
	Utime, Stime uint64
	// Start is the start time in clock ticks since boot.
	Start uint64
}

// clockTicks is USER_HZ; Linux fixes it at 100 for /proc.
const clockTicks = 100

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// parseStat decodes /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, fmt.Errorf("parse stat: no command field")
	}
	f := strings.Fields(string(b[i+2:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("parse stat: %d fields", len(f)+2)
	}
	num := func(n int) uint64 {
		v, _ := strconv.ParseUint(f[n-3], 10, 64)
		return v
	}
	return procStat{
		State: f[0][0],
		PPID:  int(num(4)),
		PGID:  int(num(5)),
		Utime: num(14),
		Stime: num(15),
		Start: num(22),
	}, nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

// readArgv returns the argument vector of pid (nil for kernel threads).
func readArgv(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, err
	}
	return splitNul(b), nil
}

func splitNul(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// hasEnv reports whether pid's initial environment holds kv ("K=V").
func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	for _, e := range bytes.Split(b, []byte{0}) {
		if string(e) == kv {
			return true
		}
	}
	return false
}

// pids lists the numeric entries of /proc.
func pids() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(names))
	for _, n := range names {
		if p, err := strconv.Atoi(n); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// procUsage is a snapshot of a process's resource counters.
type procUsage struct {
	// RSS is VmRSS in bytes: RSSAnon (private memory) plus RSSFile
	// (pages of the executable and libraries, shared with the page cache).
	RSS, RSSAnon, RSSFile uint64
	// CPUTicks is utime+stime of all threads, live and dead.
	CPUTicks uint64
	// SchedNs is the on-CPU time of the live threads from schedstat, in ns
	// (finer than CPUTicks; misses threads that exited).
	SchedNs uint64
	// CtxSwitches sums voluntary and involuntary context switches over the
	// live threads: each one is a wake-up or a preemption.
	Voluntary, Involuntary uint64
	// From /proc/<pid>/io.
	Syscw, Wchar, WriteBytes uint64
	Threads                  int
	// Start identifies the process (start time in clock ticks).
	Start uint64
}

func readUsage(pid int) (procUsage, error) {
	var u procUsage
	st, err := readStat(pid)
	if err != nil {
		return u, err
	}
	u.CPUTicks, u.Start = st.Utime+st.Stime, st.Start
	status, err := readKV(fmt.Sprintf("/proc/%d/status", pid), ":")
	if err != nil {
		return u, err
	}
	u.RSS, u.RSSAnon, u.RSSFile = parseKB(status["VmRSS"]), parseKB(status["RssAnon"]), parseKB(status["RssFile"])
	io, err := readKV(fmt.Sprintf("/proc/%d/io", pid), ":")
	if err != nil {
		return u, fmt.Errorf("read io counters (needs same uid or root): %w", err)
	}
	u.Syscw = parseU(io["syscw"])
	u.Wchar = parseU(io["wchar"])
	u.WriteBytes = parseU(io["write_bytes"])
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, t := range tasks {
		ts, err := readKV(t+"/status", ":")
		if err != nil {
			continue // thread exited
		}
		u.Threads++
		u.Voluntary += parseU(ts["voluntary_ctxt_switches"])
		u.Involuntary += parseU(ts["nonvoluntary_ctxt_switches"])
		if b, err := os.ReadFile(t + "/schedstat"); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				u.SchedNs += parseU(f[0])
			}
		}
	}
	return u, nil
}

// readKV reads a "key<sep> value" file such as /proc/<pid>/status.
func readKV(path, sep string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m, sc.Err()
}

func parseU(s string) uint64 {
	v, _ := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	return v
}

// parseKB parses "1234 kB" into bytes.
func parseKB(s string) uint64 {
	return parseU(strings.TrimSuffix(s, " kB")) * 1024
}
