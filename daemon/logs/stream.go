package logs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/shm"
)

// pageSize is the unit the kernel frees a spool's RAM in.
var pageSize = int64(os.Getpagesize())

// readSize is how much of a spool one read takes.
const readSize = 256 << 10

// maxRound bounds what one drain reads before it lets others take the
// stream's lock.
const maxRound = 4 << 20

// maxLine bounds an unfinished line kept in memory: longer, it is written
// as a line of its own (as PM2 does).
const maxLine = 64 << 10

// bufPool holds read buffers: a silent app's stream holds none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, readSize); return &b }}

// stream is one spool (an app's stdout or stderr) and where its lines go.
type stream struct {
	path, kind, app string
	log             *slog.Logger

	// draining is set while a goroutine drains the stream; again asks
	// it for one more round (the spool grew meanwhile).
	draining, again atomic.Bool
	// run counts the app's processes that wrote to the spool: an end of
	// run that comes late (after the next process started) is not
	// taken for the new one's.
	run atomic.Uint64

	mu sync.Mutex
	fd int // the spool, read and hole-punched; -1 once closed
	// off is the next byte to read, punched where freeing stopped.
	off, punched int64
	// partial is the unfinished last line read.
	partial []byte
	sinks   []*File
	layout  string
	// out is the batch being written (lines, stamped when asked).
	out []byte

	// failing is set from a failed write until one works again;
	// punchFailed once freeing the spool failed (said once).
	failing, punchFailed bool
	// statMu guards the counters, read by Stats while a drain writes.
	statMu   sync.Mutex
	lost     int64
	lastErr  string
	errAt    time.Time
	sinkView []*File
}

// openStream opens the spool at path (creating it) and finds where
// reading starts: the first byte the hole punching of an earlier daemon
// left, so nothing is read twice and nothing is lost.
func openStream(path, kind, app string, log *slog.Logger) (*stream, error) {
	fd, err := shm.OpenOwned(path, unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log spool: %w", err)
	}
	s := &stream{path: path, kind: kind, app: app, log: log, fd: fd}
	s.off, err = firstData(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open log spool %s: %w", path, err)
	}
	s.punched = s.off
	return s, nil
}

// firstData is the offset of the first unread byte of a spool: the data
// after the holes, past the zeros a hole punched inside a page leaves.
func firstData(fd int) (int64, error) {
	// The size before looking for data: bytes appended after the look
	// are after it, never skipped.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	off, err := unix.Seek(fd, 0, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) {
		// Nothing but holes: everything was read.
		return st.Size, nil
	}
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 4096)
	for {
		n, err := unix.Pread(fd, buf, off)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return off, nil
		}
		for i, b := range buf[:n] {
			if b != 0 {
				return off + int64(i), nil
			}
		}
		off += int64(n)
	}
}

// configure sets the stream's files and date layout; it reports whether
// the files changed.
func (s *stream) configure(sinks []*File, layout string) bool {
	s.mu.Lock()
	changed := !slices.Equal(s.sinks, sinks)
	s.sinks, s.layout = sinks, layout
	s.mu.Unlock()
	s.statMu.Lock()
	s.sinkView = sinks
	s.statMu.Unlock()
	return changed
}

// sinkList is the stream's files, without waiting for a drain.
func (s *stream) sinkList() []*File {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	return s.sinkView
}

func (s *stream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}

func (s *stream) stats() (lost int64, lastErr string, at time.Time) {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	return s.lost, s.lastErr, s.errAt
}

// kick has the stream drained on a goroutine of its own, so that apps'
// spools drain in parallel and the watch goes on reading events: one
// goroutine per stream at most, none while the stream is idle.
func (s *stream) kick() {
	s.again.Store(true)
	if !s.draining.CompareAndSwap(false, true) {
		return // the running drain sees again
	}
	go func() {
		for {
			for s.again.Swap(false) {
				s.drain(false)
			}
			s.draining.Store(false)
			// A kick between the last Swap and the Store found
			// draining set and left: take it over.
			if !s.again.Load() || !s.draining.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// drain reads the spool to its end, writes its whole lines to the sinks
// and frees what it read. With final, an unfinished last line is written
// too (the app has exited, or the daemon is going away).
func (s *stream) drain(final bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drainLocked(final)
}

func (s *stream) drainLocked(final bool) {
	if s.fd < 0 {
		return
	}
	// Nothing written since the last read (a restart of a quiet app):
	// no read.
	if size := s.checkTruncated(); size < 0 || size != s.off {
		s.readLocked(final)
	}
	if final && len(s.partial) > 0 {
		s.partial = append(s.partial, '\n')
		s.lines(nil)
		s.free()
	}
}

// readLocked reads the spool from s.off to its end, in rounds.
func (s *stream) readLocked(final bool) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for read := 0; ; {
		if read >= maxRound && !final {
			// Let flush, a restart's reconfiguration, Stats' callers
			// in: another round follows at once (kick's loop).
			s.again.Store(true)
			break
		}
		n, err := unix.Pread(s.fd, buf, s.off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			s.failed(0, fmt.Errorf("read log spool %s: %w", s.path, err))
			break
		}
		if n == 0 {
			break
		}
		read += n
		s.off += int64(n)
		s.lines(buf[:n])
		s.free()
	}
}

// newRun ends the previous process's output (its unfinished last line is
// written as a line) before the next process of the app starts writing.
func (s *stream) newRun() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drainLocked(true)
	s.run.Add(1)
}

// endRun writes what the process of run left, its unfinished last line
// included, unless the next run has begun (newRun did it then).
func (s *stream) endRun(run uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run.Load() == run {
		s.drainLocked(true)
	}
}

// checkTruncated notices a spool the app truncated (a shell's
// "echo x > /dev/stderr" opens it with O_TRUNC): it is read again from
// its first byte, what was kept of an unfinished line dropped. It returns
// the spool's size, -1 when it cannot tell.
func (s *stream) checkTruncated() int64 {
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return -1
	}
	truncated := st.Size < s.off
	if !truncated && s.punched >= pageSize {
		// What was read is a hole: data below it came after a
		// truncation.
		data, err := unix.Seek(s.fd, 0, unix.SEEK_DATA)
		truncated = err == nil && data < s.punched&^(pageSize-1)
	}
	if !truncated {
		return st.Size
	}
	off, err := firstData(s.fd)
	if err != nil {
		return st.Size
	}
	s.log.Info("the app truncated its output; reading it again from its start", "event", "log-truncated", "app", s.app, "stream", s.kind)
	s.off, s.punched, s.partial = off, off, s.partial[:0]
	return st.Size
}

