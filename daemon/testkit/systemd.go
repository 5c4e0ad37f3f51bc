package testkit

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// NoSystemdAnalyze is what a test says when it cannot have systemd check
// its units.
const NoSystemdAnalyze = "systemd-analyze is not installed ('make testdeps' installs it, from Debian's systemd package): the units are not checked by systemd"

// SystemdVerify has `systemd-analyze verify` check unit files (paths), in
// a subtest of t named systemd-analyze-verify, and reports whether it
// did. A complaint fails the test: verify exits 0 after a warning such as
// "Invalid syntax, ignoring", so its output must be empty. Without
// systemd-analyze the subtest is skipped, saying so, and the caller's
// test goes on: only this check is left out.
func SystemdVerify(t *testing.T, paths ...string) bool {
	t.Helper()
	verified := false
	t.Run("systemd-analyze-verify", func(t *testing.T) {
		exe, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip(NoSystemdAnalyze)
		}
		cmd := exec.Command(exe, append([]string{"verify"}, paths...)...)
		// A user unit is verified against a user manager, which needs a
		// runtime directory of its own.
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=")
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			var text strings.Builder
			for _, p := range paths {
				data, _ := os.ReadFile(p)
				text.WriteString("---- " + p + "\n" + string(data))
			}
			t.Fatalf("systemd-analyze verify: %v\n%s\n%s", err, out, text.String())
		}
		verified = true
	})
	return verified
}

// UnitSettings returns a unit file's settings (KEY=VALUE lines, comments
// left out), by key, in order.
func UnitSettings(text string) map[string][]string {
	out := map[string][]string{}
	for _, l := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			out[k] = append(out[k], v)
		}
	}
	return out
}
