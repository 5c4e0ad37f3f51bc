package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/jedib0t/go-pretty/v6/text"

	"opm/daemon/api"
)

func TestRenderApps(t *testing.T) {
	var b bytes.Buffer
	renderApps(&b, []api.App{
		{ID: 0, Name: "web", PID: 42, Status: api.StatusOnline, UptimeMs: 90_000, Restarts: 2, CPU: 1.25, Memory: 3 << 20},
		{ID: 3, Name: "job", Status: api.StatusStopped},
	})
	out := b.String()
	for _, want := range []string{"web", "42", "1m", "online", "1.2%", "3.0mb", "job", "stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour written to a buffer:\n%q", out)
	}
}

// An app that watches its files says so in the status column.
func TestRenderAppsWatching(t *testing.T) {
	var b bytes.Buffer
	renderApps(&b, []api.App{
		{ID: 0, Name: "web", PID: 42, Status: api.StatusOnline, Spec: api.Spec{Settings: api.Settings{Watch: true}}},
		{ID: 1, Name: "job", Status: api.StatusStopped},
	})
	lines := strings.Split(b.String(), "\n")
	for _, l := range lines {
		switch {
		case strings.Contains(l, "web") && !strings.Contains(l, "online [watching]"):
			t.Errorf("watching app without the marker: %q", l)
		case strings.Contains(l, "job") && strings.Contains(l, "watching"):
			t.Errorf("marker on an app that does not watch: %q", l)
		}
	}
}

func TestStatusColor(t *testing.T) {
	text.EnableColors() // whatever the test's own environment says
	app := api.App{Status: api.StatusErrored}
	if s := statusText(app, false); s != "errored" {
		t.Errorf("plain status = %q", s)
	}
	if s := statusText(app, true); !strings.Contains(s, "\x1b[") || !strings.Contains(s, "errored") {
		t.Errorf("coloured status = %q", s)
	}
}

func TestUseColorHonoursNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	if useColor(&bytes.Buffer{}) {
		t.Error("colour with NO_COLOR set")
	}
}

func TestFormat(t *testing.T) {
	for ms, want := range map[int64]string{0: "0s", 59_000: "59s", 61_000: "1m", 7_200_000: "2h", 3 * 86_400_000: "3D"} {
		if got := formatUptime(ms); got != want {
			t.Errorf("formatUptime(%d) = %q, want %q", ms, got, want)
		}
	}
	for n, want := range map[uint64]string{512: "512b", 1536: "1.5kb", 5 << 30: "5.0gb"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
