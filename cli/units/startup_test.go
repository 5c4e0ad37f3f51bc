package units

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"opm/daemon/testkit"
)

// startupFor is a startup unit of root running /bin/sh as its "opm": a
// program and a user that exist, which systemd-analyze verify checks.
func startupFor(kind, home string) Startup {
	return Startup{Kind: kind, Exe: "/bin/sh", User: "root", Group: "root", Home: home, Version: "test"}
}

func TestStartupSystemd(t *testing.T) {
	home := "/srv/opm home/50%/$USER"
	for _, kind := range []string{Systemd, SystemdUser} {
		s := startupFor(kind, home)
		s.RuntimeDir = "/run/user/0/opm"
		s.StopTimeout = 2 * time.Minute
		s.StartTimeout = 7*time.Minute + 30*time.Second
		text, err := s.Text()
		if err != nil {
			t.Fatal(err)
		}
		set := testkit.UnitSettings(text)
		// KillMode=process: a daemon that dies leaves its apps to the
		// next one, which adopts them.
		want := map[string]string{
			"Type": "notify", "NotifyAccess": "main", "KillMode": "process", "Delegate": "yes",
			"Restart": "on-failure", "TimeoutStopSec": "2min", "TimeoutStartSec": "450s", "ExecStart": "/bin/sh daemon run --restore",
			"OOMPolicy": "continue", "LimitNOFILE": "65536",
		}
		if kind == Systemd {
			want["User"], want["Group"], want["WantedBy"] = "root", "root", "multi-user.target"
			want["Wants"], want["After"] = "network-online.target", "network-online.target"
		} else {
			want["WantedBy"] = "default.target"
			for _, k := range []string{"User", "Group", "After", "Wants"} {
				if set[k] != nil {
					t.Errorf("%s unit sets %s=%v", kind, k, set[k])
				}
			}
		}
		for k, v := range want {
			if len(set[k]) != 1 || set[k][0] != v {
				t.Errorf("%s unit: %s=%q, want %q\n%s", kind, k, set[k], v, text)
			}
		}
		if set["WatchdogSec"] != nil {
			t.Errorf("%s unit sets a watchdog without --watchdog: the idle daemon would wake up", kind)
		}
		var env []string
		for _, e := range set["Environment"] {
			env = append(env, unquote(t, e, false)...)
		}
		if strings.Join(env, "|") != "OPM_HOME="+home+"|OPM_RUNTIME_DIR=/run/user/0/opm|OPM_SERVICE="+s.Name() {
			t.Errorf("%s unit environment reads back as %q", kind, env)
		}
		if !strings.Contains(text, "written by 'opm startup "+kind+"'") {
			t.Errorf("%s unit lacks the mark 'opm unstartup' looks for:\n%s", kind, text)
		}
		path := filepath.Join(t.TempDir(), s.Name())
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		testkit.SystemdVerify(t, path)

		s.Watchdog = 30 * time.Second
		text, err = s.Text()
		if err != nil {
			t.Fatal(err)
		}
		if got := testkit.UnitSettings(text)["WatchdogSec"]; len(got) != 1 || got[0] != "30s" {
			t.Errorf("--watchdog 30s: WatchdogSec=%q", got)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		testkit.SystemdVerify(t, path)
	}
	// Without timeouts: systemd's default stop timeout, the least start
	// timeout.
	s := startupFor(Systemd, "/root/.opm")
	text, err := s.Text()
	if err != nil {
		t.Fatal(err)
	}
	if set := testkit.UnitSettings(text); !slices.Equal(set["TimeoutStopSec"], []string{"90s"}) || !slices.Equal(set["TimeoutStartSec"], []string{"5min"}) {
		t.Errorf("default timeouts: stop %q, start %q", set["TimeoutStopSec"], set["TimeoutStartSec"])
	}
}

func TestStartupNames(t *testing.T) {
	s := startupFor(Systemd, "/root/.opm")
	s.User = "alice"
	if s.Name() != "opm-alice.service" || s.Enable() != "systemctl enable --now opm-alice.service" || s.Disable() != "systemctl disable --now opm-alice.service" {
		t.Errorf("systemd: %s, %s, %s", s.Name(), s.Enable(), s.Disable())
	}
	s.Kind = SystemdUser
	if s.Name() != "opm.service" || s.Enable() != "systemctl --user enable --now opm.service" {
		t.Errorf("systemd-user: %s, %s", s.Name(), s.Enable())
	}
	s.Kind = OpenRC
	if s.Name() != "opm-alice" || s.Enable() != "rc-update add opm-alice default && rc-service opm-alice start" {
		t.Errorf("openrc: %s, %s", s.Name(), s.Enable())
	}
	s.Kind = "upstart"
	if _, err := s.Text(); err == nil {
		t.Error("an unknown init system was accepted")
	}
	s = startupFor(Systemd, "relative")
	if _, err := s.Text(); err == nil {
		t.Error("a relative OPM_HOME was accepted")
	}
}

// TestStartupOpenRC checks the script as sh reads it: its syntax (sh -n),
// and its variables, by sourcing it as openrc-run does.
func TestStartupOpenRC(t *testing.T) {
	home := `/srv/it's a "home" $x \ ` + "`y`"
	s := startupFor(OpenRC, home)
	s.RuntimeDir = "/run/opm rt"
	s.StopTimeout = 95 * time.Second
	text, err := s.Text()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "#!/sbin/openrc-run\n") {
		t.Errorf("no openrc-run interpreter line:\n%s", text)
	}
	for _, want := range []string{"supervisor=supervise-daemon\n", "command_args='daemon run --restore'\n", "retry='SIGTERM/95/SIGKILL/5'\n", "depend() {\n\tneed net\n}\n", "written by 'opm startup openrc'", "rc-service opm-root stop|restart"} {
		if !strings.Contains(text, want) {
			t.Errorf("script lacks %q:\n%s", want, text)
		}
	}
	script := filepath.Join(t.TempDir(), s.Name())
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sh := range []string{"sh", "dash", "bash"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		if out, err := exec.Command(sh, "-n", script).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s\n%s", sh, err, out, text)
		}
		out, err := exec.Command(sh, "-c", `. "$1" && printf '%s\n' "$command" "$command_args" "$command_user" "$supervisor" "$OPM_HOME" "$OPM_RUNTIME_DIR" "$OPM_SERVICE" && type depend >/dev/null`, "sh", script).CombinedOutput()
		want := strings.Join([]string{"/bin/sh", "daemon run --restore", "root:root", "supervise-daemon", home, "/run/opm rt", "opm-root"}, "\n") + "\n"
		if err != nil || string(out) != want {
			t.Errorf("%s sources the script as:\n%s(%v)\nwant:\n%s", sh, out, err, want)
		}
	}
	s.Exe = "/opt/my opm/opm"
	if _, err := s.Text(); err == nil {
		t.Error("OpenRC: an opm path with a space was accepted (openrc-run evals it)")
	}
	s = startupFor(OpenRC, "/srv/a\x1b[2Jb")
	if _, err := s.Text(); err == nil {
		t.Error("OpenRC: an OPM_HOME with a control character was accepted")
	}
}

