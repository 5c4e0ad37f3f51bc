package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mattn/go-shellwords"

	"opm/daemon/testkit"
)

// The startup tests write units only where OPM_STARTUP_DIR (or
// XDG_CONFIG_HOME) points: never into /etc.

// startupDirEnv names the directory opm startup writes into.
const startupDirEnv = "OPM_STARTUP_DIR"

// unitSettings returns a unit file's settings, by key, in order.
func unitSettings(text string) map[string][]string {
	out := map[string][]string{}
	for _, l := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// systemdVerify runs `systemd-analyze verify` on unit files and fails the
// test on any complaint (it exits 0 after warnings); it skips the test
// without systemd-analyze.
func systemdVerify(t *testing.T, paths ...string) {
	t.Helper()
	exe, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed ('make testdeps' installs it, from Debian's systemd package): the units are not checked by systemd")
	}
	cmd := exec.Command(exe, append([]string{"verify"}, paths...)...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=")
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		var text strings.Builder
		for _, p := range paths {
			data, _ := os.ReadFile(p)
			text.WriteString("---- " + p + "\n" + string(data))
		}
		t.Fatalf("systemd-analyze verify: %v\n%s\n%s", err, out, text.String())
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestStartupSystemd writes root's system unit, writes it again, prints
// it, and removes it; the unit runs this opm with this OPM_HOME and
// passes systemd-analyze verify.
func TestStartupSystemd(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: a system unit is root's to write")
	}
	e := newEnv(t)
	dir := filepath.Join(t.TempDir(), "system")
	env := []string{startupDirEnv + "=" + dir}
	unit := filepath.Join(dir, "opm-root.service")

	r := e.runWith(env, "startup", "systemd")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+unit) || !strings.Contains(r.stdout, "\n  systemctl enable --now opm-root.service\n") {
		t.Fatalf("startup systemd: %v", r)
	}
	text := readText(t, unit)
	set := unitSettings(text)
	exe, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"ExecStart": exe + " daemon run --restore", "User": "root", "Type": "notify", "NotifyAccess": "main",
		"KillMode": "mixed", "Delegate": "yes", "Restart": "on-failure", "TimeoutStopSec": "90s", "WantedBy": "multi-user.target",
	} {
		if len(set[k]) != 1 || set[k][0] != v {
			t.Errorf("%s=%q, want %q", k, set[k], v)
		}
	}
	if want := []string{"OPM_HOME=" + e.home, "OPM_RUNTIME_DIR=" + e.runtime}; !slices.Equal(set["Environment"], want) {
		t.Errorf("Environment=%q, want %q", set["Environment"], want)
	}
	if set["WatchdogSec"] != nil {
		t.Error("a watchdog without --watchdog: the idle daemon would wake up")
	}
	if st, err := os.Stat(unit); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("unit mode: %v %v", st.Mode(), err)
	}
	systemdVerify(t, unit)

	// Again: the same file, and it says it replaced it.
	r = e.runWith(env, "startup", "systemd")
	if r.code != 0 || !strings.Contains(r.stdout, "replaced "+unit+" (it was the same)") || readText(t, unit) != text {
		t.Errorf("startup systemd again: %v", r)
	}
	// A changed unit (a watchdog) replaces it.
	r = e.runWith(env, "startup", "systemd", "--watchdog", "20s")
	if r.code != 0 || !strings.Contains(r.stdout, "replaced "+unit+"\n") || !strings.Contains(r.stdout, "daemon-reload") {
		t.Errorf("startup systemd --watchdog: %v", r)
	}
	if got := unitSettings(readText(t, unit))["WatchdogSec"]; !slices.Equal(got, []string{"20s"}) {
		t.Errorf("--watchdog 20s: WatchdogSec=%q", got)
	}
	systemdVerify(t, unit)

	// --print writes nothing.
	printDir := filepath.Join(t.TempDir(), "print")
	r = e.runWith([]string{startupDirEnv + "=" + printDir}, "startup", "systemd", "--print")
	if r.code != 0 || r.stdout != text {
		t.Errorf("startup systemd --print: %v\nwant:\n%s", r, text)
	}
	if _, err := os.Stat(printDir); !os.IsNotExist(err) {
		t.Errorf("--print made %s: %v", printDir, err)
	}

	// Enabled: unstartup leaves it until it is disabled.
	wants := filepath.Join(dir, "multi-user.target.wants")
	if err := os.Mkdir(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(unit, filepath.Join(wants, "opm-root.service")); err != nil {
		t.Fatal(err)
	}
	r = e.runWith(env, "unstartup", "systemd")
	if r.code != 1 || !strings.Contains(r.stderr, "still enabled or started") || !strings.Contains(r.stderr, "systemctl disable --now opm-root.service") {
		t.Errorf("unstartup of an enabled unit: %v", r)
	}
	if _, err := os.Stat(unit); err != nil {
		t.Errorf("unstartup removed an enabled unit: %v", err)
	}
	if err := os.RemoveAll(wants); err != nil {
		t.Fatal(err)
	}
	r = e.runWith(env, "unstartup", "systemd")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "To stop and disable it: systemctl disable --now opm-root.service\n") || !strings.Contains(r.stdout, "removed "+unit) {
		t.Errorf("unstartup: %v", r)
	}
	if _, err := os.Stat(unit); !os.IsNotExist(err) {
		t.Errorf("the unit is still there: %v", err)
	}
	r = e.runWith(env, "unstartup", "systemd")
	if r.code != 0 || !strings.Contains(r.stdout, "no unit to remove") {
		t.Errorf("unstartup again: %v", r)
	}
	// A file opm did not write stays.
	if err := os.WriteFile(unit, []byte("[Service]\nExecStart=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.runWith(env, "unstartup", "systemd")
	if r.code != 1 || !strings.Contains(r.stderr, "not written by 'opm startup'") {
		t.Errorf("unstartup of a foreign file: %v", r)
	}
	if _, err := os.Stat(unit); err != nil {
		t.Errorf("unstartup removed a file opm did not write: %v", err)
	}

	for _, bad := range [][]string{{"startup", "upstart"}, {"startup", "openrc", "--watchdog", "10s"}, {"startup", "systemd", "systemd-user"}} {
		if r := e.runWith(env, bad...); r.code != 2 {
			t.Errorf("%q: %v", bad, r)
		}
	}
}

// TestStartupStopTimeout: the unit lets the daemon stop its slowest app
// (a saved kill timeout of 2 minutes) with a margin.
func TestStartupStopTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startMarked("slow")
	e.ok("start", "slow", "--kill-timeout", "2m")
	e.ok("save")
	r := e.ok("startup", "systemd", "--print")
	if got := unitSettings(r.stdout)["TimeoutStopSec"]; !slices.Equal(got, []string{"150s"}) {
		t.Errorf("TimeoutStopSec=%q, want 150s (the saved app's 2m, plus 30s)\n%s", got, r.stdout)
	}
}

