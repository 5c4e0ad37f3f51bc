package logs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/shm"
)

// SpoolDir is the directory of the spools inside the runtime directory.
const SpoolDir = "logs"

// Spool file suffixes: <name>.out, <name>.err.
const (
	outSuffix = ".out"
	errSuffix = ".err"
)

// Hub drains every app's spools into its log files. One inotify watch on
// the spool directory wakes it when an app writes; nothing else does.
type Hub struct {
	dir      string
	defaults Limits
	log      *slog.Logger
	mill     *mill
	watcher  *fsnotify.Watcher
	done     chan struct{}

	mu sync.Mutex
	// streams by spool file name (web.out); files by path, shared by the
	// streams that write them (a combined log, out and err in one file).
	streams map[string]*stream
	files   map[string]*File
}

// NewHub prepares the spool directory in runtimeDir and starts watching
// it. defaults are the config's rotation limits.
func NewHub(runtimeDir string, defaults Limits, log *slog.Logger) (*Hub, error) {
	dir := filepath.Join(runtimeDir, SpoolDir)
	if err := shm.EnsurePrivateDir(dir); err != nil {
		return nil, fmt.Errorf("log spool directory: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch log spools: %w%s", err, inotifyHint(err))
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch log spools in %s: %w%s", dir, err, inotifyHint(err))
	}
	h := &Hub{
		dir: dir, defaults: defaults, log: log, mill: &mill{log: log},
		watcher: w, done: make(chan struct{}),
		streams: map[string]*stream{}, files: map[string]*File{},
	}
	go h.watch()
	return h, nil
}

// watch drains a spool each time inotify says it was written to. When
// the kernel's event queue overflowed, every spool is drained.
func (h *Hub) watch() {
	defer close(h.done)
	for {
		select {
		case ev, ok := <-h.watcher.Events:
			if !ok {
				return
			}
			if !ev.Has(fsnotify.Write) {
				continue
			}
			h.mu.Lock()
			s := h.streams[filepath.Base(ev.Name)]
			h.mu.Unlock()
			if s != nil {
				s.kick()
			}
		case err, ok := <-h.watcher.Errors:
			if !ok {
				return
			}
			h.log.Warn("log spool watch", "event", "log-watch", "error", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				for _, s := range h.all() {
					s.kick()
				}
			}
		}
	}
}

func (h *Hub) all() []*stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*stream, 0, len(h.streams))
	for _, s := range h.streams {
		out = append(out, s)
	}
	return out
}

// Close stops watching, drains every spool, closes the files and waits
// for the mill. The spools
// stay: apps that outlive the daemon go on writing there for the next one.
func (h *Hub) Close() {
	h.watcher.Close()
	<-h.done
	for _, s := range h.all() {
		// Apps that run on keep their unfinished line in the spool,
		// for the next daemon.
		s.drain(false)
		s.close()
	}
	h.mu.Lock()
	for _, f := range h.files {
		f.closeFD()
	}
	h.mu.Unlock()
	h.mill.Wait()
}

// Output makes spec's log files ready (created and checked, so a planted
// symlink fails the start) and returns the descriptors the app's stdout
// and stderr get: its spools, opened for appending, or /dev/null when the
// stream goes nowhere. The caller closes them.
func (h *Hub) Output(spec api.Spec) (out, errFD int, err error) {
	outS, errS, err := h.attach(spec)
	if err != nil {
		return -1, -1, err
	}
	for _, s := range []*stream{outS, errS} {
		if s != nil {
			s.newRun()
		}
	}
	if out, err = openWriteEnd(outS); err != nil {
		return -1, -1, err
	}
	if errFD, err = openWriteEnd(errS); err != nil {
		unix.Close(out)
		return -1, -1, err
	}
	return out, errFD, nil
}

// openWriteEnd opens the descriptor the app writes: the spool, or
// /dev/null for a stream that is discarded (s nil).
func openWriteEnd(s *stream) (int, error) {
	if s == nil {
		fd, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", os.DevNull, err)
		}
		return fd, nil
	}
	fd, err := shm.OpenOwned(s.path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o600)
	if err != nil {
		return -1, fmt.Errorf("open log spool: %w", err)
	}
	return fd, nil
}

// Attach sets up (or updates) spec's streams and drains what its spools
// already hold: the output of an app adopted from a previous daemon, or
// left by one that ran while no daemon was there.
func (h *Hub) Attach(spec api.Spec) error {
	if h == nil {
		return nil
	}
	out, errS, err := h.attach(spec)
	for _, s := range []*stream{out, errS} {
		if s != nil {
			s.kick()
		}
	}
	return err
}

// attach sets up (or updates) spec's streams and returns them, a stream
// whose every destination is /dev/null nil. It reads nothing: Attach
// has the spools drained, Output ends the previous run itself (newRun).
func (h *Hub) attach(spec api.Spec) (out, errS *stream, err error) {
	limits := h.limitsOf(spec.LogSettings)
	layout := spec.DateLayout()
	h.mu.Lock()
	defer h.mu.Unlock()
	sinks := func(primary string) ([]*File, error) {
		var fs []*File
		for _, p := range []string{primary, spec.CombinedLog} {
			if p == "" || p == api.DevNull {
				continue
			}
			if slices.ContainsFunc(fs, func(f *File) bool { return f.path == p }) {
				continue // log_file is out_file: once
			}
			f := h.files[p]
			if f == nil {
				f = newFile(p, limits, h.mill)
				h.files[p] = f
			}
			f.SetLimits(limits)
			if err := f.Check(); err != nil {
				return nil, err
			}
			fs = append(fs, f)
		}
		return fs, nil
	}
	outSinks, err := sinks(spec.OutLog)
	if err != nil {
		return nil, nil, err
	}
	errSinks, err := sinks(spec.ErrLog)
	if err != nil {
		return nil, nil, err
	}
	out, outChanged, err := h.streamLocked(spec.Key()+outSuffix, "out", api.Label(spec.Name, spec.Instance, spec.Count()), outSinks, layout)
	if err != nil {
		return nil, nil, err
	}
	errS, errChanged, err := h.streamLocked(spec.Key()+errSuffix, "err", api.Label(spec.Name, spec.Instance, spec.Count()), errSinks, layout)
	if err != nil {
		return nil, nil, err
	}
	if outChanged || errChanged {
		// Only then can a file have lost its last stream (a pass over
		// every stream: not at every start of a restore).
		h.closeUnusedLocked()
	}
	return out, errS, nil
}

