package units

import (
	"fmt"
	"strings"
	"time"
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

// Default timeouts of a startup unit.
const (
	// DefaultStopTimeout is systemd's own default stop timeout, which a
	// startup unit keeps unless its apps take longer to stop.
	DefaultStopTimeout = 90 * time.Second
	// StopMargin is added to the longest kill timeout of the apps: the
	// daemon stops them all at once, and needs a moment to exit.
	StopMargin = 30 * time.Second
	// StartTimeout bounds how long the daemon may take to say it is
	// ready: it says so once the saved apps are restored, which waits for
	// apps that say when they are ready (wait_ready) and for a restore
	// already holding the restore flag.
	StartTimeout = 5 * time.Minute
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
	// StopTimeout bounds how long the daemon may take to stop its apps
	// and exit before what is left is killed.
	StopTimeout time.Duration
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
	u := &Unit{Header: []string{
		fmt.Sprintf("The %s, written by 'opm startup %s' (opm %s).", s.who(), s.Kind, s.Version),
		"At start it restores the apps of the last 'opm save'; at stop it stops",
		"them, each with its own kill signal and timeout.",
		"Enable and start it: " + s.Enable(),
		"Remove it:           opm unstartup " + s.Kind,
	}}
	unit := u.Section("Unit")
	unit.Set("Description", Text("opm process manager of "+s.User))
	if s.Kind == Systemd {
		unit.Set("After", "network.target")
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
	if s.RuntimeDir != "" {
		svc.Set("Environment", Word("OPM_RUNTIME_DIR="+s.RuntimeDir))
	}
	svc.Set("ExecStart", exec)
	svc.Set("TimeoutStartSec", Span(StartTimeout))
	svc.Comment("SIGTERM to the daemon alone: it stops every app itself, each with its")
	svc.Comment("kill signal and timeout; what is left after TimeoutStopSec is killed.")
	svc.Set("KillMode", "mixed")
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
// restarts the daemon if it dies. openrc-run passes command through eval,
// so the opm binary's path must be a plain one.
func (s Startup) openrc() (string, error) {
	if !shellPlain(s.Exe) {
		return "", fmt.Errorf("startup unit: OpenRC cannot run opm from %q: install it at a path without spaces or shell characters (e.g. /usr/local/bin/opm)", s.Exe)
	}
	if !shellPlain(s.User) || !shellPlain(s.Group) {
		return "", fmt.Errorf("startup unit: OpenRC cannot run as user %q, group %q: not plain names", s.User, s.Group)
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
	writeComment(&b, "Remove it:           opm unstartup openrc")
	b.WriteString("\n")
	fmt.Fprintf(&b, "description=%s\n", ShellQuote("opm process manager of "+s.User))
	b.WriteString("supervisor=supervise-daemon\n")
	fmt.Fprintf(&b, "command=%s\n", ShellQuote(s.Exe))
	b.WriteString("command_args='daemon run --restore'\n")
	fmt.Fprintf(&b, "command_user=%s\n", ShellQuote(owner))
	writeComment(&b, "SIGTERM to the daemon, which stops every app; SIGKILL if it is not done by then.")
	fmt.Fprintf(&b, "retry='SIGTERM/%d/SIGKILL/5'\n", stop)
	fmt.Fprintf(&b, "export OPM_HOME=%s\n", ShellQuote(s.Home))
	if s.RuntimeDir != "" {
		fmt.Fprintf(&b, "export OPM_RUNTIME_DIR=%s\n", ShellQuote(s.RuntimeDir))
	}
	b.WriteString("\ndepend() {\n\tneed net\n}\n")
	return b.String(), nil
}

// ShellQuote is s as one word of a POSIX shell command line: as it is
// when plain, else in single quotes.
func ShellQuote(s string) string {
	if s != "" && shellPlain(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
