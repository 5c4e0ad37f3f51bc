package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/shm"
)

// pathAppLogs is the log tail of the dashboard, on the TCP listener:
//
//	GET /v1/apps/{target}/logs[?lines=N][&follow=1] -> application/x-ndjson
//
// one logLine a line: the last N lines (default 100, at most
// maxLogLines) of the out and err log files of each app of the target,
// then, with follow, each new line as the daemon writes it, until the
// client goes away. Following is woken by inotify on the files'
// directories: nothing runs while the apps are silent.
const pathAppLogs = api.PathApps + "/{target}/logs"

const (
	defaultLogLines = 100
	maxLogLines     = 1000
	// tailChunk is how much of a file's end is read to find its last
	// lines; longer lines are cut to it.
	tailChunk = 256 << 10
)

// logLine is one line of an app's log.
type logLine struct {
	App    string `json:"app"`
	Stream string `json:"stream"`
	Line   string `json:"line"`
}

// followedLog is one log file being followed.
type followedLog struct {
	app, stream, path string
	f                 *os.File
	ino               uint64
	off               int64
	partial           []byte
}

func (srv *server) handleLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n := defaultLogLines
	if v := q.Get("lines"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 || n > maxLogLines {
			writeError(w, api.Errorf(api.CodeBadRequest, "lines=%q: give a number of lines from 0 to %d", v, maxLogLines))
			return
		}
	}
	follow, _ := strconv.ParseBool(q.Get("follow"))
	res, ok := srv.call(r.Context(), w, func(reply chan result) event { return listReq{target: r.PathValue("target"), reply: reply} })
	if !ok {
		return
	}
	var logs []*followedLog
	defer func() {
		for _, l := range logs {
			if l.f != nil {
				l.f.Close()
			}
		}
	}()
	for _, a := range res.apps {
		label := api.Label(a.Name, a.Instance, a.Instances)
		for _, s := range []struct{ stream, path string }{{"out", a.Spec.OutLog}, {"err", a.Spec.ErrLog}} {
			if s.path == "" || s.path == api.DevNull {
				continue
			}
			logs = append(logs, &followedLog{app: label, stream: s.stream, path: s.path})
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	enc := json.NewEncoder(w)
	var watcher *os.File
	if follow {
		// Watch before reading, so that no line written in between is
		// missed (it may be sent twice at worst: not here, as reads go
		// on from the offset).
		var err error
		if watcher, err = watchDirs(logs); err != nil {
			writeError(w, api.Errorf(api.CodeInternal, "follow the logs: %v", err))
			return
		}
		defer watcher.Close()
	}
	for _, l := range logs {
		for _, line := range l.tail(n) {
			enc.Encode(logLine{App: l.app, Stream: l.stream, Line: string(line)})
		}
	}
	if !follow {
		return
	}
	flusher, _ := w.(http.Flusher)
	if flusher == nil {
		return
	}
	flusher.Flush()
	ctx := r.Context()
	stop := context.AfterFunc(ctx, func() { watcher.Close() })
	defer stop()
	buf := make([]byte, 64<<10)
	chunk := make([]byte, 32<<10) // what more reads at a time
	for {
		// One read gathers every event queued: then each file is read
		// to its end (a few files; cheaper than matching names).
		if _, err := watcher.Read(buf); err != nil {
			return
		}
		for _, l := range logs {
			// To the file's end, in batches: the events of what is
			// left were merged into the ones just read.
			for {
				lines := l.more(chunk)
				for _, line := range lines {
					enc.Encode(logLine{App: l.app, Stream: l.stream, Line: string(line)})
				}
				if len(lines) <= maxLogLines {
					break
				}
				flusher.Flush()
			}
		}
		flusher.Flush()
		if ctx.Err() != nil {
			return
		}
	}
}

// watchDirs returns an inotify instance watching the directories of the
// logs for writes and for files made or renamed there (rotation).
func watchDirs(logs []*followedLog) (*os.File, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// Non-blocking: the runtime poller waits for it, and Close ends a Read.
	f := os.NewFile(uintptr(fd), "inotify")
	seen := map[string]bool{}
	for _, l := range logs {
		dir := filepath.Dir(l.path)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil && !errors.Is(err, unix.ENOENT) {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// tail opens the log and returns its last n complete lines; following
// goes on from after them.
func (l *followedLog) tail(n int) [][]byte {
	if !l.open() {
		return nil
	}
	end := l.off
	if n == 0 || end == 0 {
		return nil
	}
	start := max(end-tailChunk, 0)
	data := make([]byte, end-start)
	if _, err := l.f.ReadAt(data, start); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if start > 0 && len(lines) > 1 {
		lines = lines[1:] // cut by the chunk
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// open opens the log at its end (after its last newline).
func (l *followedLog) open() bool {
	// Checked as the daemon checks the logs it writes: a path swapped
	// for a symlink or another user's file is not served.
	f, err := shm.OpenOwnedFile(l.path, unix.O_RDONLY, 0)
	if err != nil {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		f.Close()
		return false
	}
	l.f, l.ino, l.off, l.partial = f, st.Ino, st.Size, nil
	// A line being written is sent once it is finished.
	if l.off > 0 {
		start := max(l.off-tailChunk, 0)
		data := make([]byte, l.off-start)
		if n, _ := f.ReadAt(data, start); n == len(data) {
			if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
				l.off = start + int64(i) + 1
			} else if start == 0 {
				l.off = 0
			}
		}
	}
	return true
}

// more returns the lines added since the last call: from a new file
// when the log was rotated (another file at its path) or flushed
// (shorter than where reading was). It reads into buf, which it does not
// keep.
func (l *followedLog) more(buf []byte) [][]byte {
	var st unix.Stat_t
	if err := unix.Stat(l.path, &st); err != nil {
		return nil
	}
	if l.f == nil || st.Ino != l.ino || st.Size < l.off {
		if l.f != nil {
			l.f.Close()
		}
		f, err := shm.OpenOwnedFile(l.path, unix.O_RDONLY, 0)
		if err != nil {
			l.f = nil
			return nil
		}
		// The file opened, not the one the path named a moment ago.
		if unix.Fstat(int(f.Fd()), &st) != nil {
			f.Close()
			l.f = nil
			return nil
		}
		l.f, l.ino, l.off, l.partial = f, st.Ino, 0, nil
	}
	var lines [][]byte
	for {
		n, err := l.f.ReadAt(buf, l.off)
		l.off += int64(n)
		data := append(l.partial, buf[:n]...)
		l.partial = nil
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			lines = append(lines, bytes.Clone(data[:i]))
			data = data[i+1:]
		}
		if len(data) > tailChunk {
			lines = append(lines, bytes.Clone(data))
			data = nil
		}
		l.partial = bytes.Clone(data)
		if err != nil || n < len(buf) || len(lines) > maxLogLines {
			return lines
		}
	}
}
