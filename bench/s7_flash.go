package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/proc"
)

// Scenario flash: what a crash costs the storage under OPM_HOME (an SD
// card or eMMC on a small box wears with every write). opm only. N apps
// run for a window in which one app is killed with SIGKILL every second,
// a different one each time (round robin); each kill waits until /proc
// shows the app's new process before the next second's kill. Every file
// under OPM_HOME is listed (size, inode, mtime) before and after the
// window: an appended file counts its growth, a new or replaced one (or
// one rewritten in place) its whole size. The daemon's /proc/<pid>/io
// gives the bytes it passed to write(2) on any fd (wchar) and those sent
// to storage (write_bytes). No opm command runs during the window. The
// apps (sleep) write nothing, so whatever grows under OPM_HOME/logs is
// the daemon's.

const scenarioFlash = "flash bytes"

// flashEvery is the crash rate: one a second.
const flashEvery = time.Second

func runFlash(ctx context.Context, b *bench) error {
	if b.opm == nil {
		return nil // opm only
	}
	n, window := b.p.FlashN, b.p.FlashTime
	res, err := measureFlash(ctx, b, n, window)
	if err != nil {
		return fmt.Errorf("opm: %w", err)
	}
	kills := float64(res.kills)
	set := func(metric, unit string, v float64) *row { return b.rep.set(scenarioFlash, metric, unit, "opm", v) }
	set("crashes in window", "count", kills).noRatio = true
	set("bytes to OPM_HOME per crash", "bytes", float64(res.bytes)/kills).target("≤ 200 (one short line)", atMost(200))
	set("bytes to OPM_HOME in window", "bytes", float64(res.bytes))
	set("files changed", "count", float64(len(res.changes))).noRatio = true
	set("daemon wchar per crash", "bytes", float64(sub(res.after.Wchar, res.before.Wchar))/kills)
	set("daemon storage write_bytes per crash", "bytes", float64(sub(res.after.WriteBytes, res.before.WriteBytes))/kills)
	files := "none"
	if len(res.changes) > 0 {
		l := make([]string, len(res.changes))
		for i, c := range res.changes {
			l[i] = c.String()
		}
		files = strings.Join(l, ", ")
	}
	b.rep.notef("flash: %d apps, %d crashes in %s (SIGKILL, one a second, round robin); files changed under OPM_HOME: %s", n, res.kills, window, files)
	if res.tmpfs {
		b.rep.notef("flash: OPM_HOME is on tmpfs here, so the daemon's write_bytes (storage) reads 0 whatever it writes; the bytes to OPM_HOME and wchar still count")
	}
	return nil
}

type flashResult struct {
	kills         int
	changes       []fileChange
	bytes         int64
	before, after proc.Usage
	tmpfs         bool
}

func measureFlash(ctx context.Context, b *bench, n int, window time.Duration) (res flashResult, err error) {
	err = b.withSandbox(b.opm, func(sb *sandbox) error {
		if err := startApps(ctx, b.opm, sb, n); err != nil {
			return err
		}
		daemon, err := daemonPID(b.opm, sb)
		if err != nil {
			return err
		}
		var fsInfo unix.Statfs_t
		if unix.Statfs(sb.home, &fsInfo) == nil && fsInfo.Type == unix.TMPFS_MAGIC {
			res.tmpfs = true
		}
		// The same settle as the idle daemon's: the window starts after
		// the start commands' effects.
		if err := pause(ctx, idleSettle); err != nil {
			return err
		}
		before, err := snapshotDir(sb.home)
		if err != nil {
			return err
		}
		// Kill at 0, 1, …, K-1 s, list again at K s: the last crash has a
		// second to be written down like the others.
		crashes := int(window / flashEvery)
		u, err := usageDuring(daemon, func() error {
			tick := time.NewTicker(flashEvery)
			defer tick.Stop()
			for res.kills < crashes {
				if err := flashKill(ctx, sb, daemon, res.kills%n); err != nil {
					return fmt.Errorf("crash %d: %w", res.kills+1, err)
				}
				res.kills++
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-tick.C:
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		res.before, res.after = u.before, u.after
		after, err := snapshotDir(sb.home)
		if err != nil {
			return err
		}
		res.changes = diffSnapshots(before, after)
		res.bytes = changedBytes(res.changes)
		return checkOnce(sb, n)
	})
	return res, err
}

// flashKill SIGKILLs app i's process and waits until the daemon has
// started the app again in a new process.
func flashKill(ctx context.Context, sb *sandbox, daemon, i int) error {
	c, err := scanApps(sb.w)
	if err != nil {
		return err
	}
	if len(c[i]) != 1 {
		return fmt.Errorf("app %d runs %d times", i, len(c[i]))
	}
	if _, _, err := killAndTime(ctx, sb, daemon, i, c[i][0]); err != nil {
		return fmt.Errorf("app %d: %w", i, err)
	}
	return nil
}

// fileState is what a listing records of a regular file.
type fileState struct {
	Size  int64
	Ino   uint64
	Mtime int64 // ns
}

// dirSnapshot maps the paths of the regular files under a directory,
// relative to it, to their state.
type dirSnapshot map[string]fileState

// snapshotDir lists the regular files under root. Files that vanish
// while it runs (a rotation) are left out.
func snapshotDir(root string) (dirSnapshot, error) {
	s := dirSnapshot{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != root && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no inode", path)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		s[rel] = fileState{Size: info.Size(), Ino: st.Ino, Mtime: info.ModTime().UnixNano()}
		return nil
	})
	return s, err
}

// fileChange is one file that differs between two listings.
type fileChange struct {
	Path string
	// Kind is new, replaced (another inode at the path), appended (the
	// same inode, larger), rewritten (the same inode, modified, not
	// larger) or removed.
	Kind string
	// Bytes written, at least: the growth of an appended file, the whole
	// size of the others; 0 for a removed one.
	Bytes int64
}

func (c fileChange) String() string {
	if c.Kind == "appended" {
		return fmt.Sprintf("%s +%d bytes (appended)", c.Path, c.Bytes)
	}
	return fmt.Sprintf("%s %d bytes (%s)", c.Path, c.Bytes, c.Kind)
}

// diffSnapshots returns the files that differ, by path.
func diffSnapshots(before, after dirSnapshot) []fileChange {
	var out []fileChange
	for p, a := range after {
		b, ok := before[p]
		switch {
		case !ok:
			out = append(out, fileChange{p, "new", a.Size})
		case a.Ino != b.Ino:
			out = append(out, fileChange{p, "replaced", a.Size})
		case a.Size > b.Size:
			out = append(out, fileChange{p, "appended", a.Size - b.Size})
		case a.Mtime != b.Mtime || a.Size != b.Size:
			out = append(out, fileChange{p, "rewritten", a.Size})
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, fileChange{p, "removed", 0})
		}
	}
	slices.SortFunc(out, func(x, y fileChange) int { return strings.Compare(x.Path, y.Path) })
	return out
}

// changedBytes sums the bytes of changes.
func changedBytes(cs []fileChange) int64 {
	var t int64
	for _, c := range cs {
		t += c.Bytes
	}
	return t
}