// streamLocked returns the stream of the spool file base, created or
// updated with sinks; nil, and no spool, when there are no sinks.
// changed reports whether an existing stream's files changed (or it
// went): only then may a file have lost its last stream.
func (h *Hub) streamLocked(base, kind, app string, sinks []*File, layout string) (s *stream, changed bool, err error) {
	s = h.streams[base]
	if len(sinks) == 0 {
		if s != nil {
			// What is still spooled goes where the stream went.
			s.drain(true)
			s.close()
			delete(h.streams, base)
			_ = os.Remove(s.path)
		}
		return nil, s != nil, nil
	}
	if s == nil {
		if s, err = openStream(filepath.Join(h.dir, base), kind, app, h.log); err != nil {
			return nil, false, err
		}
		h.streams[base] = s
		s.configure(sinks, layout)
		return s, false, nil // files it is the first to use
	}
	return s, s.configure(sinks, layout), nil
}

// closeUnusedLocked closes the files no stream writes any more.
func (h *Hub) closeUnusedLocked() {
	used := map[*File]bool{}
	for _, s := range h.streams {
		for _, f := range s.sinkList() {
			used[f] = true
		}
	}
	for p, f := range h.files {
		if !used[f] {
			f.closeFD()
			delete(h.files, p)
		}
	}
}

// Ended writes what app's process left in its spools, its unfinished
// last line included, once it has exited: on a goroutine, and only if no
// next process of the app has started meanwhile.
func (h *Hub) Ended(key string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	var ends []func()
	for _, base := range []string{key + outSuffix, key + errSuffix} {
		if s := h.streams[base]; s != nil {
			run := s.run.Load()
			ends = append(ends, func() { s.endRun(run) })
		}
	}
	h.mu.Unlock()
	if len(ends) > 0 {
		go func() {
			for _, end := range ends {
				end()
			}
		}()
	}
}

// Remove drains and forgets app's streams and deletes its spools; its
// log files stay.
func (h *Hub) Remove(key string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, base := range []string{key + outSuffix, key + errSuffix} {
		if s := h.streams[base]; s != nil {
			s.drain(true)
			s.close()
			delete(h.streams, base)
			_ = os.Remove(s.path)
		}
	}
	h.closeUnusedLocked()
}

// Flush empties spec's log files (what is spooled is written first, so
// that it is emptied too); with all their backups go as well.
func (h *Hub) Flush(spec api.Spec, all bool) error {
	if h == nil {
		return nil
	}
	for _, base := range []string{spec.Key() + outSuffix, spec.Key() + errSuffix} {
		h.mu.Lock()
		s := h.streams[base]
		h.mu.Unlock()
		if s != nil {
			s.drain(false)
		}
	}
	if all {
		// A backup being compressed would land after the removal.
		h.mill.Wait()
	}
	var errs []error
	for _, p := range []string{spec.OutLog, spec.ErrLog, spec.CombinedLog} {
		if p == "" || p == api.DevNull {
			continue
		}
		h.mu.Lock()
		f := h.files[p]
		h.mu.Unlock()
		if f == nil {
			f = newFile(p, Limits{}, h.mill)
		}
		errs = append(errs, f.Flush(all))
	}
	return errors.Join(errs...)
}

// Stats reports what became of app's output.
func (h *Hub) Stats(key string) api.LogStats {
	if h == nil {
		return api.LogStats{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var st api.LogStats
	files := map[*File]bool{}
	for _, base := range []string{key + outSuffix, key + errSuffix} {
		s := h.streams[base]
		if s == nil {
			continue
		}
		lost, lastErr, at := s.stats()
		st.LinesLost += lost
		if at.After(st.LastErrorAt) {
			st.LastError, st.LastErrorAt = lastErr, at
		}
		for _, f := range s.sinkList() {
			files[f] = true
		}
	}
	for f := range files {
		st.Rotations += f.Rotations()
	}
	return st
}

// limitsOf applies an app's settings over the defaults.
func (h *Hub) limitsOf(s api.LogSettings) Limits {
	l := h.defaults
	if s.LogMaxSize > 0 {
		l.MaxSize = s.LogMaxSize
	}
	if s.LogMaxFiles > 0 {
		l.MaxFiles = s.LogMaxFiles
	}
	if s.LogCompress != nil {
		l.Compress = *s.LogCompress
	}
	return l
}

// inotifyHint says what to do when the kernel's inotify limits are
// reached.
func inotifyHint(err error) string {
	switch {
	case errors.Is(err, unix.EMFILE):
		return " (too many inotify instances: raise fs.inotify.max_user_instances with sysctl)"
	case errors.Is(err, unix.ENOSPC):
		return " (too many inotify watches: raise fs.inotify.max_user_watches with sysctl)"
	}
	return ""
}
