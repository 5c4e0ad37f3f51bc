package main

import (
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary play every part of an end-to-end test:
// with OPM_TEST_CHILD set it is a managed app (see child_test.go); with
// OPM_TEST_ROLE=opm it is the opm command itself, and so also the daemon
// that command spawns; otherwise it runs the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("OPM_TEST_CHILD"); mode != "" {
		os.Exit(runChild(mode))
	}
	if os.Getenv("OPM_TEST_ROLE") == "opm" {
		main()
		return
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	removeStaleIntruders()
	dir, err := copyExecutable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	return m.Run()
}
