package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A restore that finds the flag held by a live owner starts nothing and
// waits; when that owner dies half-way, the waiting restore takes over and
// every saved app ends up running exactly once.
func TestRestoreWaitsForOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := e.savedApps(2)
	e.freshContainer(names)

	holder := e.holdFlag()

	restore := exec.Command(os.Args[0], "restore")
	restore.Env = e.environ
	var stdout bytes.Buffer
	restore.Stdout = &stdout
	rerr, err := restore.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := restore.Start(); err != nil {
		t.Fatal(err)
	}
	waiting, err := bufio.NewReader(rerr).ReadString('\n')
	if err != nil || !strings.Contains(waiting, "in progress") || !strings.Contains(waiting, "waiting") {
		t.Fatalf("restore said %q (%v), want that it waits", waiting, err)
	}
	// While the owner lives, the waiting restore starts nothing: a quiet
	// window is the measurement.
	time.Sleep(200 * time.Millisecond)
	for _, n := range names {
		if c := argvCount(e.appMark(n)); c != 0 {
			t.Fatalf("%s has %d processes while another restore holds the flag", n, c)
		}
	}
	_ = holder.Process.Kill()
	_ = holder.Wait()
	if err := restore.Wait(); err != nil {
		t.Fatalf("restore after the owner died: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "2 started") {
		t.Errorf("restore summary %q, want 2 started", stdout.String())
	}
	e.checkExactlyOnce(names, "after the waiting restore took over")
}
