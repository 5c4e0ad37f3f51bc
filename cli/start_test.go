package cli

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMergeEnv(t *testing.T) {
	got, err := mergeEnv([]string{"A=1", "B=2"}, []string{"A=3", "C=x=y"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A=3", "B=2", "C=x=y"}; !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %q, want %q (a variable keeps its place)", got, want)
	}
	if again, _ := mergeEnv(got, []string{"A=3", "C=x=y"}); !slices.Equal(again, got) {
		t.Errorf("the same overrides twice = %q, want %q: an unchanged app would look changed", again, got)
	}
	for _, bad := range []string{"A", "=1", "A B=1"} {
		if _, err := mergeEnv(nil, []string{bad}); ExitCode(err) != ExitUsage {
			t.Errorf("mergeEnv(%q): err %v, want a usage error", bad, err)
		}
	}
}

func TestParseMillis(t *testing.T) {
	for in, want := range map[string]time.Duration{"5000": 5 * time.Second, "1500ms": 1500 * time.Millisecond, "2s": 2 * time.Second} {
		if got, err := parseMillis(in); err != nil || got != want {
			t.Errorf("parseMillis(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "0", "-1s", "9223372036854775807", "9223372036855"} {
		if _, err := parseMillis(bad); err == nil {
			t.Errorf("parseMillis(%q) accepted", bad)
		}
	}
}

func TestParseKillTimeout(t *testing.T) {
	for in, want := range map[string]int64{"5000": 5000, "1500ms": 1500, "2s": 2000, "1": 1, "1ms": 1, "24h": 86_400_000, "86400000": 86_400_000} {
		if got, err := parseKillTimeout(in); err != nil || got != want {
			t.Errorf("parseKillTimeout(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "0", "-1s", "999us", "24h0m1s", "86400001", "9223372036854775807", "-9223372036854775808", "2562047h"} {
		if _, err := parseKillTimeout(bad); err == nil {
			t.Errorf("parseKillTimeout(%q) accepted", bad)
		}
	}
	// Out of range says the range.
	if _, err := parseKillTimeout("9223372036854775807"); err == nil || !strings.Contains(err.Error(), "between 1ms and 24h") {
		t.Errorf("parseKillTimeout(2^63-1): %v, want the range in the message", err)
	}
}
