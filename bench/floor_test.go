package main

import (
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary act as the bare supervisor, as the
// harness binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == floorArg {
		bareSupervise(os.Args[2:])
	}
	os.Exit(m.Run())
}

func TestBareSupervisorRestarts(t *testing.T) {
	r, err := startBare(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	}()
	if _, err := r.waitApps(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	ds, err := crashLoop(t.Context(), r.sb, r.pid, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d <= 0 || d > 5*time.Second {
			t.Fatalf("restart times %v", ds)
		}
	}
}
