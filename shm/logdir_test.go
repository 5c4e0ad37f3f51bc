package shm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveLogs(t *testing.T) {
	home := privateDir(t)
	t.Setenv(LogDirEnv, "")
	l, err := ResolveLogs(home, "")
	if err != nil || l.Dir != filepath.Join(home, "logs") || l.DaemonLog != filepath.Join(home, "daemon.log") || l.Explicit || l.HomeReadOnly {
		t.Fatalf("default: %+v %v", l, err)
	}
	conf := filepath.Join(privateDir(t), "conf-logs")
	l, err = ResolveLogs(home, conf)
	if err != nil || l.Dir != conf || l.DaemonLog != filepath.Join(conf, "daemon.log") || !l.Explicit {
		t.Fatalf("log_dir: %+v %v", l, err)
	}
	if fi, err := os.Lstat(conf); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("log_dir not made 0700: %v %v", fi, err)
	}
	env := filepath.Join(privateDir(t), "env-logs")
	t.Setenv(LogDirEnv, env)
	if l, err = ResolveLogs(home, conf); err != nil || l.Dir != env {
		t.Fatalf("OPM_LOG_DIR does not win over log_dir: %+v %v", l, err)
	}
	t.Setenv(LogDirEnv, "rel/logs")
	if _, err = ResolveLogs(home, conf); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Fatalf("relative OPM_LOG_DIR: %v", err)
	}
	t.Setenv(LogDirEnv, "")
	if _, err = ResolveLogs(home, "rel"); err == nil || !strings.Contains(err.Error(), "log_dir") {
		t.Fatalf("relative log_dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(home, configName), []byte("log_dir = \""+conf+"\"\nother = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p := PlannedLogs(home); p.DaemonLog != filepath.Join(conf, "daemon.log") {
		t.Fatalf("PlannedLogs: %+v", p)
	}
	open := filepath.Join(privateDir(t), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err = ResolveLogs(home, open); err == nil {
		t.Fatal("a log_dir others may write to was taken")
	}
	// One that others could replace: a directory above it is theirs to
	// write.
	under := filepath.Join(open, "logs")
	if _, err = ResolveLogs(home, under); err == nil || !strings.Contains(err.Error(), "could replace it") {
		t.Fatalf("a log_dir under a directory anyone may write: %v; want it refused", err)
	}
}

// This boot's secret in the runtime dir is used while OPM_HOME has none,
// checked as the home's is; once OPM_HOME is writable it gets the same
// bytes (tokens stay valid), and a home without either gets a new one.
func TestHomeSecretPrefersThisBoot(t *testing.T) {
	home, rt := privateDir(t), privateDir(t)
	boot := bytes.Repeat([]byte{7}, secretSize)
	if err := os.WriteFile(filepath.Join(rt, SecretName), boot, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(rt, SecretName), 0o666); err != nil {
		t.Fatal(err)
	}
	if _, _, err := HomeSecret(home, rt); err == nil {
		t.Fatal("a runtime secret others may write was taken")
	}
	if err := os.Chmod(filepath.Join(rt, SecretName), 0o600); err != nil {
		t.Fatal(err)
	}
	got, note, err := HomeSecret(home, rt)
	if err != nil || !bytes.Equal(got, boot) || note != "" {
		t.Fatalf("this boot's secret and a writable home: %x %q %v; want the same bytes, now in the home", got, note, err)
	}
	if b, err := os.ReadFile(filepath.Join(home, SecretName)); err != nil || !bytes.Equal(b, boot) {
		t.Fatalf("the home did not get this boot's secret: %x %v", b, err)
	}
	home = privateDir(t)
	os.Remove(filepath.Join(rt, SecretName))
	got, note, err = HomeSecret(home, rt)
	if err != nil || note != "" || len(got) != secretSize {
		t.Fatalf("writable home: %x %q %v", got, note, err)
	}
	if _, err := os.Stat(filepath.Join(home, SecretName)); err != nil {
		t.Fatalf("the secret was not made in the writable home: %v", err)
	}
}
