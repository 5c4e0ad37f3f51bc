package daemon

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"opm/daemon/api"
)

// The files side of watch and restart. One fsnotify watcher (one inotify
// instance: there are 128 a user by default) serves every watching app,
// created when the first app watches. It watches directories, each once
// however many apps watch it, and fileWatch maps them to the watch sets
// of those apps. Nothing here touches the app table: walks and Adds run
// on goroutines of their own, never on the loop, and relevant changes are
// posted to the loop as watchEvents. The loop never takes fileWatch.mu,
// so nothing here can stall it.

// neverWatched are the directory names no app watches, whatever it says.
var neverWatched = []string{"node_modules", ".git"}

// fileWatch is the daemon's one watcher of apps' files.
type fileWatch struct {
	log  *slog.Logger
	post func(event) bool
	// add watches one directory: w.Add, replaced by tests.
	add func(w *fsnotify.Watcher, dir string) error

	mu     sync.Mutex
	w      *fsnotify.Watcher // nil until the first app watches
	closed bool
	// dirs are the watched directories and the sets that watch them.
	dirs map[string][]*watchSet
	// wg counts the goroutines: the readers, walks and releases.
	wg sync.WaitGroup
}

func newFileWatch(s *Supervisor) *fileWatch {
	return &fileWatch{
		log:  s.log,
		post: s.post,
		add:  func(w *fsnotify.Watcher, dir string) error { return w.Add(dir) },
		dirs: map[string][]*watchSet{},
	}
}

// watchSet is what one arming of one app watches. Its settings never
// change; dirs, done and the warnings are fileWatch.mu's.
type watchSet struct {
	id  int
	seq uint64
	app string
	// roots are the watched paths, absolute; cwd is the app's.
	roots []string
	cwd   string
	// ignore are the app's ignore_watch globs, relative (to a root or
	// to cwd) and absolute; logs its own log files.
	ignore, ignoreAbs []string
	logs              []string
	own               []string

	dirs         map[string]bool
	done         bool
	limitWarned  bool
	addErrWarned bool
}

// newWatchSet is what spec asks to watch.
func newWatchSet(id int, seq uint64, spec api.Spec, cfg Config) *watchSet {
	ws := &watchSet{id: id, seq: seq, app: spec.Name, cwd: filepath.Clean(spec.Cwd), dirs: map[string]bool{}}
	for _, p := range spec.WatchPaths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(spec.Cwd, p)
		}
		ws.roots = append(ws.roots, filepath.Clean(p))
	}
	if len(ws.roots) == 0 {
		ws.roots = []string{ws.cwd}
	}
	for _, g := range spec.IgnoreWatch {
		g = strings.TrimPrefix(g, "./")
		for strings.HasPrefix(g, "**/") {
			g = strings.TrimPrefix(g, "**/")
		}
		for strings.HasSuffix(g, "/**") {
			g = strings.TrimSuffix(g, "/**")
		}
		g = strings.TrimSuffix(g, "/")
		switch {
		case g == "" || g == "**":
		case filepath.IsAbs(g):
			ws.ignoreAbs = append(ws.ignoreAbs, g)
		default:
			ws.ignore = append(ws.ignore, g)
		}
	}
	for _, l := range []string{spec.OutLog, spec.ErrLog, spec.CombinedLog} {
		if l != "" && l != api.DevNull {
			ws.logs = append(ws.logs, filepath.Clean(l))
		}
	}
	// opm's own directories: OPM_HOME, the runtime dir and the log dir
	// (log_dir: daemon.log there would restart the app at each line).
	for _, o := range []string{cfg.Home, cfg.RuntimeDir, cfg.logDir()} {
		if o == "" {
			continue
		}
		o = filepath.Clean(o)
		inside := false
		for _, r := range ws.roots {
			if _, ok := within(r, o); ok {
				inside = true
			}
		}
		if !inside {
			ws.own = append(ws.own, o)
		}
	}
	return ws
}

