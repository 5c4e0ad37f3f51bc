package cli

import (
	"slices"
	"testing"
	"time"
)

func TestMergeEnv(t *testing.T) {
	got, err := mergeEnv([]string{"A=1", "B=2"}, []string{"A=3", "C=x=y"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"B=2", "A=3", "C=x=y"}; !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
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
	for _, bad := range []string{"", "soon", "0", "-1s"} {
		if _, err := parseMillis(bad); err == nil {
			t.Errorf("parseMillis(%q) accepted", bad)
		}
	}
}

func TestLooksLikeTarget(t *testing.T) {
	for in, want := range map[string]bool{"all": true, "3": true, "1,2": true, "web": false, "python3 -c 'print(1,2)'": false, "app.js": false} {
		if got := looksLikeTarget(in); got != want {
			t.Errorf("looksLikeTarget(%q) = %v, want %v", in, got, want)
		}
	}
}
