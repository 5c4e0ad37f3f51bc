package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/shm"
)

// Limits bound a log file: rotated past MaxSize bytes, MaxFiles backups
// kept, gzipped when Compress.
type Limits struct {
	MaxSize  int64
	MaxFiles int
	Compress bool
}

// DefaultLimits are the config's defaults: 10M files, 10 backups, not
// compressed (as pm2-logrotate).
var DefaultLimits = Limits{MaxSize: 10 << 20, MaxFiles: 10}

// File is a log file that rotates by size. It is written in whole lines:
// a rotation never splits one. It opens its descriptor at its first write
// (O_APPEND, without following symlinks) and holds it open between
// writes; it opens it again after a rotation, a flush or an error. It is
// safe for concurrent use.
type File struct {
	path string
	perm uint32
	mill *mill

	mu     sync.Mutex
	limits Limits
	fd     int // -1 when closed
	size   int64
	// lastRotation keeps backup names unique (one per millisecond).
	lastRotation time.Time
	rotations    atomic.Int64
}

// newFile returns the log file at path; nothing is opened yet.
func newFile(path string, limits Limits, m *mill) *File {
	return &File{path: path, perm: 0o644, limits: limits, mill: m, fd: -1}
}

// OpenFile returns a rotating file for a log the daemon writes itself
// (daemon.log), created with perm and checked now (Check), opened at its
// first write. Its backups are milled by a mill of its own, started at
// its first rotation.
func OpenFile(path string, limits Limits, perm uint32) (*File, error) {
	f := newFile(path, limits, &mill{})
	f.perm = perm
	if err := f.Check(); err != nil {
		return nil, err
	}
	return f, nil
}

// SetLimits changes the file's limits from its next write.
func (f *File) SetLimits(l Limits) {
	f.mu.Lock()
	f.limits = l
	f.mu.Unlock()
}

// Check makes sure the file can be written (creating it), so that a file
// replaced by a symlink or by another user's file is refused now, with an
// error that says so, rather than at the next write. A file still the one
// held open, and still passing those checks, is kept open. Otherwise the
// file is left closed until its first write, which opens it with every
// check: an app that never writes holds no descriptor — each one the
// daemon holds is copied into every process it starts, and closed there
// at exec, a cost that grows with the number of apps.
func (f *File) Check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stillOpenLocked() {
		return nil
	}
	f.closeLocked()
	if f.writableLocked() {
		return nil
	}
	if err := f.openLocked(); err != nil {
		return err
	}
	f.closeLocked()
	return nil
}

// writableLocked reports whether the path names a regular file of this
// user's that opening it would accept (no group or other write, one
// link), by its lstat alone.
func (f *File) writableLocked() bool {
	var st unix.Stat_t
	return unix.Lstat(f.path, &st) == nil && shm.CheckOwnedStat(&st, f.path) == nil
}

// stillOpenLocked reports whether the path still names the regular file,
// this user's, that f holds open: then opening it again would give the
// same file, and a restart spares that (two system calls, not five).
func (f *File) stillOpenLocked() bool {
	if f.fd < 0 {
		return false
	}
	var held, named unix.Stat_t
	if unix.Fstat(f.fd, &held) != nil || unix.Lstat(f.path, &named) != nil {
		return false
	}
	if named.Dev != held.Dev || named.Ino != held.Ino {
		return false
	}
	// The same file, checked as opening it would check it.
	if shm.CheckOwnedStat(&held, f.path) != nil {
		return false
	}
	f.size = held.Size
	return true
}

func (f *File) openLocked() error {
	fd, err := shm.OpenOwned(f.path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, f.perm)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("open log %s: its directory does not exist (create it, or log elsewhere: --output, --error, --log)", f.path)
	}
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return fmt.Errorf("open log %s: %w", f.path, err)
	}
	f.fd, f.size = fd, st.Size
	return nil
}

func (f *File) closeLocked() {
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}

// Close closes the file's descriptor (a later write opens it again) and
// waits for the rotations under way to be compressed and pruned.
func (f *File) Close() error {
	f.closeFD()
	f.mill.Wait()
	return nil
}