// within returns p relative to root ("." for root itself), ok false when
// p is not root or under it.
func within(p, root string) (string, bool) {
	switch {
	case p == root:
		return ".", true
	case root == "/":
		return p[1:], strings.HasPrefix(p, "/")
	case strings.HasPrefix(p, root) && p[len(root)] == '/':
		return p[len(root)+1:], true
	}
	return "", false
}

// relevant reports whether a change of p matters to the set: p is under
// a root and ignored by nothing.
func (ws *watchSet) relevant(p string) bool {
	if ws.ownLog(p) {
		return false
	}
	for _, r := range ws.roots {
		if rel, ok := within(p, r); ok && !ws.ignored(p, rel) {
			return true
		}
	}
	return false
}

// needs reports whether the directory dir is to be watched for the set:
// it is under a root and not ignored, or it leads to a root (a root that
// does not exist yet, or a file root, whose directory is watched).
func (ws *watchSet) needs(dir string) bool {
	for _, r := range ws.roots {
		if rel, ok := within(dir, r); ok {
			if !ws.ignored(dir, rel) {
				return true
			}
		} else if _, ok := within(r, dir); ok {
			return true
		}
	}
	return false
}

// ignored reports whether p, rel from its root, is ignored: under
// node_modules or .git, under opm's own directories, or matched by an
// ignore_watch glob — against a base name or a path from the root or from
// the app's cwd, as chokidar users expect of "*.log", "tmp", "dist/*".
func (ws *watchSet) ignored(p, rel string) bool {
	for _, o := range ws.own {
		if _, ok := within(p, o); ok {
			return true
		}
	}
	if rel == "." {
		return false
	}
	parts := strings.Split(rel, "/")
	for _, part := range parts {
		for _, n := range neverWatched {
			if part == n {
				return true
			}
		}
	}
	if globbed(ws.ignore, parts, true) {
		return true
	}
	if crel, ok := within(p, ws.cwd); ok && crel != "." && globbed(ws.ignore, strings.Split(crel, "/"), false) {
		return true
	}
	if len(ws.ignoreAbs) > 0 && globbed(ws.ignoreAbs, strings.Split(p, "/"), false) {
		return true
	}
	return false
}

// globbed reports whether a glob matches one of the paths that parts
// begins with (a/b matched by "a" or "a/*" ignores a/b/c), or, with
// names, one of the parts.
func globbed(globs, parts []string, names bool) bool {
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		for _, g := range globs {
			if ok, _ := path.Match(g, prefix); ok {
				return true
			}
			if names {
				if ok, _ := path.Match(g, parts[i]); ok {
					return true
				}
			}
		}
	}
	return false
}

// ownLog reports whether p is one of the app's own log files or one of
// their rotated backups (compressed, or being compressed): writing its
// log must never restart an app.
func (ws *watchSet) ownLog(p string) bool {
	for _, l := range ws.logs {
		if p == l {
			return true
		}
		if filepath.Dir(p) == filepath.Dir(l) {
			if _, ok := api.BackupTime(l, strings.TrimSuffix(filepath.Base(p), ".tmp")); ok {
				return true
			}
		}
	}
	return false
}

// arm starts watching what ws names, off the loop.
func (fw *fileWatch) arm(ws *watchSet) {
	fw.wg.Add(1)
	go func() {
		defer fw.wg.Done()
		for _, r := range ws.roots {
			if !fw.watchRoot(ws, r) {
				return
			}
		}
		fw.mu.Lock()
		n, done := len(ws.dirs), ws.done || fw.closed
		fw.mu.Unlock()
		if !done {
			fw.log.Info("watching the app's files", "event", "watch-armed", "app", ws.app, "paths", strings.Join(ws.roots, ","), "dirs", n)
		}
	}()
}

