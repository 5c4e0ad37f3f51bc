package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"opm/daemon/api"
)

// followed is a log being followed: the file open on it and how far it
// was read.
type followed struct {
	src *logSource
	// fh is the file that was at src.path when it was opened; nil while
	// there is none. Once rotated (renamed away) it is read to its end
	// before the new file at the path is opened.
	fh      *os.File
	off     int64
	partial []byte // the start of a line whose newline has not come yet
	// lastRotated is the rotation time of the newest rotated file read
	// (fh's predecessor, or one read whole): a rotated file newer than
	// it that is not fh's own was rotated between two reads, and is
	// read whole.
	lastRotated time.Time
	// sink, when set, takes each line instead of the printer (`opm run`
	// reads daemon.log so).
	sink func(line []byte)
	// resume, when set, marks the file that was at src.path before f
	// was opened (`opm run`: when it started): the first rotated file
	// read whole, when it is that one, is read from the mark on.
	resume *logMark
}

// logMark is where a log file stood: its identity (device and inode),
// the offset its new lines start at, and the bytes just before it, which
// tell the file once rotated and compressed (a new inode).
type logMark struct {
	fi   os.FileInfo // nil: no file was marked
	off  int64
	tail []byte
	// lastRotated is the follower's lastRotated when the mark was made.
	lastRotated time.Time
}

// markTail is how many bytes before its offset a mark keeps.
const markTail = 64

// markOf marks the open file fh at off.
func markOf(fh *os.File, off int64) (logMark, error) {
	fi, err := fh.Stat()
	if err != nil {
		return logMark{}, err
	}
	tail := make([]byte, min(off, markTail))
	if _, err := fh.ReadAt(tail, off-int64(len(tail))); err != nil {
		return logMark{}, err
	}
	return logMark{fi: fi, off: off, tail: tail}, nil
}

// holds reports whether the open file fh (stat fi) is the file m marked:
// the same inode, and the bytes m keeps still before its offset — an
// inode freed (the marked file rotated, then compressed) is soon given to
// a new file, even the one made at the same path.
func (m *logMark) holds(fh *os.File, fi os.FileInfo) bool {
	if m.fi == nil || !os.SameFile(m.fi, fi) || fi.Size() < m.off {
		return false
	}
	tail := make([]byte, len(m.tail))
	_, err := fh.ReadAt(tail, m.off-int64(len(tail)))
	return err == nil && bytes.Equal(tail, m.tail)
}

// after returns what of data, the whole content of a rotated file,
// comes after the mark m: all of it unless the content at the mark's
// offset is the marked one.
func (m *logMark) after(data []byte) []byte {
	if m == nil || m.off <= 0 || int64(len(data)) < m.off {
		return data
	}
	if !bytes.Equal(data[m.off-int64(len(m.tail)):m.off], m.tail) {
		return data
	}
	return data[m.off:]
}

// print hands one line of f's log to the printer, or to f's sink.
func (f *followed) print(p *logPrinter, line []byte, read time.Time) {
	if f.sink != nil {
		f.sink(line)
		return
	}
	p.print(f.src, line, read)
}

// maxPartialLine is how long a line without newline may grow before it
// is printed as it is.
const maxPartialLine = 1 << 20

// follow prints the lines appended to logs from their offsets on, as
// they arrive, until ctx ends. It waits for inotify events on the logs'
// directories, without polling: a log written to is read through the
// descriptor already open; a log rotated (renamed away, a new file
// created at its path) is read to its end and then the new file from its
// start; a log truncated (flushed) is read again from its start.
func follow(ctx context.Context, p *logPrinter, logs []*followed) error {
	fw, err := newFollower(p)
	if err != nil {
		for _, f := range logs {
			if f.fh != nil {
				f.fh.Close()
			}
		}
		return err
	}
	defer fw.close()
	for i, f := range logs {
		if err := fw.add(f); err != nil {
			for _, g := range logs[i+1:] {
				if g.fh != nil {
					g.fh.Close()
				}
			}
			return err
		}
	}
	// Catch up with what was written between the tail and the watch.
	if err := fw.readAll(); err != nil {
		return err
	}
	return fw.run(ctx)
}

// follower follows a set of logs that may grow while it runs (`opm run`
// adds the logs of apps started later): one inotify instance, one watch
// per directory of a followed log.
type follower struct {
	p       *logPrinter
	w       *fsnotify.Watcher
	logs    []*followed
	byPath  map[string][]*followed
	watched map[string]bool // the directories watched
	buf     []byte
	// after, when set, runs after each round of reads, before the
	// printer is flushed; an error ends run.
	after func() error
}

