package main

import (
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
