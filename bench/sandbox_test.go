package main

import (
	"os"
	"testing"
	"time"
)

// TestSandboxKillAll starts an app the way a daemon would (own process
// group, the sandbox's environment) and checks that cleanup finds and
// kills it.
func TestSandboxKillAll(t *testing.T) {
	sb, err := newSandbox("OPM_HOME", "OPM_RUNTIME_DIR")
	if err != nil {
		t.Fatal(err)
	}
	cmd, outs, err := sb.command(t.Context(), time.Minute, append([]string{sb.w.Sleep}, sb.w.args(3)...))
	if err != nil {
		t.Fatal(err)
	}
	defer outs.close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := poll(t.Context(), 5*time.Second, time.Millisecond, func() (bool, error) {
		c, err := scanApps(sb.w)
		return len(c[3]) == 1, err
	}); err != nil {
		t.Fatalf("app not seen in /proc: %v", err)
	}
	if err := sb.killAll(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	<-done
	if c, _ := scanApps(sb.w); len(c) != 0 {
		t.Fatalf("apps left: %v", c)
	}
	if err := sb.remove(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{sb.root, sb.runtime} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Fatalf("%s not removed", d)
		}
	}
}
