package main

import (
	"testing"

	"opm/daemon/testkit"
)

// TestMain lets the test binary play every part of an end-to-end test: a
// managed app or a helper process (a child mode of daemon/testkit), the
// opm command itself and so also the daemon that command spawns
// (OPM_TEST_ROLE=opm), or the tests.
func TestMain(m *testing.M) {
	testkit.Main(m, func() int { main(); return 0 })
}
