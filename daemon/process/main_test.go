package process

import (
	"testing"

	"opm/daemon/testkit"
)

// TestMain lets the test binary play testkit's child modes (the apps the
// tests spawn) and this suite's own part, OPM_TEST_ROLE=fallback: the
// spawner under a seccomp filter (fallback_test.go).
func TestMain(m *testing.M) {
	testkit.Main(m, fallbackRole)
}