// watchRoot watches the root r of ws: the tree of a directory, the
// directory of a file, or, while r does not exist, the nearest directory
// there is, for r to appear. False means stop watching.
func (fw *fileWatch) watchRoot(ws *watchSet, r string) bool {
	start := r
	st, err := os.Stat(r)
	switch {
	case err == nil && !st.IsDir():
		start = filepath.Dir(r)
	case err != nil:
		for start != "/" {
			start = filepath.Dir(start)
			if st, err := os.Stat(start); err == nil && st.IsDir() {
				break
			}
		}
		fw.log.Warn("watched path not found: watching for it to appear", "event", "watch-missing", "app", ws.app, "path", r, "watching", start)
	}
	return fw.walk(ws, start)
}

// release stops watching for ws, off the loop: a directory no set
// watches any more is no longer watched.
func (fw *fileWatch) release(ws *watchSet) {
	fw.wg.Add(1)
	go func() {
		defer fw.wg.Done()
		fw.mu.Lock()
		defer fw.mu.Unlock()
		ws.done = true
		for d := range ws.dirs {
			fw.dropLocked(ws, d)
		}
	}()
}

// dropLocked stops watching d for ws.
func (fw *fileWatch) dropLocked(ws *watchSet, d string) {
	delete(ws.dirs, d)
	sets := fw.dirs[d]
	for i, o := range sets {
		if o == ws {
			sets = append(sets[:i], sets[i+1:]...)
			break
		}
	}
	if len(sets) > 0 {
		fw.dirs[d] = sets
		return
	}
	delete(fw.dirs, d)
	if fw.w != nil && !fw.closed {
		_ = fw.w.Remove(d) // gone already, when d was removed
	}
}

// walk watches dir for ws, and the directories under it that ws needs.
// It returns false when watching must stop: the set was released, the
// daemon is exiting, or the watch limit was reached.
func (fw *fileWatch) walk(ws *watchSet, dir string) bool {
	if !fw.addDir(ws, dir) {
		return false
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true // removed meanwhile, or unreadable: said by addDir
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if ws.needs(sub) && !fw.walk(ws, sub) {
			return false
		}
	}
	return true
}

// addDir watches the directory dir for ws; false means stop watching.
func (fw *fileWatch) addDir(ws *watchSet, dir string) bool {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.closed || ws.done {
		return false
	}
	if fw.w == nil {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			hint := "the daemon could not start inotify; the app runs, unwatched"
			if errors.Is(err, unix.EMFILE) {
				hint = "too many inotify instances: raise fs.inotify.max_user_instances (sysctl fs.inotify.max_user_instances=1024), then run 'opm daemon restart'"
			}
			fw.log.Warn("cannot watch the app's files", "event", "watch-failed", "app", ws.app, "error", err, "hint", hint)
			return false
		}
		fw.w = w
		fw.wg.Add(2)
		go fw.readEvents(w)
		go fw.readErrors(w)
	}
	err := fw.add(fw.w, dir)
	switch {
	case err == nil:
		if !ws.dirs[dir] {
			ws.dirs[dir] = true
			fw.dirs[dir] = append(fw.dirs[dir], ws)
		}
		return true
	case errors.Is(err, unix.ENOSPC):
		if !ws.limitWarned {
			ws.limitWarned = true
			fw.log.Warn("inotify watch limit reached: the app's files are only partly watched",
				"event", "watch-limit", "app", ws.app, "path", dir, "watched_dirs", len(ws.dirs),
				"roots", strings.Join(ws.roots, ","), "limit", "fs.inotify.max_user_watches="+readSysctl("fs/inotify/max_user_watches"),
				"hint", "raise it (sysctl fs.inotify.max_user_watches=524288; in /etc/sysctl.d/ to keep it), then run 'opm daemon restart'; or watch less: --watch=PATH, --ignore-watch")
		}
		return false
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.ENOTDIR):
		return true // gone meanwhile
	default:
		if !ws.addErrWarned {
			ws.addErrWarned = true
			fw.log.Warn("cannot watch a directory of the app", "event", "watch-failed", "app", ws.app, "path", dir, "error", err)
		}
		return true
	}
}

// readSysctl is the value of /proc/sys/<name>, "?" when unknown.
func readSysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// readEvents handles what the watcher reports, until it is closed.
func (fw *fileWatch) readEvents(w *fsnotify.Watcher) {
	defer fw.wg.Done()
	for ev := range w.Events {
		fw.handle(ev)
	}
}

