package logs

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A file rotates between lines: each file within its size, no line cut,
// and the backups pruned to the count kept.
func TestFileRotatesBetweenLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web-out.log")
	f, err := OpenFile(path, Limits{MaxSize: 1000, MaxFiles: 3}, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for i := range 200 {
		fmt.Fprintf(&all, "line %03d %s\n", i, strings.Repeat("y", i%40))
	}
	// In uneven batches, as a spool drains.
	data := []byte(all.String())
	for len(data) > 0 {
		n := min(len(data), 1+len(data)%1700)
		if _, err := f.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	f.Close() // waits for the mill
	backups, err := api.Backups(path)
	if err != nil || len(backups) != 3 {
		t.Fatalf("backups %q, %v; want 3", backups, err)
	}
	var kept strings.Builder
	for _, p := range append(backups, path) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1000 || len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s: %d bytes, ends %q", p, len(b), b[max(0, len(b)-5):])
		}
		kept.Write(b)
	}
	if !strings.HasSuffix(all.String(), kept.String()) || kept.Len() < 3000 {
		t.Errorf("the kept files are not the last %d bytes written", kept.Len())
	}
	if f.Rotations() < 5 {
		t.Errorf("%d rotations", f.Rotations())
	}
}

// A spool read by one hub and then by the next, with lines written while
// none ran, gives every line once: the next hub starts after the holes
// the first punched, even within a page.
func TestSpoolResumesAfterTheHoles(t *testing.T) {
	// The runtime dir is a tmpfs, as /dev/shm is for users.
	rt, err := os.MkdirTemp("/dev/shm", "opm-logs-test")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	home := t.TempDir()
	spec := api.Spec{Name: "web", Cwd: home}
	Own(&spec, home)
	if err := os.MkdirAll(filepath.Dir(spec.OutLog), 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(fd int, from, to int) {
		for i := from; i <= to; i++ {
			if _, err := unix.Write(fd, fmt.Appendf(nil, "line %d %s\n", i, strings.Repeat("z", i%13))); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitLines := func(n int) {
		testkit.WaitFor(t, fmt.Sprintf("%d lines in the log", n), 10*time.Second, func() bool {
			b, _ := os.ReadFile(spec.OutLog)
			return strings.Count(string(b), "\n") >= n
		})
	}
	h, err := NewHub(rt, DefaultLimits, quiet())
	if err != nil {
		t.Fatal(err)
	}
	out, errFD, err := h.Output(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(out)
	unix.Close(errFD)
	write(out, 1, 333)
	waitLines(333)
	h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(out, &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 > 4096 {
		t.Errorf("the spool holds %d bytes of RAM once drained", st.Blocks*512)
	}
	write(out, 334, 500) // no daemon
	h, err = NewHub(rt, DefaultLimits, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Attach(spec); err != nil {
		t.Fatal(err)
	}
	write(out, 501, 600)
	if _, err := unix.Write(out, []byte("no newline")); err != nil {
		t.Fatal(err)
	}
	waitLines(600)
	h.Ended("web")
	waitLines(601)
	b, _ := os.ReadFile(spec.OutLog)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 601 || lines[600] != "no newline" {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	for i, l := range lines[:600] {
		if !strings.HasPrefix(l, fmt.Sprintf("line %d ", i+1)) {
			t.Fatalf("line %d is %q", i+1, l)
		}
	}
}

func TestStampLines(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := string(stampLines(nil, []byte("a\nbc\n"), at, "15:04:05"))
	if got != "03:04:05: a\n03:04:05: bc\n" {
		t.Errorf("stampLines = %q", got)
	}
}

// abandon stops h as a SIGKILL would: nothing more is read, nothing
// flushed.
func (h *Hub) abandon() {
	h.watcher.Close()
	<-h.done
	for _, s := range h.all() {
		s.close()
	}
}

// newTestHub is a hub on a runtime dir in /dev/shm, and an app whose
// logs go under a temporary home, with its out spool's write end.
func newTestHub(t *testing.T) (rt string, spec api.Spec, h *Hub, out int) {
	t.Helper()
	rt, err := os.MkdirTemp("/dev/shm", "opm-logs-test")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	home := t.TempDir()
	spec = api.Spec{Name: "web", Cwd: home}
	Own(&spec, home)
	if err := os.MkdirAll(filepath.Dir(spec.OutLog), 0o700); err != nil {
		t.Fatal(err)
	}
	h, err = NewHub(rt, DefaultLimits, quiet())
	if err != nil {
		t.Fatal(err)
	}
	out, errFD, err := h.Output(spec)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(errFD)
	t.Cleanup(func() { unix.Close(out) })
	return rt, spec, h, out
}

func waitFor(t *testing.T, path, want string) {
	t.Helper()
	testkit.WaitFor(t, fmt.Sprintf("%q in %s", want, path), 10*time.Second, func() bool {
		b, _ := os.ReadFile(path)
		return string(b) == want
	})
}

func mustWrite(t *testing.T, fd int, s string) {
	t.Helper()
	if _, err := unix.Write(fd, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

// A line half written when the daemon dies is finished by the next one:
// the spool keeps an unfinished line until its newline comes.
func TestUnfinishedLineSurvivesAKill(t *testing.T) {
	rt, spec, h, out := newTestHub(t)
	mustWrite(t, out, "first\nhead-of-")
	waitFor(t, spec.OutLog, "first\n")
	h.abandon()
	mustWrite(t, out, "line\n")
	h2, err := NewHub(rt, DefaultLimits, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if err := h2.Attach(spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, spec.OutLog, "first\nhead-of-line\n")
}

// An app that truncates its output (a shell's "echo x > /dev/stdout")
// is read again from the start of what it writes next.
func TestSpoolTruncatedByTheApp(t *testing.T) {
	_, spec, h, out := newTestHub(t)
	defer h.Close()
	mustWrite(t, out, strings.Repeat("a", 5000)+"\n")
	waitFor(t, spec.OutLog, strings.Repeat("a", 5000)+"\n")
	if err := unix.Ftruncate(out, 0); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, out, "msg\n")
	mustWrite(t, out, "after\n")
	waitFor(t, spec.OutLog, strings.Repeat("a", 5000)+"\nmsg\nafter\n")
}