// closeFD closes the file's descriptor; a later write opens it again.
func (f *File) closeFD() {
	f.mu.Lock()
	f.closeLocked()
	f.mu.Unlock()
}

// Write appends p, which ends in a newline unless it is a single
// unfinished line, rotating first when p would take the file past its
// size. p is split at line ends so that each file stays within its size
// (a single line longer than that gets a file of its own). It returns how
// much of p was written; the error says why not all.
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	written := 0
	for len(p) > 0 {
		if f.fd < 0 {
			if err := f.openLocked(); err != nil {
				return written, err
			}
		}
		chunk := p
		if room := f.limits.MaxSize - f.size; int64(len(chunk)) > room {
			// The longest run of whole lines that fits.
			end := -1
			if room > 0 {
				end = bytes.LastIndexByte(chunk[:room], '\n')
			}
			switch {
			case end >= 0:
				chunk = chunk[:end+1]
			case f.size > 0:
				if err := f.rotateLocked(); err != nil {
					return written, err
				}
				continue
			default:
				// An empty file and a line longer than the limit:
				// the line alone, whole.
				if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
					chunk = chunk[:i+1]
				}
			}
		}
		n, err := writeAll(f.fd, chunk)
		if err != nil && n > 0 && chunk[n-1] != '\n' {
			// Part of a line made it (the disk filled up): take it
			// back, so that the file holds whole lines only. The end
			// is where the write left the offset (O_APPEND), not the
			// size counted, which someone may have changed.
			keep := bytes.LastIndexByte(chunk[:n], '\n') + 1
			if end, serr := unix.Seek(f.fd, 0, io.SeekCurrent); serr == nil && unix.Ftruncate(f.fd, end-int64(n-keep)) == nil {
				n = keep
			}
		}
		f.size += int64(n)
		written += n
		if err != nil {
			// Open again at the next write: the file may have been
			// replaced, and O_APPEND finds its end.
			f.closeLocked()
			return written, fmt.Errorf("write %s: %w", f.path, err)
		}
		p = p[n:]
	}
	return written, nil
}

func writeAll(fd int, p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(fd, p[done:])
		if n > 0 {
			done += n
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, unix.EIO
		}
	}
	return done, nil
}

// rotateLocked renames the file to its backup name, opens a new one and
// hands the backups to the mill.
func (f *File) rotateLocked() error {
	f.closeLocked()
	// One backup name per millisecond: after the last rotation's, and
	// free (another daemon, a clock set back), compressed or not.
	now := time.Now().Truncate(time.Millisecond)
	if last := f.lastRotation; !now.After(last) {
		now = last.Add(time.Millisecond)
	}
	backup := api.BackupName(f.path, now)
	for exists(backup) || exists(backup+api.GzipSuffix) {
		now = now.Add(time.Millisecond)
		backup = api.BackupName(f.path, now)
	}
	if err := os.Rename(f.path, backup); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotate %s: %w", f.path, err)
	}
	f.lastRotation = now
	f.rotations.Add(1)
	if err := f.openLocked(); err != nil {
		return err
	}
	f.mill.add(millJob{path: f.path, backup: backup, keep: f.limits.MaxFiles, compress: f.limits.Compress})
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// Rotations counts the rotations of this file.
func (f *File) Rotations() int64 { return f.rotations.Load() }

// Flush empties the file, opened again by its path without following a
// symlink; with all it also removes its backups. The next write opens the
// file again.
func (f *File) Flush(all bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closeLocked()
	fd, err := shm.OpenOwned(f.path, unix.O_WRONLY, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("flush log: %w", err)
	default:
		err = unix.Ftruncate(fd, 0)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("flush log %s: %w", f.path, err)
		}
	}
	f.size = 0
	if !all {
		return nil
	}
	backups, err := api.Backups(f.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("flush rotated logs of %s: %w", f.path, err)
	}
	for _, b := range backups {
		if err := os.Remove(b); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("flush rotated log: %w", err)
		}
	}
	return nil
}