// readErrors logs the watcher's errors. It never waits for fw.mu or the
// loop: fsnotify reports errors while holding its own lock, which Add
// needs. When the kernel's queue overflowed, changes were lost: every
// set counts as changed and is walked again, for the directories made
// meanwhile.
func (fw *fileWatch) readErrors(w *fsnotify.Watcher) {
	defer fw.wg.Done()
	for err := range w.Errors {
		fw.log.Warn("watching apps' files", "event", "watch-error", "error", err)
		if errors.Is(err, fsnotify.ErrEventOverflow) {
			fw.wg.Add(1)
			go fw.rescan()
		}
	}
}

// rescan treats every set as changed and walks it again.
func (fw *fileWatch) rescan() {
	defer fw.wg.Done()
	fw.mu.Lock()
	seen := map[*watchSet]bool{}
	var sets []*watchSet
	for _, ss := range fw.dirs {
		for _, ws := range ss {
			if !seen[ws] && !ws.done {
				seen[ws] = true
				sets = append(sets, ws)
			}
		}
	}
	fw.mu.Unlock()
	for _, ws := range sets {
		for _, r := range ws.roots {
			if _, err := os.Stat(r); err == nil {
				fw.walk(ws, r)
			}
		}
		fw.post(watchEvent{id: ws.id, seq: ws.seq, path: ws.roots[0]})
	}
}

// handle takes one change: a directory removed or moved away is
// forgotten, one made or moved in is watched (and walked: files may be in
// it already), and the sets it matters to hear of it.
func (fw *fileWatch) handle(ev fsnotify.Event) {
	name := filepath.Clean(ev.Name)
	isDir := false
	if ev.Has(fsnotify.Create) {
		st, err := os.Lstat(name)
		isDir = err == nil && st.IsDir()
	}
	type job struct {
		ws  *watchSet
		dir string
	}
	var walks, roots []job
	var changed []*watchSet
	fw.mu.Lock()
	sets := append([]*watchSet(nil), fw.dirs[filepath.Dir(name)]...)
	for _, ws := range fw.dirs[name] { // the event of a watched directory itself
		if !slices.Contains(sets, ws) {
			sets = append(sets, ws)
		}
	}
	// A watched directory removed or moved away.
	gone := (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) && len(fw.dirs[name]) > 0
	if gone {
		fw.forgetLocked(name)
	}
	for _, ws := range sets {
		if ws.done {
			continue
		}
		if ws.relevant(name) {
			changed = append(changed, ws)
		}
		if gone && slices.Contains(ws.roots, name) {
			roots = append(roots, job{ws, name}) // to be watched for again
		}
		if isDir && ws.needs(name) {
			walks = append(walks, job{ws, name})
		}
	}
	fw.mu.Unlock()
	for _, j := range walks {
		fw.walk(j.ws, j.dir)
	}
	for _, j := range roots {
		fw.watchRoot(j.ws, j.dir)
	}
	for _, ws := range changed {
		fw.post(watchEvent{id: ws.id, seq: ws.seq, path: name})
	}
}

// forgetLocked stops watching the directory name and those under it
// (removed, or moved away: a directory moved in is a new one).
func (fw *fileWatch) forgetLocked(name string) {
	if _, ok := fw.dirs[name]; !ok {
		return // not a watched directory
	}
	for d, sets := range fw.dirs {
		if _, ok := within(d, name); !ok {
			continue
		}
		for _, ws := range append([]*watchSet(nil), sets...) {
			fw.dropLocked(ws, d)
		}
	}
}

// close stops watching and waits for every goroutine of the watcher.
// Called once the loop has ended.
func (fw *fileWatch) close() {
	if fw == nil {
		return // no app ever watched
	}
	fw.mu.Lock()
	fw.closed = true
	w := fw.w
	fw.mu.Unlock()
	if w != nil {
		w.Close()
	}
	fw.wg.Wait()
}