// lines writes the whole lines of partial+data and keeps the rest.
func (s *stream) lines(data []byte) {
	chunk := data
	if len(s.partial) > 0 {
		s.partial = append(s.partial, data...)
		chunk = s.partial
	}
	end := bytes.LastIndexByte(chunk, '\n') + 1
	if end == 0 && len(chunk) > maxLine {
		chunk = append(chunk, '\n')
		end = len(chunk)
	}
	if end > 0 {
		s.write(chunk[:end])
	}
	rest := chunk[end:]
	if len(s.partial) > 0 {
		s.partial = append(s.partial[:0], rest...)
	} else {
		s.partial = append(s.partial, rest...)
	}
	if len(s.partial) == 0 && cap(s.partial) > maxLine {
		s.partial = nil
	}
}

// write sends whole lines to every sink, stamped when the app asks.
func (s *stream) write(p []byte) {
	if len(s.sinks) == 0 {
		return
	}
	if s.layout != "" {
		s.out = stampLines(s.out[:0], p, time.Now(), s.layout)
		p = s.out
	}
	var lost int
	var werr error
	for _, f := range s.sinks {
		n, err := f.Write(p)
		if err != nil {
			lost = max(lost, bytes.Count(p[n:], []byte{'\n'}))
			werr = err
		}
	}
	if werr != nil {
		s.failed(lost, werr)
	} else if s.failing {
		s.failing = false
		lost, _, _ := s.stats()
		s.log.Info("log writes work again", "event", "log-recovered", "app", s.app, "stream", s.kind, "lines_lost", lost)
	}
	if cap(s.out) > 4*readSize {
		s.out = nil
	}
}

// failed counts lines that could not be written, and says so in the
// daemon log once per failing spell.
func (s *stream) failed(lines int, err error) {
	s.statMu.Lock()
	s.lost += int64(lines)
	s.lastErr, s.errAt = err.Error(), time.Now()
	s.statMu.Unlock()
	if !s.failing {
		s.failing = true
		s.log.Warn("log write failed: the app's lines are dropped until writing works again", "event", "log-failed", "app", s.app, "stream", s.kind, "error", err)
	}
}

// free punches out of the spool what has been written to the log files:
// the RAM goes back, and the next daemon starts reading after the hole.
// An unfinished line stays in the spool until its newline comes, so that
// a daemon killed meanwhile leaves it to the next one.
func (s *stream) free() {
	upto := s.off - int64(len(s.partial))
	if upto <= s.punched {
		return
	}
	// From the start of the page where the last hole ended: the kernel
	// frees only pages a single call covers whole, and the bytes before
	// s.punched in that page were read already.
	from := s.punched &^ (pageSize - 1)
	// A spool the app truncated since it was read holds its new bytes
	// there: never punched (the next drain reads it again from its
	// start). The window between this check and the punch is left.
	var st unix.Stat_t
	if unix.Fstat(s.fd, &st) == nil && st.Size < upto {
		return
	}
	err := unix.Fallocate(s.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, from, upto-from)
	if err != nil {
		if !s.punchFailed {
			s.punchFailed = true
			s.log.Warn("cannot free log spool RAM: the spool grows with the app's output (put OPM_RUNTIME_DIR on a tmpfs)", "event", "log-spool", "app", s.app, "stream", s.kind, "error", err)
		}
		return
	}
	s.punched = upto
}

// stampLines appends the lines of p to dst, each after the time t in
// layout and ": ", as PM2 writes them.
func stampLines(dst, p []byte, t time.Time, layout string) []byte {
	var ts []byte
	ts = t.AppendFormat(ts, layout)
	ts = append(ts, api.TimestampSep...)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		dst = append(dst, ts...)
		dst = append(dst, p[:i+1]...)
		p = p[i+1:]
	}
	return dst
}
