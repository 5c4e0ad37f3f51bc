package shm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// privateDir is a 0700 temp directory whose ancestors are trustworthy
// (/tmp is sticky).
func privateDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

// giveAway makes path another user's (uid 65534). It skips the test
// unless it runs as root.
func giveAway(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}

func TestCheckHome(t *testing.T) {
	t.Run("own private home", func(t *testing.T) {
		if _, err := CheckHome(privateDir(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("symlink to own home", func(t *testing.T) {
		base := privateDir(t)
		real := filepath.Join(base, "real")
		if err := os.Mkdir(real, 0o700); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(base, "link")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		got, err := CheckHome(link)
		if err != nil {
			t.Fatalf("a symlink to a home of one's own is fine: %v", err)
		}
		if got != real {
			t.Fatalf("CheckHome = %s, want the real path %s: later opens must not go through the link", got, real)
		}
	})
	for _, tt := range []struct {
		name string
		home func(t *testing.T) string
		want string // in the refusal
	}{
		{"group writable", func(t *testing.T) string {
			return mkdirMode(t, filepath.Join(privateDir(t), "home"), 0o770)
		}, "chmod go-w"},
		{"ancestor writable by anyone", func(t *testing.T) string {
			open := mkdirMode(t, filepath.Join(privateDir(t), "open"), 0o777)
			return mkdirMode(t, filepath.Join(open, "home"), 0o700)
		}, "written by anyone"},
		{"another user's home", func(t *testing.T) string {
			home := privateDir(t)
			giveAway(t, home)
			return home
		}, "uid 65534"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := CheckHome(tt.home(t)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckHome = %v, want a refusal saying %q", err, tt.want)
			}
		})
	}
}

// mkdirMode makes the directory path with exactly mode (whatever the
// umask) and returns it.
func mkdirMode(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenOwned(t *testing.T) {
	dir := privateDir(t)
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("creates", func(t *testing.T) {
		fd, err := OpenOwned(filepath.Join(dir, "new.log"), unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
	})
	t.Run("symlink", func(t *testing.T) {
		link := filepath.Join(dir, "link.log")
		if err := os.Symlink(victim, link); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenOwned(link, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o600); err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("OpenOwned through a symlink = %v", err)
		}
	})
	t.Run("hard link", func(t *testing.T) {
		hard := filepath.Join(dir, "hard.log")
		if err := os.Link(victim, hard); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(hard)
		if _, err := OpenOwned(hard, unix.O_WRONLY, 0); err == nil || !strings.Contains(err.Error(), "hard links") {
			t.Fatalf("OpenOwned of a hard link = %v", err)
		}
	})
	t.Run("another user's file", func(t *testing.T) {
		p := filepath.Join(dir, "theirs.log")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		giveAway(t, p)
		if _, err := OpenOwned(p, unix.O_WRONLY, 0); err == nil || !strings.Contains(err.Error(), "uid 65534") {
			t.Fatalf("OpenOwned of another user's file = %v", err)
		}
	})
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the victim file changed: %q", b)
	}
}

// Many processes' first commands may create the secret at once: all end
// with the same one, created private.
func TestSecretCreatedOnce(t *testing.T) {
	home := privateDir(t)
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = Secret(home)
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if len(got[i]) != secretSize || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("secret %d = %x, want %x", i, got[i], got[0])
		}
	}
	fi, err := os.Stat(filepath.Join(home, SecretName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi, err)
	}
	again, err := Secret(home)
	if err != nil || !bytes.Equal(again, got[0]) {
		t.Fatalf("second read = %x, %v", again, err)
	}
	ents, _ := os.ReadDir(home)
	if len(ents) != 1 {
		t.Fatalf("home holds %d entries, want only the secret (temp files left?)", len(ents))
	}

	// A damaged secret is refused with what to do, not silently replaced:
	// the names made from it would change under running apps.
	if err := os.WriteFile(filepath.Join(home, SecretName), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Secret(home); err == nil || !strings.Contains(err.Error(), "remove it") {
		t.Fatalf("Secret of a damaged file = %v", err)
	}
}
