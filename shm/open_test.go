package shm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Broken pages are ours but unusable: each is rebuilt into a working page,
// and the caller is told what was wrong.
func TestBrokenPageIsRebuilt(t *testing.T) {
	badVersion := newPage()
	binary.NativeEndian.PutUint32(badVersion[offVersion:], Version+1)
	badMagic := newPage()
	copy(badMagic, "NOTAFLAG")
	cases := []struct {
		name, why string
		data      []byte
		mode      os.FileMode
	}{
		{"empty", "size 0", nil, 0o600},
		{"short", "size 12", []byte("OPMFLAG\x00\x01\x00\x00\x00"), 0o600},
		{"long", "size 8192", append(newPage(), newPage()...), 0o600},
		{"bad magic", "bad magic", badMagic, 0o600},
		{"future version", "layout version 2", badVersion, 0o600},
		{"loose mode", "mode 0644", newPage(), 0o644},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := privateDir(t)
			path := filepath.Join(dir, FlagName)
			if err := os.WriteFile(path, tc.data, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			f, err := OpenFlag(dir)
			if err != nil {
				t.Fatalf("OpenFlag: %v", err)
			}
			defer f.Close()
			if !strings.Contains(f.Rebuilt, tc.why) {
				t.Fatalf("Rebuilt = %q, want it to mention %q", f.Rebuilt, tc.why)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != PageSize || fi.Mode().Perm() != 0o600 {
				t.Fatalf("rebuilt page: size %d mode %v", fi.Size(), fi.Mode())
			}
			if f.InProgress() {
				t.Fatal("rebuilt page is not idle")
			}
			if _, err := f.Acquire(0); err != nil {
				t.Fatalf("Acquire on rebuilt page: %v", err)
			}
			// A second process opening it now sees the same page.
			g := openFlag(t, dir)
			if g.Rebuilt != "" || !g.InProgress() {
				t.Fatalf("second open: Rebuilt=%q InProgress=%v", g.Rebuilt, g.InProgress())
			}
			if err := f.Release(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Hostile files may have been planted by someone else: they are refused,
// with an error that says what to remove, and left exactly as they were.
func TestHostileFileIsRefused(t *testing.T) {
	t.Run("symlink", func(t *testing.T) {
		dir := privateDir(t)
		target := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(target, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, FlagName)); err != nil {
			t.Fatal(err)
		}
		_, err := OpenFlag(dir)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "symlink") || !strings.Contains(err.Error(), "remove it") {
			t.Fatalf("OpenFlag = %v, want a refusal naming the symlink", err)
		}
		if b, _ := os.ReadFile(target); string(b) != "precious" {
			t.Fatalf("symlink target changed to %q", b)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := privateDir(t)
		if err := os.Mkdir(filepath.Join(dir, FlagName), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenFlag(dir); !errors.Is(err, ErrRefused) {
			t.Fatalf("OpenFlag = %v, want ErrRefused", err)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		dir := privateDir(t)
		if err := mkfifo(filepath.Join(dir, FlagName)); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenFlag(dir); !errors.Is(err, ErrRefused) {
			t.Fatalf("OpenFlag = %v, want ErrRefused", err)
		}
	})
	t.Run("other owner", func(t *testing.T) {
		dir := privateDir(t)
		path := filepath.Join(dir, FlagName)
		page := newPage()
		if err := os.WriteFile(path, page, 0o600); err != nil {
			t.Fatal(err)
		}
		giveAway(t, path)
		_, err := OpenFlag(dir)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "uid 65534") {
			t.Fatalf("OpenFlag = %v, want a refusal naming uid 65534", err)
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, page) {
			t.Fatal("the other user's file was changed")
		}
	})
}

func TestRuntimeDirChecks(t *testing.T) {
	t.Run("loose mode", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := OpenFlag(dir)
		if err == nil || !strings.Contains(err.Error(), "chmod 700") {
			t.Fatalf("OpenFlag on a 0755 dir = %v, want advice to chmod 700", err)
		}
		if err := EnsurePrivateDir(dir); err == nil {
			t.Fatal("EnsurePrivateDir accepted a 0755 directory")
		}
	})
	t.Run("symlinked dir", func(t *testing.T) {
		real := privateDir(t)
		link := filepath.Join(t.TempDir(), "rt")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		if err := EnsurePrivateDir(link); err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("EnsurePrivateDir on a symlink = %v", err)
		}
	})
	t.Run("other owner", func(t *testing.T) {
		dir := privateDir(t)
		giveAway(t, dir)
		if err := EnsurePrivateDir(dir); err == nil || !strings.Contains(err.Error(), "uid 65534") {
			t.Fatalf("EnsurePrivateDir = %v", err)
		}
	})
	t.Run("created private", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "rt")
		if err := EnsurePrivateDir(dir); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("mode %v, %v", fi.Mode(), err)
		}
	})
}

func TestHomeIsAbsolute(t *testing.T) {
	wd := privateDir(t)
	t.Chdir(wd)
	t.Setenv("OPM_HOME", "rel/home")
	h, err := Home()
	if err != nil || h != filepath.Join(wd, "rel/home") {
		t.Fatalf("Home = %q, %v; want %s, absolute", h, err, filepath.Join(wd, "rel/home"))
	}
	if fi, err := os.Stat(h); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("home not created private: %v %v", fi, err)
	}
}

// Concurrent first opens of a missing page all map the same page.
func TestConcurrentCreate(t *testing.T) {
	for range 50 {
		dir := privateDir(t)
		const n = 6
		flags := make(chan *Flag, n)
		for range n {
			go func() {
				f, err := OpenFlag(dir)
				if err != nil {
					t.Error(err)
				}
				flags <- f
			}()
		}
		var all []*Flag
		for range n {
			if f := <-flags; f != nil {
				all = append(all, f)
			}
		}
		if len(all) != n {
			t.FailNow()
		}
		if _, err := all[0].Acquire(0); err != nil {
			t.Fatal(err)
		}
		for _, f := range all {
			if !f.InProgress() || f.Rebuilt != "" {
				t.Fatalf("a concurrent opener mapped another page (rebuilt %q)", f.Rebuilt)
			}
		}
		for _, f := range all {
			f.Close()
		}
	}
}
