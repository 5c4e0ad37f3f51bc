package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"opm/cli/units"
	"opm/daemon/api"
	"opm/shm"
)

// StartupDirEnv names the directory `opm startup` writes its unit into
// and `opm unstartup` removes it from, instead of the init system's own
// (/etc/systemd/system, ~/.config/systemd/user, /etc/init.d): for tests
// and for packagers.
const StartupDirEnv = "OPM_STARTUP_DIR"

// startupMark is in every file `opm startup` writes; `opm unstartup`
// removes no file without it.
const startupMark = "written by 'opm startup "

func (a *App) startupCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "startup",
		Usage:     "write a unit that runs the daemon at boot and restores the saved apps (like pm2 startup)",
		ArgsUsage: "[" + strings.Join(units.Kinds, "|") + "]",
		Description: `Writes a unit that runs this opm daemon (yours, with your OPM_HOME) at
boot, restores the apps of the last 'opm save' once it serves, and stops
them at shutdown; then prints the line that enables it. It does not run
systemctl or rc-update itself.

   systemd        /etc/systemd/system/opm-<user>.service (as root; --user NAME
                  writes the unit of another user)
   systemd-user   ~/.config/systemd/user/opm.service, your own service manager
                  (see 'loginctl enable-linger' to run it without a login)
   openrc         /etc/init.d/opm-<user> (as root)

Without an init system, the one this machine runs is taken. The unit runs
this opm binary, or the one --opm names: the unit's user must be able to
run it. Its start and stop timeouts are computed from config.toml and the
saved apps: run 'opm startup' again after changing a kill_timeout,
listen_timeout or restore_stall. Under the unit, 'opm daemon stop' and
'opm daemon restart' are refused: systemctl (or rc-service) does them.

--print prints the unit and writes nothing. $` + StartupDirEnv + ` writes into
that directory instead (for tests and packagers). 'opm unstartup'
removes the unit.`,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "print", Usage: "print the unit to standard output; write nothing"},
			&ucli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "the `USER` whose daemon the unit runs (default: you; another user: as root)"},
			&ucli.StringFlag{Name: "home", Aliases: []string{"hp"}, Usage: "the daemon's OPM_HOME `DIR` (default: $OPM_HOME, or ~/.opm of the user)"},
			&ucli.StringFlag{Name: "runtime-dir", Usage: "the daemon's OPM_RUNTIME_DIR `DIR` (default: $OPM_RUNTIME_DIR in your own unit; none in another user's, whose daemon finds its own)"},
			&ucli.StringFlag{Name: "opm", Usage: "the opm binary the unit runs, at `PATH` (default: this one); the unit's user must be able to run it"},
			&ucli.DurationFlag{Name: "watchdog", Usage: "systemd only: set WatchdogSec=`DURATION` (e.g. 30s); the daemon pings the watchdog at half of it (default: none, and so no timer)"},
		},
		Action: a.startup,
	}
}

func (a *App) unstartupCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "unstartup",
		Usage:     "remove the unit 'opm startup' wrote",
		ArgsUsage: "[" + strings.Join(units.Kinds, "|") + "]",
		Description: `Removes the unit 'opm startup' wrote for the same init system and user,
after printing the line that stops and disables it. A unit that is still
enabled (or, for OpenRC, started) is left alone until that line has run.
A file opm did not write is never removed.`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "the `USER` whose unit to remove (default: you; another user: as root)"},
		},
		Action: a.unstartup,
	}
}

// startupPlan is a startup unit and where it goes.
type startupPlan struct {
	unit units.Startup
	// dir is the directory the file goes in, path the file.
	dir, path string
	// system is set for a unit of the whole machine (root's to write).
	system bool
	// sudo is the command line that writes it as root.
	sudo string
}

