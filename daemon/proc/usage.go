package proc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Usage is a snapshot of one process's resource counters, as the
// benchmark reads them around a window.
type Usage struct {
	// RSS is VmRSS in bytes: RSSAnon (private memory) plus RSSFile
	// (pages of the executable and libraries, shared with the page cache).
	RSS, RSSAnon, RSSFile uint64
	// CPUTicks is utime+stime of all threads, live and dead.
	CPUTicks uint64
	// SchedNs is the on-CPU time of the live threads from schedstat, in ns
	// (finer than CPUTicks; misses threads that exited).
	SchedNs uint64
	// Voluntary and Involuntary sum the context switches of the live
	// threads: each is a wake-up or a preemption.
	Voluntary, Involuntary uint64
	// From /proc/<pid>/io: write syscalls, bytes passed to them, bytes
	// sent to storage.
	Syscw, Wchar, WriteBytes uint64
	Threads                  int
	// Start identifies the process (start time in clock ticks).
	Start uint64
}

// ReadUsage reads the counters of pid. The I/O counters need the same uid
// or root.
func ReadUsage(pid int) (Usage, error) {
	var u Usage
	st, err := ReadStat(pid)
	if err != nil {
		return u, err
	}
	u.CPUTicks, u.Start = st.Ticks(), st.Start
	dir := "/proc/" + strconv.Itoa(pid)
	status, err := readKV(dir + "/status")
	if err != nil {
		return u, err
	}
	u.RSS, u.RSSAnon, u.RSSFile = parseKB(status["VmRSS"]), parseKB(status["RssAnon"]), parseKB(status["RssFile"])
	io, err := readKV(dir + "/io")
	if err != nil {
		return u, fmt.Errorf("read io counters (needs same uid or root): %w", err)
	}
	u.Syscw, u.Wchar, u.WriteBytes = parseU(io["syscw"]), parseU(io["wchar"]), parseU(io["write_bytes"])
	tasks, _ := filepath.Glob(dir + "/task/*")
	for _, t := range tasks {
		ts, err := readKV(t + "/status")
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

// PIDs lists the processes on the system.
func PIDs() ([]int, error) {
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

// readKV reads a "key: value" file such as /proc/<pid>/status.
func readKV(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
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

// IsThread reports whether id is a thread of another process rather than
// a process: thread IDs come from the same counter, and /proc/<id> shows
// them too.
func IsThread(id int) bool {
	st, err := readKV("/proc/" + strconv.Itoa(id) + "/status")
	return err == nil && st["Tgid"] != strconv.Itoa(id)
}