// TestShellQuote has shells read each quoted word back, byte for byte:
// sh (single quotes) every word that prints as itself; bash (and zsh,
// when there) those that need $'...', which never hold a control
// character or a byte that does not print.
func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "": "''", "a b": "'a b'", "it's": `'it'\''s'`, `opm-caf\xc3`: `'opm-caf\xc3'`, "café": "'café'",
		"a\nb": `$'a\x0ab'`, "\x1b[31m": `$'\x1b[31m'`, "it's\t\\": `$'it\'s\x09\\'`, "\xff": `$'\xff'`, "\u202e": `$'\xe2\x80\xae'`,
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	words := []string{"plain", "", "a b", "it's", "'", `\`, "$HOME", "`x`", "a\nb", "\x1b]0;x\a", "tab\t", "\xff\xfe", "\u202e", "\u0085", "caf\xc3", "it's\n\\"}
	for _, sh := range []string{"sh", "bash", "zsh"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		for _, w := range words {
			q := ShellQuote(w)
			if strings.HasPrefix(q, "$'") && sh == "sh" {
				continue
			}
			for _, c := range q {
				if c < 0x20 || c == 0x7f || !unicode.IsGraphic(c) {
					t.Errorf("ShellQuote(%q) = %q holds %U, which a terminal may act on", w, q, c)
				}
			}
			out, err := exec.Command(sh, "-c", "printf '%s' "+q).Output()
			if err != nil || string(out) != w {
				t.Errorf("%s reads ShellQuote(%q) = %s back as %q (%v)", sh, w, q, out, err)
			}
		}
	}
}