func newFollower(p *logPrinter) (*follower, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch logs: %w", err)
	}
	return &follower{p: p, w: w, byPath: map[string][]*followed{}, watched: map[string]bool{}, buf: make([]byte, 64<<10)}, nil
}

// close stops watching and closes the followed files.
func (fw *follower) close() {
	fw.w.Close()
	for _, f := range fw.logs {
		if f.fh != nil {
			f.fh.Close()
		}
	}
}

// add follows f from where it stands (its open file and offset, or its
// path from the start), watching its directory, made when missing. The
// follower owns f's file from then on, even when the watch fails.
func (fw *follower) add(f *followed) error {
	fw.logs = append(fw.logs, f)
	fw.byPath[f.src.path] = append(fw.byPath[f.src.path], f)
	dir := filepath.Dir(f.src.path)
	if fw.watched[dir] {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("watch logs: %w", err)
	}
	if err := fw.w.Add(dir); err != nil {
		return fmt.Errorf("watch logs in %s: %w", dir, err)
	}
	fw.watched[dir] = true
	return nil
}

// remove stops following f, whose file is the caller's again, and
// watching its directory when no other log followed is there.
func (fw *follower) remove(f *followed) {
	fw.logs = slices.DeleteFunc(fw.logs, func(g *followed) bool { return g == f })
	path := f.src.path
	fw.byPath[path] = slices.DeleteFunc(fw.byPath[path], func(g *followed) bool { return g == f })
	if len(fw.byPath[path]) == 0 {
		delete(fw.byPath, path)
	}
	dir := filepath.Dir(path)
	if !fw.watched[dir] || slices.ContainsFunc(fw.logs, func(g *followed) bool { return filepath.Dir(g.src.path) == dir }) {
		return
	}
	// Gone already (the directory removed) is as good.
	_ = fw.w.Remove(dir)
	delete(fw.watched, dir)
}

// readAll reads every log for what was added to it, then flushes.
func (fw *follower) readAll() error {
	for _, f := range fw.logs {
		if err := f.update(fw.p, fw.buf); err != nil {
			return err
		}
	}
	return fw.round()
}

// round ends a round of reads: the after hook, then the flush.
func (fw *follower) round() error {
	if fw.after != nil {
		if err := fw.after(); err != nil {
			return err
		}
	}
	return fw.p.flush()
}

// run prints what is added to the logs until ctx ends.
func (fw *follower) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-fw.w.Errors:
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				return fmt.Errorf("watch logs: %w", err)
			}
			// Events were lost: read every log for what they said.
			if err := fw.readAll(); err != nil {
				return err
			}
		case ev, ok := <-fw.w.Events:
			if !ok {
				return nil
			}
			for _, f := range fw.byPath[ev.Name] {
				if err := f.update(fw.p, fw.buf); err != nil {
					return err
				}
			}
			if err := fw.round(); err != nil {
				return err
			}
		}
	}
}

