package shm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// resolveEnv gives one test a fresh home whose default runtime directory
// under /dev/shm is removed afterwards, with OPM_RUNTIME_DIR and
// XDG_RUNTIME_DIR unset.
func resolveEnv(t *testing.T) (home, def string) {
	t.Helper()
	if fi, err := os.Stat(shmDir); err != nil || !fi.IsDir() {
		t.Skip("needs /dev/shm")
	}
	t.Setenv("OPM_RUNTIME_DIR", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	home = privateDir(t)
	def = DefaultRuntimeDir(home)
	t.Cleanup(func() { os.RemoveAll(def) })
	return home, def
}

// resolve resolves and removes the directory it chose at the end of the
// test.
func resolve(t *testing.T, home string) Runtime {
	t.Helper()
	r, err := ResolveRuntimeDir(home)
	if err != nil {
		t.Fatalf("ResolveRuntimeDir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(r.Dir) })
	checkPrivate(t, r.Dir)
	return r
}

func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v, %v; want a 0700 directory", dir, fi, err)
	}
}

func TestResolveDefault(t *testing.T) {
	home, def := resolveEnv(t)
	r := resolve(t, home)
	if r.Dir != def || r.Note != "" {
		t.Fatalf("resolved %+v, want the default %s and no note", r, def)
	}
	if !strings.HasPrefix(def, "/dev/shm/opm-") {
		t.Fatalf("default %s is not under /dev/shm", def)
	}
	other, _ := resolveEnv(t)
	if o := resolve(t, other); o.Dir == r.Dir {
		t.Fatalf("two homes share runtime dir %s", o.Dir)
	}
	if r2 := resolve(t, home); r2 != r {
		t.Fatalf("second resolution %+v differs from the first %+v", r2, r)
	}
}

func TestResolveExplicit(t *testing.T) {
	t.Run("private", func(t *testing.T) {
		dir := filepath.Join(privateDir(t), "rt")
		t.Setenv("OPM_RUNTIME_DIR", dir)
		if r := resolve(t, "/nonexistent/home"); r.Dir != dir || r.Note != "" {
			t.Fatalf("resolved %+v, want %s", r, dir)
		}
	})
	refused := func(t *testing.T, dir string, want ...string) {
		t.Helper()
		t.Setenv("OPM_RUNTIME_DIR", dir)
		_, err := ResolveRuntimeDir("/nonexistent/home")
		if err == nil {
			t.Fatalf("OPM_RUNTIME_DIR %s was accepted", dir)
		}
		for _, w := range append(want, "OPM_RUNTIME_DIR "+dir, "unset") {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("error %q does not say %q", err, w)
			}
		}
	}
	t.Run("open to others", func(t *testing.T) {
		dir := privateDir(t)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		refused(t, dir, "mode 0755", "chmod 700")
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
			t.Fatal("the directory was changed")
		}
	})
	t.Run("symlink", func(t *testing.T) {
		base := privateDir(t)
		link := filepath.Join(base, "link")
		if err := os.Symlink(privateDir(t), link); err != nil {
			t.Fatal(err)
		}
		refused(t, link, "symlink")
	})
	t.Run("other owner", func(t *testing.T) {
		dir := privateDir(t)
		giveAway(t, dir)
		refused(t, dir, "uid 65534")
	})
}

// squat makes def look taken by someone else, or broken: as root, a
// directory of uid 65534; otherwise a directory of ours open to others.
func squat(t *testing.T, def string) string {
	t.Helper()
	mkdirMode(t, def, 0o755)
	if os.Geteuid() != 0 {
		return "mode 0755"
	}
	if err := os.Chown(def, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	return "uid 65534"
}

// A squatted default sends opm to a name in /dev/shm that nobody can
// predict and every resolution agrees on, whatever XDG_RUNTIME_DIR says
// (it differs between a login shell and cron: the CLI and the daemon must
// not split over it); it stays in use when the squatter leaves.
func TestResolveSquattedToSecretName(t *testing.T) {
	for name, xdg := range map[string]func(t *testing.T) string{
		"no XDG_RUNTIME_DIR":      func(*testing.T) string { return "" },
		"private XDG_RUNTIME_DIR": privateDir,
		"XDG_RUNTIME_DIR open to others": func(t *testing.T) string {
			d := privateDir(t)
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
			return d
		},
	} {
		t.Run(name, func(t *testing.T) {
			home, def := resolveEnv(t)
			why := squat(t, def)
			t.Setenv("XDG_RUNTIME_DIR", xdg(t))
			r := resolve(t, home)
			if r.Dir == def || filepath.Dir(r.Dir) != shmDir || !strings.HasPrefix(filepath.Base(r.Dir), "opm-") || len(filepath.Base(r.Dir)) < len(filepath.Base(def))+24 {
				t.Fatalf("resolved %s, want an unpredictable name in %s other than %s", r.Dir, shmDir, def)
			}
			for _, w := range []string{def, why, r.Dir, "secret"} {
				if !strings.Contains(r.Note, w) {
					t.Fatalf("note %q does not say %q", r.Note, w)
				}
			}
			if _, err := os.Stat(filepath.Join(home, SecretName)); err != nil {
				t.Fatalf("no secret in home: %v", err)
			}
			if r2 := resolve(t, home); r2.Dir != r.Dir {
				t.Fatalf("second resolution chose %s, the first %s", r2.Dir, r.Dir)
			}
			t.Setenv("XDG_RUNTIME_DIR", privateDir(t))
			if r2 := resolve(t, home); r2.Dir != r.Dir {
				t.Fatalf("with another XDG_RUNTIME_DIR: %s, without: %s", r2.Dir, r.Dir)
			}
			if err := os.Remove(def); err != nil {
				t.Fatal(err)
			}
			r3 := resolve(t, home)
			if r3.Dir != r.Dir || !strings.Contains(r3.Note, "stays in use") {
				t.Fatalf("after the squatter left: %+v, want the fallback %s kept, with a note", r3, r.Dir)
			}
			if _, err := os.Lstat(def); err == nil {
				t.Fatalf("the default %s was made while a fallback is in use", def)
			}
		})
	}
}

// The secret of an untrusted home is not used: with the default squatted
// and no XDG_RUNTIME_DIR, resolution fails and says why.
func TestResolveSquattedUntrustedHome(t *testing.T) {
	home, def := resolveEnv(t)
	why := squat(t, def)
	if err := os.Chmod(home, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := ResolveRuntimeDir(home)
	if err == nil {
		t.Fatal("resolved a runtime dir from the secret of a home anyone may write to")
	}
	for _, w := range []string{def, why, "OPM_HOME", "OPM_RUNTIME_DIR"} {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not say %q", err, w)
		}
	}
	if _, err := os.Stat(filepath.Join(home, SecretName)); err == nil {
		t.Fatal("a secret was written into an untrusted home")
	}
}

// A symlink or a file at the default name is a squat too.
func TestResolveDefaultNotADirectory(t *testing.T) {
	for name, plant := range map[string]func(string) error{
		"symlink": func(p string) error { return os.Symlink("/tmp", p) },
		"file":    func(p string) error { return os.WriteFile(p, nil, 0o600) },
	} {
		t.Run(name, func(t *testing.T) {
			home, def := resolveEnv(t)
			if err := plant(def); err != nil {
				t.Fatal(err)
			}
			r := resolve(t, home)
			if r.Dir == def || r.Note == "" {
				t.Fatalf("resolved %+v, want a fallback with a note", r)
			}
		})
	}
}
