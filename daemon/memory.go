package daemon

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// trimDelay is how long the daemon waits, once its last request is
// served, before it gives back the memory that work used (trimmer). Work
// comes in bursts (a deploy, a restore, a crash loop being looked at):
// the pages it mapped serve the next commands and restarts of the burst
// without a fault. Once trimmed, the first restart maps the pages of its
// path again (minor faults, a fraction of a millisecond).
const trimDelay = 10 * time.Second

// trimmer gives back, once the daemon has gone quiet, the memory its last
// burst of work used: the heap it no longer needs (debug.FreeOSMemory)
// and its mappings of its executable's code (releaseCode). It wakes the
// daemon once, trimDelay after the last request, and never while nothing
// happens.
type trimmer struct {
	mu    sync.Mutex
	timer *time.Timer
	// busy reports whether requests are being served: the trim waits for
	// the next quiet moment.
	busy func() bool
}

// quiet (re)arms the trim: the daemon has just gone quiet (its start-up
// done, or its last request served).
func (t *trimmer) quiet() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer == nil {
		t.timer = time.AfterFunc(trimDelay, t.trim)
		return
	}
	t.timer.Reset(trimDelay)
}

func (t *trimmer) trim() {
	if t.busy != nil && t.busy() {
		return // the request's end arms it again
	}
	debug.FreeOSMemory()
	releaseCode()
}

// stop cancels a trim not yet run: the daemon is busy again (a request
// began), and the end of its work arms it anew.
func (t *trimmer) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
	}
}

// releaseCode drops this process's mappings of its executable's pages
// that it never wrote: its code and read-only data. Start-up and each
// request map them — the kernel maps the pages around each one touched
// too — until an idle daemon shows most of its binary as resident, though
// it runs little of it. The pages stay in the page cache: those the
// daemon runs again come back through a minor fault, without I/O. A
// mapping that holds a page the process wrote (a writable one; in a
// position-independent build, the data the loader relocated and then
// made read-only) is never touched: dropping it would bring back the
// file's bytes.
func releaseCode() {
	exe, err := os.Readlink("/proc/self/exe") // " (deleted)" as in smaps once replaced
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return
	}
	defer f.Close()
	var start, end uint64
	candidate := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Anonymous:"); ok {
			// The mapping's pages that are the process's own copies.
			if candidate && strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")) == "0" {
				unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
			}
			candidate = false
			continue
		}
		// A mapping's first line: start-end perms offset dev inode path.
		fields := strings.Fields(line)
		if len(fields) < 6 || !strings.Contains(fields[0], "-") {
			continue
		}
		candidate = false
		if strings.Join(fields[5:], " ") != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		var err1, err2 error
		start, err1 = strconv.ParseUint(lo, 16, 64)
		end, err2 = strconv.ParseUint(hi, 16, 64)
		candidate = err1 == nil && err2 == nil && end > start
	}
}