// planStartup resolves the init system, the user, OPM_HOME and where the
// file goes; withHome resolves the home too (startup, not unstartup).
func (a *App) planStartup(c *ucli.Context, withHome bool) (startupPlan, error) {
	name := "opm " + c.Command.Name
	kind := ""
	switch args := positionals(c); len(args) {
	case 0:
		kind = detectInit()
	case 1:
		kind = args[0]
	default:
		return startupPlan{}, usageErrorf("%s takes at most one init system, got %d (%s)", name, len(args), strings.Join(units.Kinds, ", "))
	}
	switch kind {
	case units.Systemd, units.SystemdUser, units.OpenRC:
	default:
		return startupPlan{}, usageErrorf("%s: unknown init system %q (use %s)", name, kind, strings.Join(units.Kinds, ", "))
	}
	me, err := user.Current()
	if err != nil {
		return startupPlan{}, fmt.Errorf("%s: who are you: %w", name, err)
	}
	target := me
	if n := c.String("user"); n != "" && n != me.Username {
		if kind == units.SystemdUser {
			return startupPlan{}, usageErrorf("%s systemd-user writes a unit of your own service manager; run it as %s instead of --user %s", name, n, n)
		}
		if os.Geteuid() != 0 {
			return startupPlan{}, failuref("%s --user %s: only root writes the unit of another user (run it with sudo)", name, n)
		}
		if target, err = user.Lookup(n); err != nil {
			return startupPlan{}, usageErrorf("%s --user %s: %v", name, n, err)
		}
	}
	self := target.Uid == me.Uid
	p := startupPlan{system: kind != units.SystemdUser}
	p.unit = units.Startup{Kind: kind, User: target.Username, Version: api.Version, Watchdog: c.Duration("watchdog")}
	if p.unit.Watchdog < 0 || p.unit.Watchdog > 0 && kind == units.OpenRC {
		return startupPlan{}, usageErrorf("%s --watchdog %s: want a positive duration, for systemd units only", name, p.unit.Watchdog)
	}
	// The caller's own runtime directory is no other user's: theirs is
	// given with --runtime-dir, or their daemon finds its own.
	p.unit.RuntimeDir = c.String("runtime-dir")
	if p.unit.RuntimeDir == "" && self {
		p.unit.RuntimeDir = os.Getenv("OPM_RUNTIME_DIR")
	}
	if p.unit.RuntimeDir != "" {
		if p.unit.RuntimeDir, err = filepath.Abs(p.unit.RuntimeDir); err != nil {
			return startupPlan{}, fmt.Errorf("OPM_RUNTIME_DIR: %w", err)
		}
	}
	// OPM_LOG_DIR, as set for you, goes into your own unit: without it
	// a daemon on a read-only OPM_HOME has nowhere to log. (log_dir in
	// config.toml needs nothing.)
	if self {
		if p.unit.LogDir, err = shm.ConfiguredLogDir(""); err != nil {
			return startupPlan{}, usageErrorf("%s: %v", name, err)
		}
	}
	if g, err := user.LookupGroupId(target.Gid); err == nil {
		p.unit.Group = g.Name
	}
	if exe := c.String("opm"); exe != "" {
		if p.unit.Exe, err = filepath.Abs(exe); err != nil {
			return startupPlan{}, usageErrorf("%s --opm %s: %v", name, exe, err)
		}
	} else if p.unit.Exe, err = os.Executable(); err != nil {
		return startupPlan{}, fmt.Errorf("%s: find the opm binary: %w", name, err)
	}
	if withHome {
		if err := checkRunnable(p.unit.Exe, target); err != nil {
			return startupPlan{}, failuref("%s: %v: install opm where %s can run it (as root: make install PREFIX=/usr/local, from opm's source), or name such a copy with --opm PATH", name, err, target.Username)
		}
		if p.unit.Home, err = startupHome(c.String("home"), target, self); err != nil {
			return startupPlan{}, err
		}
		p.unit.StopTimeout, p.unit.StartTimeout = unitTimeouts(p.unit.Home)
	}
	p.dir = os.Getenv(StartupDirEnv)
	if p.dir == "" {
		switch kind {
		case units.Systemd:
			p.dir = "/etc/systemd/system"
		case units.SystemdUser:
			cfg, err := os.UserConfigDir()
			if err != nil {
				return startupPlan{}, fmt.Errorf("%s: find your systemd user directory: %w (set XDG_CONFIG_HOME)", name, err)
			}
			p.dir = filepath.Join(cfg, "systemd", "user")
		case units.OpenRC:
			p.dir = "/etc/init.d"
		}
	}
	if p.dir, err = filepath.Abs(p.dir); err != nil {
		return startupPlan{}, err
	}
	p.path = filepath.Join(p.dir, p.unit.Name())
	if err := units.CheckUnitName(p.unit.Name()); err != nil {
		return startupPlan{}, err
	}
	sudo := []string{"sudo", p.unit.Exe, c.Command.Name, kind, "--user", target.Username}
	if withHome {
		sudo = append(sudo, "--home", p.unit.Home)
		if p.unit.RuntimeDir != "" {
			sudo = append(sudo, "--runtime-dir", p.unit.RuntimeDir)
		}
		if c.String("opm") != "" {
			sudo = append(sudo, "--opm", p.unit.Exe)
		}
	}
	for i, w := range sudo {
		sudo[i] = units.ShellQuote(w)
	}
	p.sudo = strings.Join(sudo, " ")
	return p, nil
}