// update prints what was added to f's log since it was last read, and
// moves on to a new file at its path once the old one is read through.
func (f *followed) update(p *logPrinter, buf []byte) error {
	for {
		if f.fh == nil {
			fh, err := os.Open(f.src.path)
			if errors.Is(err, os.ErrNotExist) {
				return nil // it comes with a create event
			}
			if err != nil {
				return fmt.Errorf("read log: %w", err)
			}
			f.fh, f.off, f.partial = fh, 0, f.partial[:0]
			// What was rotated before this file, since the last one
			// read: each whole, first.
			if err := f.readRotatedBefore(p); err != nil {
				return err
			}
		}
		if err := f.readToEnd(p, buf); err != nil {
			return err
		}
		now, err := os.Stat(f.src.path)
		if errors.Is(err, os.ErrNotExist) {
			return nil // renamed away: its successor comes with a create event
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		open, err := f.fh.Stat()
		if err != nil {
			return fmt.Errorf("read log %s: %w", f.src.path, err)
		}
		if os.SameFile(now, open) {
			return nil
		}
		// Rotated: the old file is read to its end through the open
		// descriptor (lines written until the new file appeared), then
		// the new one from its start.
		if err := f.readToEnd(p, buf); err != nil {
			return err
		}
		if len(f.partial) > 0 {
			f.print(p, f.partial, time.Now())
			f.partial = f.partial[:0]
		}
		f.lastRotated = f.rotationOf(open)
		f.fh.Close()
		f.fh = nil
	}
}

// newestRotation is the rotation time of the newest rotated file of the
// log at path (zero when there is none).
func newestRotation(path string) time.Time {
	backups, _ := api.Backups(path)
	if len(backups) == 0 {
		return time.Time{}
	}
	t, _ := api.BackupTime(path, filepath.Base(backups[len(backups)-1]))
	return t
}

// rotationOf is the rotation time of the rotated file that the file
// open (stat) became, found by its inode; when it cannot be told
// (compressed meanwhile), the oldest one rotated after the last read.
func (f *followed) rotationOf(open os.FileInfo) time.Time {
	backups, _ := api.Backups(f.src.path)
	var oldest time.Time
	for _, b := range backups {
		t, ok := api.BackupTime(f.src.path, filepath.Base(b))
		if !ok || !t.After(f.lastRotated) {
			continue
		}
		if oldest.IsZero() {
			oldest = t
		}
		if st, err := os.Stat(b); err == nil && os.SameFile(st, open) {
			return t
		}
	}
	if oldest.IsZero() {
		return f.lastRotated
	}
	return oldest
}

// readRotatedBefore reads whole, oldest first, the files rotated after
// the last one read and before f.fh (just opened): the app wrote faster
// than the events came. f.fh itself may have been rotated already; it
// and what came after it are read later, in turn.
func (f *followed) readRotatedBefore(p *logPrinter) error {
	open, err := f.fh.Stat()
	if err != nil {
		return fmt.Errorf("read log %s: %w", f.src.path, err)
	}
	backups, _ := api.Backups(f.src.path)
	for _, b := range backups {
		t, ok := api.BackupTime(f.src.path, filepath.Base(b))
		if !ok || !t.After(f.lastRotated) {
			continue
		}
		bst, serr := os.Stat(b)
		if serr == nil && os.SameFile(bst, open) {
			break
		}
		gz := strings.HasSuffix(b, api.GzipSuffix)
		if gz && slices.Contains(backups, strings.TrimSuffix(b, api.GzipSuffix)) {
			continue // being compressed: the plain one is read
		}
		// The first rotated since the mark was made is the marked
		// file, unless it went otherwise (removed by retention): a
		// plain one must be it (its identity), and either must hold
		// the marked bytes before the mark (m.after).
		m := f.resume
		f.resume = nil
		if m != nil && !gz && (serr != nil || !os.SameFile(bst, m.fi)) {
			m = nil
		}
		if err := f.readWhole(p, b, m); err != nil {
			return err
		}
		f.lastRotated = t
	}
	return nil
}

// readWhole prints every line of the rotated file at path (gunzipped
// when compressed), or those after the mark m when it is the file m
// marked.
func (f *followed) readWhole(p *logPrinter, path string, m *logMark) error {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !strings.HasSuffix(path, api.GzipSuffix) {
		// Compressed meanwhile.
		path += api.GzipSuffix
		fh, err = os.Open(path)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed meanwhile (retention, flush --all)
	}
	if err != nil {
		return fmt.Errorf("read rotated log: %w", err)
	}
	defer fh.Close()
	var r io.Reader = fh
	if strings.HasSuffix(path, api.GzipSuffix) {
		zr, err := gzip.NewReader(fh)
		if err != nil {
			return fmt.Errorf("read rotated log %s: %w", path, err)
		}
		r = zr
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read rotated log %s: %w", path, err)
	}
	f.emit(p, m.after(data), time.Now())
	if len(f.partial) > 0 {
		f.print(p, f.partial, time.Now())
		f.partial = f.partial[:0]
	}
	return nil
}

// readToEnd prints the lines of f's open file from f.off to its end; a
// file shorter than f.off was truncated and is read from its start.
func (f *followed) readToEnd(p *logPrinter, buf []byte) error {
	fi, err := f.fh.Stat()
	if err != nil {
		return fmt.Errorf("read log %s: %w", f.src.path, err)
	}
	if fi.Size() < f.off {
		f.off, f.partial = 0, f.partial[:0]
	}
	for {
		n, err := f.fh.ReadAt(buf, f.off)
		if n > 0 {
			f.off += int64(n)
			f.emit(p, buf[:n], time.Now())
		}
		if errors.Is(err, io.EOF) || n == 0 && err == nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log %s: %w", f.src.path, err)
		}
	}
}

// emit prints the complete lines of what was read, data, and keeps an
// unfinished last line until its newline comes.
func (f *followed) emit(p *logPrinter, data []byte, read time.Time) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			f.partial = append(f.partial, data...)
			if len(f.partial) >= maxPartialLine {
				f.print(p, f.partial, read)
				f.partial = f.partial[:0]
			}
			return
		}
		line := data[:i]
		if len(f.partial) > 0 {
			line = append(f.partial, line...)
			f.partial = line[:0]
		}
		f.print(p, line, read)
		data = data[i+1:]
	}
}