// TestStartupUserAndOpenRC writes the other two kinds of unit.
func TestStartupUserAndOpenRC(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := t.TempDir()
	r := e.runWith([]string{"XDG_CONFIG_HOME=" + cfg}, "startup", "systemd-user")
	unit := filepath.Join(cfg, "systemd", "user", "opm.service")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+unit) || !strings.Contains(r.stdout, "systemctl --user enable --now opm.service") || !strings.Contains(r.stdout, "loginctl enable-linger") {
		t.Fatalf("startup systemd-user: %v", r)
	}
	set := unitSettings(readText(t, unit))
	if set["User"] != nil || !slices.Equal(set["WantedBy"], []string{"default.target"}) || !slices.Equal(set["Delegate"], []string{"yes"}) {
		t.Errorf("user unit: %v", set)
	}
	systemdVerify(t, unit)
	r = e.runWith([]string{"XDG_CONFIG_HOME=" + cfg}, "unstartup", "systemd-user")
	if r.code != 0 || !strings.Contains(r.stdout, "systemctl --user disable --now opm.service") || !strings.Contains(r.stdout, "removed "+unit) {
		t.Errorf("unstartup systemd-user: %v", r)
	}

	if os.Geteuid() != 0 {
		return
	}
	dir := t.TempDir()
	r = e.runWith([]string{startupDirEnv + "=" + dir}, "startup", "openrc")
	script := filepath.Join(dir, "opm-root")
	if r.code != 0 || !strings.Contains(r.stdout, "rc-update add opm-root default && rc-service opm-root start") {
		t.Fatalf("startup openrc: %v", r)
	}
	text := readText(t, script)
	exe, _ := filepath.Abs(os.Args[0])
	for _, want := range []string{"#!/sbin/openrc-run\n", "supervisor=supervise-daemon\n", "command=" + exe + "\n", "command_args='daemon run --restore'\n", "command_user=root:root\n", "export OPM_HOME=" + e.home + "\n", "need net"} {
		if !strings.Contains(text, want) {
			t.Errorf("script lacks %q:\n%s", want, text)
		}
	}
	if st, err := os.Stat(script); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("script mode: %v %v", st.Mode(), err)
	}
	if out, err := exec.Command("sh", "-n", script).CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v\n%s", err, out)
	}
	r = e.runWith([]string{startupDirEnv + "=" + dir}, "unstartup", "openrc")
	if r.code != 0 || !strings.Contains(r.stdout, "rc-service opm-root stop; rc-update del opm-root default") {
		t.Errorf("unstartup openrc: %v", r)
	}
}

