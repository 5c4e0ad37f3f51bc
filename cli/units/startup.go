package units

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"opm/daemon/api"
	"opm/shm"
)

// Init systems `opm startup` writes for.
const (
	// Systemd is a system unit, /etc/systemd/system/opm-<user>.service,
	// that runs the daemon as the user.
	Systemd = "systemd"
	// SystemdUser is a unit of the user's own service manager,
	// ~/.config/systemd/user/opm.service.
	SystemdUser = "systemd-user"
	// OpenRC is a service script, /etc/init.d/opm-<user>.
	OpenRC = "openrc"
)

// Kinds are the init systems `opm startup` knows, in the order help
// lists them.
var Kinds = []string{Systemd, SystemdUser, OpenRC}

// Timeouts of a startup unit. Both are computed when the unit is
// written, from what the daemon will do (cmd_startup.go): `opm startup`
// must run again after the timeouts they come from change.
const (
	// DefaultStopTimeout is systemd's own default stop timeout, which a
	// startup unit keeps unless its apps take longer to stop.
	DefaultStopTimeout = 90 * time.Second
	// StopMargin is added to the longest kill timeout of the apps: the
	// daemon stops them all at once, and needs a moment to exit.
	StopMargin = 30 * time.Second
	// MinStartTimeout is the least time the daemon is given to say it is
	// ready: it says so once the saved apps are restored, which waits
	// for a restore already holding the restore flag (restore_stall at
	// most) and then for the apps that say when they are ready
	// (wait_ready, each within its listen_timeout).
	MinStartTimeout = 5 * time.Minute
	// StartMargin is added to restore_stall and the longest
	// listen_timeout: the daemon starts, reads the dump and spawns.
	StartMargin = 30 * time.Second
)

// Startup is the unit that runs one user's opm daemon at boot.
type Startup struct {
	// Kind is Systemd, SystemdUser or OpenRC.
	Kind string
	// Exe is the absolute path of the opm binary.
	Exe string
	// User and Group the daemon runs as (not written in a SystemdUser
	// unit, which runs as its manager's user).
	User, Group string
	// Home is the daemon's OPM_HOME, absolute.
	Home string
	// RuntimeDir is OPM_RUNTIME_DIR, written only when set.
	RuntimeDir string
	// LogDir is OPM_LOG_DIR, written only when set.
	LogDir string
	// StopTimeout bounds how long the daemon may take to stop its apps
	// and exit before it is killed (DefaultStopTimeout when zero).
	StopTimeout time.Duration
	// StartTimeout bounds how long the daemon may take to say it is
	// ready, its restore done (MinStartTimeout when zero).
	StartTimeout time.Duration
	// Watchdog, when positive, asks the daemon to ping systemd's
	// watchdog at half this interval (WatchdogSec=); zero leaves the
	// daemon without any timer.
	Watchdog time.Duration
	// Version is opm's, for the header.
	Version string
}

// Name is the unit's name: the systemd unit's file name, or the OpenRC
// service's.
func (s Startup) Name() string {
	switch s.Kind {
	case SystemdUser:
		return "opm.service"
	case OpenRC:
		return "opm-" + s.User
	}
	return "opm-" + EscapeName(s.User) + ".service"
}

// Enable is the shell command line that enables and starts the unit.
func (s Startup) Enable() string {
	switch s.Kind {
	case SystemdUser:
		return "systemctl --user enable --now " + ShellQuote(s.Name())
	case OpenRC:
		return "rc-update add " + ShellQuote(s.Name()) + " default && rc-service " + ShellQuote(s.Name()) + " start"
	}
	return "systemctl enable --now " + ShellQuote(s.Name())
}

// Disable is the shell command line that stops and disables the unit.
func (s Startup) Disable() string {
	switch s.Kind {
	case SystemdUser:
		return "systemctl --user disable --now " + ShellQuote(s.Name())
	case OpenRC:
		return "rc-service " + ShellQuote(s.Name()) + " stop; rc-update del " + ShellQuote(s.Name()) + " default"
	}
	return "systemctl disable --now " + ShellQuote(s.Name())
}

// Text is the unit file or service script.
func (s Startup) Text() (string, error) {
	if !strings.HasPrefix(s.Exe, "/") || !strings.HasPrefix(s.Home, "/") {
		return "", fmt.Errorf("startup unit: the opm binary %q and OPM_HOME %q must be absolute paths", s.Exe, s.Home)
	}
	if s.StopTimeout <= 0 {
		s.StopTimeout = DefaultStopTimeout
	}
	if s.StartTimeout <= 0 {
		s.StartTimeout = MinStartTimeout
	}
	switch s.Kind {
	case Systemd, SystemdUser:
		return s.systemd()
	case OpenRC:
		return s.openrc()
	}
	return "", fmt.Errorf("startup unit: unknown init system %q (use %s)", s.Kind, strings.Join(Kinds, ", "))
}

