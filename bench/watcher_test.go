package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestAppWatcher plays the supervisor: it starts the app twice and checks
// that the watcher finds each new process and never the old one.
func TestAppWatcher(t *testing.T) {
	w, err := newWorkload()
	if err != nil {
		t.Fatal(err)
	}
	a, err := newAppWatcher(w, 5, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	old := 0
	for range 2 {
		cmd := exec.Command(w.Sleep, w.args(5)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		var got int
		if err := poll(t.Context(), 5*time.Second, 100*time.Microsecond, func() (bool, error) {
			var err error
			got, err = a.find(old)
			return got != 0, err
		}); err != nil {
			t.Fatalf("watcher did not find pid %d: %v", cmd.Process.Pid, err)
		}
		if got != cmd.Process.Pid {
			t.Fatalf("watcher found %d, want %d", got, cmd.Process.Pid)
		}
		old = got
	}
}