// TestStartupNotRoot: a user who is not root is told how to write a
// system unit (with sudo, whose line works) or to use their own service
// manager, and nothing is written; systemd-user and --print work.
func TestStartupNotRoot(t *testing.T) {
	t.Parallel()
	in := testkit.NewIntruder(t)
	e := newEnv(t)
	own := testkit.ShortTempDir(t)
	dir := filepath.Join(own, "units")
	if err := os.Chown(own, in.UID, in.GID); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(own, "home")
	environ := slices.DeleteFunc(slices.Clone(e.environ), func(kv string) bool {
		return strings.HasPrefix(kv, "OPM_HOME=") || strings.HasPrefix(kv, "OPM_RUNTIME_DIR=")
	})
	environ = append(environ, "OPM_HOME="+home, startupDirEnv+"="+dir, "XDG_CONFIG_HOME="+own)

	for _, kind := range []string{"systemd", "openrc"} {
		r := e.runAs(in.UID, environ, "startup", kind)
		if r.code != 1 || !strings.Contains(r.stderr, "needs root") || !strings.Contains(r.stderr, "opm startup systemd-user") ||
			!strings.Contains(r.stderr, "sudo ") || !strings.Contains(r.stderr, "--user "+in.Name) || !strings.Contains(r.stderr, "--home "+home) {
			t.Errorf("startup %s as a user: %v", kind, r)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("startup %s as a user made %s: %v", kind, dir, err)
		}
	}
	if r := e.runAs(in.UID, environ, "unstartup", "systemd"); r.code != 1 || !strings.Contains(r.stderr, "needs root") {
		t.Errorf("unstartup systemd as a user: %v", r)
	}
	if r := e.runAs(in.UID, environ, "startup", "systemd", "--user", "root"); r.code != 1 || !strings.Contains(r.stderr, "only root") {
		t.Errorf("startup --user root as a user: %v", r)
	}

	// --print shows the unit that would run as them.
	r := e.runAs(in.UID, environ, "startup", "systemd", "--print")
	if set := unitSettings(r.stdout); r.code != 0 || !slices.Equal(set["User"], []string{in.Name}) || !slices.Equal(set["Environment"], []string{"OPM_HOME=" + home}) {
		t.Errorf("startup systemd --print as a user: %v", r)
	}

	// Their own service manager's unit.
	r = e.runAs(in.UID, environ, "startup", "systemd-user")
	unit := filepath.Join(dir, "opm.service")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+unit) || !strings.Contains(r.stdout, "loginctl enable-linger "+in.Name) {
		t.Errorf("startup systemd-user as a user: %v", r)
	}

	// The sudo line they were given writes their system unit.
	r = e.runAs(in.UID, environ, "startup", "systemd")
	_, line, _ := strings.Cut(r.stderr, "As root: sudo ")
	line, _, _ = strings.Cut(line, ". Or with your own")
	words, err := shellwords.Parse(line)
	if err != nil || len(words) < 2 {
		t.Fatalf("the sudo line %q: %v", line, err)
	}
	rootDir := t.TempDir()
	rootEnv := slices.DeleteFunc(slices.Clone(e.environ), func(kv string) bool { return strings.HasPrefix(kv, "OPM_RUNTIME_DIR=") })
	res := e.exec(words[0], "", append(rootEnv, startupDirEnv+"="+rootDir), nil, words[1:])
	unit = filepath.Join(rootDir, "opm-"+in.Name+".service")
	if res.code != 0 || !strings.Contains(res.stdout, "wrote "+unit) {
		t.Fatalf("the sudo line %q, as root: %v", line, res)
	}
	set := unitSettings(readText(t, unit))
	if !slices.Equal(set["User"], []string{in.Name}) || !slices.Equal(set["Environment"], []string{"OPM_HOME=" + home}) {
		t.Errorf("the unit the sudo line wrote: %v", set)
	}
	systemdVerify(t, unit)
}
