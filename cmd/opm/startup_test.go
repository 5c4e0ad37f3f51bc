package main

import (
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
// XDG_CONFIG_HOME) points: never into /etc or the real ~/.config (newEnv
// points both at temporary directories).

// startupDirEnv names the directory opm startup writes into.
const startupDirEnv = "OPM_STARTUP_DIR"

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
	set := testkit.UnitSettings(text)
	exe, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"ExecStart": exe + " daemon run --restore", "User": "root", "Type": "notify", "NotifyAccess": "main",
		"KillMode": "process", "Delegate": "yes", "Restart": "on-failure", "TimeoutStopSec": "90s", "TimeoutStartSec": "5min",
		"WantedBy": "multi-user.target", "Wants": "network-online.target", "After": "network-online.target",
	} {
		if len(set[k]) != 1 || set[k][0] != v {
			t.Errorf("%s=%q, want %q", k, set[k], v)
		}
	}
	if want := []string{"OPM_HOME=" + e.home, "OPM_RUNTIME_DIR=" + e.runtime, "OPM_SERVICE=opm-root.service"}; !slices.Equal(set["Environment"], want) {
		t.Errorf("Environment=%q, want %q", set["Environment"], want)
	}
	if set["WatchdogSec"] != nil {
		t.Error("a watchdog without --watchdog: the idle daemon would wake up")
	}
	if st, err := os.Stat(unit); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("unit mode: %v %v", st.Mode(), err)
	}
	testkit.SystemdVerify(t, unit)

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
	if got := testkit.UnitSettings(readText(t, unit))["WatchdogSec"]; !slices.Equal(got, []string{"20s"}) {
		t.Errorf("--watchdog 20s: WatchdogSec=%q", got)
	}
	testkit.SystemdVerify(t, unit)

	// --print writes nothing.
	printDir := filepath.Join(t.TempDir(), "print")
	r = e.runWith([]string{startupDirEnv + "=" + printDir}, "startup", "systemd", "--print")
	if r.code != 0 || r.stdout != text {
		t.Errorf("startup systemd --print: %v\nwant:\n%s", r, text)
	}
	if _, err := os.Stat(printDir); !os.IsNotExist(err) {
		t.Errorf("--print made %s: %v", printDir, err)
	}
	// OPM_LOG_DIR, as set for you, goes into your unit (a read-only
	// OPM_HOME's daemon needs it).
	r = e.runWith([]string{"OPM_LOG_DIR=/run/opm-logs"}, "startup", "systemd", "--print")
	if env := testkit.UnitSettings(r.stdout)["Environment"]; r.code != 0 || !slices.Contains(env, "OPM_LOG_DIR=/run/opm-logs") {
		t.Errorf("startup systemd --print with OPM_LOG_DIR: Environment=%q: %v", env, r)
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

// TestStartupTimeouts: the unit lets the daemon stop its slowest app,
// and restore the saved apps (waiting restore_stall for another restore,
// then the slowest to say it is ready), each with a margin; config.toml
// is read as the daemon reads it (here an integer of nanoseconds). The
// timeouts are those of when the unit is written, which opm startup says.
func TestStartupTimeouts(t *testing.T) {
	t.Parallel()
	config := strings.Replace(fastConfig, `kill_timeout = "2s"`, "kill_timeout = 200000000000", 1) + "restore_stall = \"2m\"\n"
	e := newEnvConfig(t, config)
	timeouts := func(stop, start string) {
		t.Helper()
		set := testkit.UnitSettings(e.ok("startup", "systemd", "--print").stdout)
		if !slices.Equal(set["TimeoutStopSec"], []string{stop}) || !slices.Equal(set["TimeoutStartSec"], []string{start}) {
			t.Errorf("TimeoutStopSec=%q, TimeoutStartSec=%q; want %s, %s", set["TimeoutStopSec"], set["TimeoutStartSec"], stop, start)
		}
	}
	// No saved apps: the config's kill_timeout (200s) plus 30s; its
	// restore_stall plus 30s is less than 5 minutes.
	timeouts("230s", "5min")

	e.startMarked("quick")
	e.ok("start", "quick", "--kill-timeout", "5m")
	e.startApp("ready", "notify-ready", "--env", testkit.ReadyNowEnv+"=1", "--wait-ready", "--listen-timeout", "4m")
	e.ok("save")
	// The saved app's 5m plus 30s; restore_stall 2m, then 4m for the
	// app that says it is ready, plus 30s.
	timeouts("330s", "390s")

	r := e.ok("startup", "systemd-user")
	if !strings.Contains(r.stdout, "Its timeouts (start 390s, stop 330s)") || !strings.Contains(r.stdout, "run this again after changing a kill_timeout, listen_timeout or restore_stall") {
		t.Errorf("startup does not say its timeouts are those of now: %v", r)
	}
}

// TestStartupUserAndOpenRC writes the other two kinds of unit.
func TestStartupUserAndOpenRC(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := t.TempDir()
	// Where XDG_CONFIG_HOME says, without OPM_STARTUP_DIR.
	xdg := []string{"XDG_CONFIG_HOME=" + cfg, startupDirEnv + "="}
	r := e.runWith(xdg, "startup", "systemd-user")
	unit := filepath.Join(cfg, "systemd", "user", "opm.service")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+unit) || !strings.Contains(r.stdout, "systemctl --user enable --now opm.service") || !strings.Contains(r.stdout, "loginctl enable-linger") {
		t.Fatalf("startup systemd-user: %v", r)
	}
	set := testkit.UnitSettings(readText(t, unit))
	if set["User"] != nil || !slices.Equal(set["WantedBy"], []string{"default.target"}) || !slices.Equal(set["Delegate"], []string{"yes"}) {
		t.Errorf("user unit: %v", set)
	}
	testkit.SystemdVerify(t, unit)
	r = e.runWith(xdg, "unstartup", "systemd-user")
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
		if r.code != 1 || !strings.Contains(r.stderr, "needs root") ||
			!strings.Contains(r.stderr, "sudo ") || !strings.Contains(r.stderr, "--user "+in.Name) || !strings.Contains(r.stderr, "--home "+home) {
			t.Errorf("startup %s as a user: %v", kind, r)
		}
		// A user's own systemd is no help on an OpenRC machine.
		if hint := strings.Contains(r.stderr, "opm startup systemd-user"); hint != (kind == "systemd") {
			t.Errorf("startup %s as a user: the systemd-user hint is there: %v; want %v:\n%v", kind, hint, kind == "systemd", r)
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
	service := "OPM_SERVICE=opm-" + in.Name + ".service"
	if set := testkit.UnitSettings(r.stdout); r.code != 0 || !slices.Equal(set["User"], []string{in.Name}) || !slices.Equal(set["Environment"], []string{"OPM_HOME=" + home, service}) {
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
	set := testkit.UnitSettings(readText(t, unit))
	if !slices.Equal(set["User"], []string{in.Name}) || !slices.Equal(set["Environment"], []string{"OPM_HOME=" + home, service}) {
		t.Errorf("the unit the sudo line wrote: %v", set)
	}
	testkit.SystemdVerify(t, unit)
}

// TestStartupOtherUser: root writing the unit of another user checks that
// this user can run the opm binary it names (every directory on the way
// searchable, the file executable, by the user or a group of theirs),
// and else says to install opm where they can or to name it with --opm;
// root's own OPM_RUNTIME_DIR stays out of their unit.
func TestStartupOtherUser(t *testing.T) {
	t.Parallel()
	in := testkit.NewIntruder(t)
	e := newEnv(t)
	dir := t.TempDir()
	home := "/home/" + in.Name + "/.opm"
	startup := func(extra ...string) result {
		t.Helper()
		args := append([]string{"startup", "systemd", "--user", in.Name, "--home", home}, extra...)
		return e.runWith([]string{startupDirEnv + "=" + dir}, args...)
	}
	private := testkit.ShortTempDir(t) // 0700, root's
	exe := filepath.Join(private, "opm")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	refused := func(why string) {
		t.Helper()
		r := startup("--opm", exe)
		if r.code != 1 || !strings.Contains(r.stderr, in.Name+" cannot run the opm binary "+exe+": "+why) ||
			!strings.Contains(r.stderr, "make install PREFIX=/usr/local") || !strings.Contains(r.stderr, "--opm PATH") {
			t.Errorf("an opm binary %s cannot run (%s): %v", in.Name, why, r)
		}
	}
	refused("the directory " + private + " is not searchable by " + in.Name)
	// Searchable by a group of theirs: theirs to run.
	if err := os.Chown(private, 0, in.GID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(private, 0o710); err != nil {
		t.Fatal(err)
	}
	if r := startup("--opm", exe, "--print"); r.code != 0 || !slices.Equal(testkit.UnitSettings(r.stdout)["ExecStart"], []string{exe + " daemon run --restore"}) {
		t.Errorf("an opm binary in a directory of their group: %v", r)
	}
	if err := os.Chmod(exe, 0o744); err != nil {
		t.Fatal(err)
	}
	refused("not an executable file for " + in.Name)

	// A copy they can run: the unit runs it, as them, without root's
	// OPM_RUNTIME_DIR (e.environ has one); --runtime-dir gives theirs.
	shared := testkit.SharedExe(t)
	r := startup("--opm", shared)
	unit := filepath.Join(dir, "opm-"+in.Name+".service")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+unit) {
		t.Fatalf("startup --user %s --opm %s: %v", in.Name, shared, r)
	}
	set := testkit.UnitSettings(readText(t, unit))
	if !slices.Equal(set["ExecStart"], []string{shared + " daemon run --restore"}) || !slices.Equal(set["User"], []string{in.Name}) ||
		!slices.Equal(set["Environment"], []string{"OPM_HOME=" + home, "OPM_SERVICE=opm-" + in.Name + ".service"}) {
		t.Errorf("the unit of %s: %v", in.Name, set)
	}
	testkit.SystemdVerify(t, unit)
	r = startup("--opm", shared, "--runtime-dir", "/run/opm-"+in.Name, "--print")
	if env := testkit.UnitSettings(r.stdout)["Environment"]; r.code != 0 || !slices.Contains(env, "OPM_RUNTIME_DIR=/run/opm-"+in.Name) {
		t.Errorf("--runtime-dir: %v", r)
	}
}

// TestStartupPrintsEscaped: paths opm startup and opm export print are
// escaped: a control character in one reaches no terminal.
func TestStartupPrintsEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := filepath.Join(t.TempDir(), "a\x1b[31mb")
	r := e.runWith([]string{startupDirEnv + "=" + dir}, "startup", "systemd-user")
	if r.code != 0 || strings.Contains(r.stdout, "\x1b") || !strings.Contains(r.stdout, `wrote `+filepath.Dir(dir)+`/a\x1b[31mb/opm.service`) {
		t.Errorf("startup into %q: %v", dir, r)
	}
	e.startMarked("app")
	r = e.ok("export", "--format", "systemd", "--out", dir)
	if strings.Contains(r.stdout, "\x1b") || !strings.Contains(r.stdout, `a\x1b[31mb/opm-app.service`) || !strings.Contains(r.stdout, `$'`) {
		t.Errorf("export --out %q:\n%s", dir, r.stdout)
	}
}
