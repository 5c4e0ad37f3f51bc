package main

import (
	"os"
	"strings"
	"testing"
)

// Out-of-range numbers are refused by the CLI with the range the daemon
// accepts (exit 2), before anything starts.
func TestStartRangesRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"kill timeout 2^63-1 ms", []string{"--kill-timeout", "9223372036854775807"}, "between 1ms and 24h"},
		{"kill timeout 25h", []string{"--kill-timeout", "25h"}, "between 1ms and 24h, got 25h"},
		{"kill timeout below 1ms", []string{"--kill-timeout", "500us"}, "between 1ms and 24h"},
		{"max restarts too many", []string{"--max-restarts", "1000001"}, "between 0 and 1000000"},
		{"max restarts negative", []string{"--max-restarts", "-1"}, "between 0 and 1000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.run(append([]string{"start", "sleep 60", "--name", "x"}, tt.args...)...)
			if r.code != 2 || !strings.HasPrefix(r.stderr, "opm: ") || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("want exit 2 and %q on stderr; %v", tt.want, r)
			}
		})
	}
	if apps := e.list(); len(apps) != 0 {
		t.Errorf("refused starts registered apps: %+v", apps)
	}
}

// Names that would print as something else (control, format or invalid
// bytes) are refused with exit 2 and one line that says what to use, and
// that line is itself printable. (api.CheckName's test has every kind.)
func TestStartUnprintableNameRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct{ name, in, want string }{
		{"bidi override", "\u202ebew", "U+202E"},
		{"trailing newline", "web\n", "U+000A"},
		{"invalid UTF-8", "web\xff", "not valid UTF-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.run("start", os.Args[0], "--name", tt.in, "--env", "OPM_TEST_CHILD=block")
			if r.code != 2 || !strings.HasPrefix(r.stderr, "opm: ") || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "use letters, digits") {
				t.Errorf("want exit 2 naming %s and saying what to use; %v", tt.want, r)
			}
			if strings.Count(r.stderr, "\n") != 1 || !printable(strings.TrimSuffix(r.stderr, "\n")) {
				t.Errorf("stderr is not one printable line: %q", r.stderr)
			}
		})
	}
	if apps := e.list(); len(apps) != 0 {
		t.Errorf("refused names registered apps: %+v", apps)
	}
}
