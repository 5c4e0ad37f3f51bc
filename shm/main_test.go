package shm_test

import (
	"testing"

	"opm/daemon/testkit"
)

// TestMain lets the test binary play the other processes of a test: a
// restorer that holds the flag, racers (child modes of daemon/testkit).
func TestMain(m *testing.M) {
	testkit.Main(m, nil)
}