// who describes the daemon for comments and descriptions.
func (s Startup) who() string {
	return fmt.Sprintf("opm daemon of %s (OPM_HOME=%s)", s.User, s.Home)
}

func (s Startup) systemd() (string, error) {
	exec, err := ExecLine(s.Exe, []string{s.Exe, "daemon", "run", "--restore"})
	if err != nil {
		return "", err
	}
	ctl := "systemctl"
	if s.Kind == SystemdUser {
		ctl += " --user"
	}
	u := &Unit{Header: []string{
		fmt.Sprintf("The %s, written by 'opm startup %s' (opm %s).", s.who(), s.Kind, s.Version),
		"At start it restores the apps of the last 'opm save'; at stop it stops",
		"them, each with its own kill signal and timeout.",
		"Enable and start it: " + s.Enable(),
		"Stop or restart the daemon with " + ctl + " stop|restart " + ShellQuote(s.Name()) + ":",
		"the daemon refuses 'opm daemon stop' and 'opm daemon restart' in a unit.",
		"Its timeouts are computed from config.toml and the saved apps: after",
		"changing a kill_timeout, listen_timeout or restore_stall, run",
		"'opm startup " + s.Kind + "' again.",
		"Remove it:           opm unstartup " + s.Kind,
	}}
	unit := u.Section("Unit")
	unit.Set("Description", Text("opm process manager of "+s.User))
	if s.Kind == Systemd {
		unit.Comment("Apps that serve on the network start once it is up.")
		unit.Set("Wants", "network-online.target")
		unit.Set("After", "network-online.target")
	}
	svc := u.Section("Service")
	svc.Comment("The daemon says READY=1 once it serves and has restored the saved apps.")
	svc.Set("Type", "notify")
	svc.Set("NotifyAccess", "main")
	if s.Kind == Systemd {
		svc.Set("User", Text(s.User))
		if s.Group != "" {
			svc.Set("Group", Text(s.Group))
		}
	}
	svc.Set("Environment", Word("OPM_HOME="+s.Home))
	if s.LogDir != "" {
		svc.Set("Environment", Word(shm.LogDirEnv+"="+s.LogDir))
	}
	if s.RuntimeDir != "" {
		svc.Set("Environment", Word("OPM_RUNTIME_DIR="+s.RuntimeDir))
	}
	svc.Comment("The unit the daemon runs as: it refuses 'opm daemon stop|restart' and names it.")
	svc.Set("Environment", Word(api.ServiceEnvName+"="+s.Name()))
	svc.Set("ExecStart", exec)
	svc.Comment("The restore may wait restore_stall for another restore to end, then the")
	svc.Comment("longest listen_timeout of a saved wait_ready app.")
	svc.Set("TimeoutStartSec", Span(s.StartTimeout))
	svc.Comment("KillMode=process: systemd signals the daemon alone. On SIGTERM the daemon")
	svc.Comment("stops every app itself, each with its kill signal and timeout, and kills")
	svc.Comment("what is left in its cgroup. When the daemon dies instead (a crash, a")
	svc.Comment("SIGKILL), its apps keep running in this unit's cgroup: Restart= starts a")
	svc.Comment("daemon that adopts them, each still running once (systemd logs them as")
	svc.Comment("\"left-over process\" and carries on). KillMode=mixed or control-group would")
	svc.Comment("have systemd kill every app at once instead.")
	svc.Set("KillMode", "process")
	svc.Comment("The longest kill timeout of config.toml and of the saved apps, and a margin;")
	svc.Comment("then systemd kills the daemon (the apps it had not stopped stay for the next).")
	svc.Set("TimeoutStopSec", Span(s.StopTimeout))
	svc.Set("Restart", "on-failure")
	svc.Set("RestartSec", "1s")
	svc.Comment("opm puts each app in a cgroup of its own, under a subtree delegated to it.")
	svc.Set("Delegate", "yes")
	svc.Comment("An app killed for lack of memory is the daemon's to restart: the unit goes on.")
	svc.Set("OOMPolicy", "continue")
	svc.Comment("The apps inherit these limits.")
	svc.Set("LimitNOFILE", "65536")
	if s.Watchdog > 0 {
		svc.Comment("The daemon pings the watchdog at half this interval.")
		svc.Set("WatchdogSec", Span(s.Watchdog))
	}
	install := u.Section("Install")
	if s.Kind == Systemd {
		install.Set("WantedBy", "multi-user.target")
	} else {
		install.Set("WantedBy", "default.target")
	}
	return u.String(), nil
}

