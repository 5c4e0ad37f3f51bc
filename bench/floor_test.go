package main

import (
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary act as the bare supervisor, the log
// writer and the log relay, as the harness binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case floorArg:
			bareSupervise(os.Args[2:])
		case logWriterArg:
			runLogWriter(os.Args[2:])
		case logRelayArg:
			runLogRelay(os.Args[2:])
		}
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
	ds, err := crashKills(t.Context(), r.sb, r.pid, make([]int, 3))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d <= 0 || d > 5*time.Second {
			t.Fatalf("restart times %v", ds)
		}
	}
}