// detectInit is the init system this machine runs: systemd when it is
// running, else OpenRC when it is installed, else systemd.
func detectInit() string {
	if st, err := os.Stat("/run/systemd/system"); err == nil && st.IsDir() {
		return units.Systemd
	}
	for _, p := range []string{"/run/openrc", "/sbin/openrc-run"} {
		if _, err := os.Stat(p); err == nil {
			return units.OpenRC
		}
	}
	return units.Systemd
}

// startupHome is the OPM_HOME the unit's daemon uses: --home, else
// $OPM_HOME for yourself, else the user's ~/.opm. Your own is resolved
// and checked as every command does; another user's is that user's to
// check when the daemon starts.
func startupHome(flag string, u *user.User, self bool) (string, error) {
	switch {
	case self && flag == "":
		return shm.Home()
	case self:
		abs, err := filepath.Abs(flag)
		if err != nil {
			return "", fmt.Errorf("--home %q: %w", flag, err)
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return "", fmt.Errorf("--home %s: %w", abs, err)
		}
		return shm.CheckHome(abs)
	case flag != "":
		return filepath.Abs(flag)
	case u.HomeDir == "" || !filepath.IsAbs(u.HomeDir):
		return "", usageErrorf("user %s has no home directory: give the daemon's OPM_HOME with --home DIR", u.Username)
	}
	return filepath.Join(u.HomeDir, ".opm"), nil
}

// unitTimeouts are how long the unit lets the daemon stop and start,
// from its config.toml (read as the daemon reads it: a duration as Go
// writes it, or an integer of nanoseconds) and the apps of its last
// 'opm save':
//
//   - stop: the daemon stops its apps all at once, each within its kill
//     timeout: the longest of those (the config's kill_timeout, and each
//     saved app's) plus StopMargin, and never less than systemd's default;
//   - start: the daemon says it is ready once its restore on start is
//     done, which may wait restore_stall for another restore holding the
//     restore flag, then for the saved apps that say when they are ready
//     (wait_ready), all at once, each within its listen_timeout:
//     restore_stall plus the longest listen_timeout plus StartMargin, and
//     never less than MinStartTimeout.
//
// What cannot be read, or what the daemon would refuse, counts for
// nothing: these are bounds, not checks. They are computed when the unit
// is written, which `opm startup` says.
func unitTimeouts(home string) (stop, start time.Duration) {
	kill, stall := api.DefaultKillTimeout, api.DefaultRestoreStall
	if data, err := readSmall(filepath.Join(home, "config.toml")); err == nil {
		var cfg struct {
			KillTimeout  time.Duration `toml:"kill_timeout"`
			RestoreStall time.Duration `toml:"restore_stall"`
		}
		if _, err := toml.Decode(string(data), &cfg); err == nil {
			if api.CheckKillTimeout(cfg.KillTimeout) == nil {
				kill = cfg.KillTimeout
			}
			if api.CheckSettingDuration(cfg.RestoreStall) == nil {
				stall = cfg.RestoreStall
			}
		}
	}
	var listen time.Duration
	if data, err := readSmall(filepath.Join(home, api.DumpName)); err == nil {
		var dump struct {
			Apps []struct {
				Spec struct {
					KillTimeoutMs   int64 `json:"kill_timeout_ms"`
					WaitReady       bool  `json:"wait_ready"`
					ListenTimeoutMs int64 `json:"listen_timeout"`
				} `json:"spec"`
			} `json:"apps"`
		}
		if json.Unmarshal(data, &dump) == nil {
			for _, a := range dump.Apps {
				if ms := a.Spec.KillTimeoutMs; api.CheckKillTimeoutMs(ms) == nil {
					kill = max(kill, time.Duration(ms)*time.Millisecond)
				}
				if !a.Spec.WaitReady {
					continue
				}
				ms := a.Spec.ListenTimeoutMs
				if api.CheckSettingMs(ms) != nil {
					ms = 0 // the daemon's default, as it would take it
				}
				listen = max(listen, api.Settings{ListenTimeoutMs: ms}.ListenTimeout())
			}
		}
	}
	return max(units.DefaultStopTimeout, kill+units.StopMargin), max(units.MinStartTimeout, stall+listen+units.StartMargin)
}