// openrc is an OpenRC service script run by supervise-daemon, which
// restarts the daemon whenever it exits. openrc-run passes command
// through eval, so the opm binary's path must be a plain one; every
// other value is in single quotes, and so must print as itself (see
// ShellQuote).
func (s Startup) openrc() (string, error) {
	if !shellPlain(s.Exe) {
		return "", fmt.Errorf("startup unit: OpenRC cannot run opm from %q: install it at a path without spaces or shell characters (e.g. /usr/local/bin/opm)", s.Exe)
	}
	if !shellPlain(s.User) || !shellPlain(s.Group) {
		return "", fmt.Errorf("startup unit: OpenRC cannot run as user %q, group %q: not plain names", s.User, s.Group)
	}
	for _, v := range []struct{ name, val string }{{"OPM_HOME", s.Home}, {"OPM_RUNTIME_DIR", s.RuntimeDir}, {shm.LogDirEnv, s.LogDir}} {
		if shellANSI(v.val) {
			return "", fmt.Errorf("startup unit: OpenRC: %s %q holds control characters or bytes that do not print, which a service script does not hold", v.name, v.val)
		}
	}
	owner := s.User
	if s.Group != "" {
		owner += ":" + s.Group
	}
	stop := int64((s.StopTimeout + time.Second - 1) / time.Second)
	var b strings.Builder
	b.WriteString("#!/sbin/openrc-run\n")
	writeComment(&b, fmt.Sprintf("The %s, written by 'opm startup openrc' (opm %s).", s.who(), s.Version))
	writeComment(&b, "At start it restores the apps of the last 'opm save'; at stop it stops\nthem, each with its own kill signal and timeout.")
	writeComment(&b, "Enable and start it: "+s.Enable())
	writeComment(&b, "supervise-daemon starts the daemon again whenever it exits: stop or\nrestart it with rc-service "+ShellQuote(s.Name())+" stop|restart (the daemon refuses\n'opm daemon stop' and 'opm daemon restart' here, for OPM_SERVICE is set).")
	writeComment(&b, "The stop timeout is computed from config.toml and the saved apps: after\nchanging a kill_timeout, run 'opm startup openrc' again.")
	writeComment(&b, "Remove it:           opm unstartup openrc")
	b.WriteString("\n")
	fmt.Fprintf(&b, "description=%s\n", ShellQuote("opm process manager of "+s.User))
	b.WriteString("supervisor=supervise-daemon\n")
	fmt.Fprintf(&b, "command=%s\n", ShellQuote(s.Exe))
	b.WriteString("command_args='daemon run --restore'\n")
	fmt.Fprintf(&b, "command_user=%s\n", ShellQuote(owner))
	writeComment(&b, "SIGTERM to the daemon, which stops every app; SIGKILL to it if it is not done by then.")
	fmt.Fprintf(&b, "retry='SIGTERM/%d/SIGKILL/5'\n", stop)
	fmt.Fprintf(&b, "export OPM_HOME=%s\n", ShellQuote(s.Home))
	if s.LogDir != "" {
		fmt.Fprintf(&b, "export %s=%s\n", shm.LogDirEnv, ShellQuote(s.LogDir))
	}
	if s.RuntimeDir != "" {
		fmt.Fprintf(&b, "export OPM_RUNTIME_DIR=%s\n", ShellQuote(s.RuntimeDir))
	}
	fmt.Fprintf(&b, "export %s=%s\n", api.ServiceEnvName, ShellQuote(s.Name()))
	b.WriteString("\ndepend() {\n\tneed net\n}\n")
	return b.String(), nil
}

// ShellQuote is s as one word of a shell command line: as it is when
// plain; else in single quotes, when every rune of it prints as itself;
// else (a control character, a rune that does not print, a byte that is
// not UTF-8) in ANSI-C quotes, $'...', each such byte written \xNN. A
// command line printed to a terminal then holds nothing the terminal
// would act on, and bash, zsh, ksh and busybox sh read the word back
// byte for byte ($'...' is POSIX since 2024; dash before 0.5.13 lacks
// it: a word that needs it has no form such a shell prints safely).
func ShellQuote(s string) string {
	if s != "" && shellPlain(s) {
		return s
	}
	if !shellANSI(s) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1 || !unicode.IsGraphic(r):
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('\'')
	return b.String()
}

// shellANSI reports whether s needs ANSI-C quotes to be printed safely:
// it holds a control character, a rune that does not print or a byte
// that is not UTF-8.
func shellANSI(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) })
}

// shellPlain reports whether s holds only bytes no shell treats
// specially.
func shellPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_./:=,+@%", c) >= 0) {
			return false
		}
	}
	return true
}