// checkRunnable fails unless u may run the program at path: every
// directory on the way to it (and to what its symlinks name) searchable,
// and the file executable, by u's user or one of its groups. It reads
// the mode bits: what an ACL or a noexec mount adds is not seen.
func checkRunnable(path string, u *user.User) error {
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("user %s has no numeric uid (%q)", u.Username, u.Uid)
	}
	gids := map[uint32]bool{}
	ids, _ := u.GroupIds()
	for _, g := range append(ids, u.Gid) {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			gids[uint32(n)] = true
		}
	}
	// may reports whether u may search the directory or run the file.
	may := func(st *unix.Stat_t) bool {
		switch {
		case uid == 0: // root searches any directory, runs what anyone may
			return st.Mode&unix.S_IFMT == unix.S_IFDIR || st.Mode&0o111 != 0
		case st.Uid == uint32(uid):
			return st.Mode&0o100 != 0
		case gids[st.Gid]:
			return st.Mode&0o010 != 0
		}
		return st.Mode&0o001 != 0
	}
	paths := []string{path}
	if real, err := filepath.EvalSymlinks(path); err == nil && real != path {
		paths = append(paths, real)
	}
	for _, p := range paths {
		for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
			var st unix.Stat_t
			if err := unix.Stat(dir, &st); err != nil {
				return fmt.Errorf("the opm binary %s: %w", path, &fs.PathError{Op: "stat", Path: dir, Err: err})
			}
			if !may(&st) {
				return fmt.Errorf("%s cannot run the opm binary %s: the directory %s is not searchable by %s", u.Username, path, dir, u.Username)
			}
			if dir == "/" || dir == "." {
				break
			}
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("the opm binary %s: %w", path, &fs.PathError{Op: "stat", Path: path, Err: err})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || !may(&st) {
		return fmt.Errorf("%s cannot run the opm binary %s: not an executable file for %s", u.Username, path, u.Username)
	}
	return nil
}

// readSmall reads a regular file of at most 64 MiB, not through a
// symlink.
func readSmall(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	return io.ReadAll(io.LimitReader(f, 64<<20))
}

// needsRoot refuses to write or remove a unit of the whole machine
// without root, saying what to run instead: the sudo line, or (for
// systemd) a unit of the user's own service manager.
func (p startupPlan) needsRoot(verb string) error {
	if !p.system || os.Geteuid() == 0 {
		return nil
	}
	msg := fmt.Sprintf("opm %s %s needs root to %s %s. As root: %s", verb, p.unit.Kind,
		map[string]string{"startup": "write", "unstartup": "remove"}[verb], p.path, p.sudo)
	if p.unit.Kind == units.Systemd {
		alt := "opm " + verb + " systemd-user"
		if verb == "startup" {
			alt += " (then loginctl enable-linger " + units.ShellQuote(p.unit.User) + ", so that it runs without a login)"
		}
		msg += ". Or with your own service manager: " + alt
	}
	return failuref("%s", msg)
}

func (a *App) startup(c *ucli.Context) error {
	p, err := a.planStartup(c, true)
	if err != nil {
		return err
	}
	text, err := p.unit.Text()
	if err != nil {
		return failuref("%v", err)
	}
	if c.Bool("print") {
		_, err := io.WriteString(a.out(), text)
		return err
	}
	if err := p.needsRoot("startup"); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if p.unit.Kind == units.OpenRC {
		mode = 0o755
	}
	old, readErr := os.ReadFile(p.path)
	if err := writeFileAtomic(p.path, []byte(text), mode); err != nil {
		return err
	}
	path := Escape(p.path)
	switch {
	case readErr == nil && bytes.Equal(old, []byte(text)):
		a.printf("replaced %s (it was the same)\n", path)
	case readErr == nil:
		a.printf("replaced %s\n", path)
	default:
		a.printf("wrote %s\n", path)
	}
	a.printf("It runs the opm daemon of %s (OPM_HOME=%s) at boot and restores the apps of its last 'opm save': save them now if you have not.\n", Escape(p.unit.User), Escape(p.unit.Home))
	a.printf("Stop a daemon you started by hand first ('opm daemon stop'): the unit's daemon cannot serve while it runs.\n")
	if p.unit.Kind == units.OpenRC {
		a.printf("Its stop timeout (%s) comes from config.toml and the saved apps as they are now: run this again after changing a kill_timeout.\n", units.Span(p.unit.StopTimeout))
	} else {
		a.printf("Its timeouts (start %s, stop %s) come from config.toml and the saved apps as they are now: run this again after changing a kill_timeout, listen_timeout or restore_stall.\n", units.Span(p.unit.StartTimeout), units.Span(p.unit.StopTimeout))
	}
	if readErr == nil && p.unit.Kind != units.OpenRC {
		reload := "systemctl daemon-reload"
		if p.unit.Kind == units.SystemdUser {
			reload = "systemctl --user daemon-reload"
		}
		a.printf("If it is loaded already, reload it: %s\n", reload)
	}
	a.printf("Enable and start it:\n  %s\n", p.unit.Enable())
	if p.unit.Kind == units.SystemdUser {
		a.printf("To run it without a login session (at boot):\n  loginctl enable-linger %s\n", units.ShellQuote(p.unit.User))
	}
	return nil
}

func (a *App) unstartup(c *ucli.Context) error {
	p, err := a.planStartup(c, false)
	if err != nil {
		return err
	}
	if err := p.needsRoot("unstartup"); err != nil {
		return err
	}
	data, err := readSmall(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		a.printf("no unit to remove: %s does not exist\n", Escape(p.path))
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", p.path, err)
	}
	if !bytes.Contains(data, []byte(startupMark)) {
		return failuref("%s was not written by 'opm startup': left as it is (remove it yourself if it is no longer wanted)", p.path)
	}
	a.printf("To stop and disable it: %s\n", p.unit.Disable())
	if links := enabledLinks(p); len(links) > 0 {
		return failuref("%s is still enabled or started (%s): run '%s', then 'opm unstartup' again", p.unit.Name(), strings.Join(links, ", "), p.unit.Disable())
	}
	if err := os.Remove(p.path); err != nil {
		return fmt.Errorf("remove %s: %w", p.path, err)
	}
	a.printf("removed %s\n", Escape(p.path))
	if p.unit.Kind != units.OpenRC {
		ctl := "systemctl"
		if p.unit.Kind == units.SystemdUser {
			ctl += " --user"
		}
		a.printf("If it still runs, stop it: %s stop %s; then forget it: %s daemon-reload\n", ctl, units.ShellQuote(p.unit.Name()), ctl)
	}
	return nil
}

// enabledLinks are what says the unit is enabled: systemd's links in the
// .wants and .requires directories beside it; OpenRC's in its runlevels,
// and its mark of a started service (whose script it needs to stop it).
func enabledLinks(p startupPlan) []string {
	var patterns []string
	switch {
	case p.unit.Kind != units.OpenRC:
		patterns = []string{filepath.Join(p.dir, "*.wants", p.unit.Name()), filepath.Join(p.dir, "*.requires", p.unit.Name())}
	case os.Getenv(StartupDirEnv) == "":
		patterns = []string{filepath.Join("/etc/runlevels", "*", p.unit.Name()), filepath.Join("/run/openrc/started", p.unit.Name())}
	}
	var out []string
	for _, pat := range patterns {
		m, _ := filepath.Glob(escapeGlob(pat))
		out = append(out, m...)
	}
	return out
}

// escapeGlob escapes what filepath.Match would read as a pattern in the
// unit's name (its escapes hold backslashes), keeping the '*'s the
// caller put there.
func escapeGlob(pattern string) string {
	dir, base := filepath.Split(pattern)
	r := strings.NewReplacer(`\`, `\\`, "[", `\[`, "?", `\?`, "*", `\*`)
	parent, wild := filepath.Split(filepath.Clean(dir))
	return filepath.Join(r.Replace(parent), wild, r.Replace(base))
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory (made when missing), renamed over it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
