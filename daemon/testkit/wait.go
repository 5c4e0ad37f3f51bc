package testkit

import (
	"testing"
	"time"
)

// The pauses of a poll: the first is short, for conditions that hold
// almost at once; they double up to the last, so that a long wait costs
// little CPU.
const (
	firstPause = time.Millisecond
	lastPause  = 50 * time.Millisecond
)

// WaitFor polls cond until it holds. Past within it fails the test,
// naming what it waited for. Polling with a deadline is how a test waits
// for another process to change state; it never proves that something
// did not happen.
func WaitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	if !Poll(within, cond) {
		t.Fatalf("timed out after %s waiting for %s", within, what)
	}
}

// Poll polls cond, with growing pauses, until it holds or within has
// passed, and reports whether it held.
func Poll(within time.Duration, cond func() bool) bool {
	return poll(within, firstPause, lastPause, cond)
}

// PollEvery polls cond every every until it holds or within has passed,
// and reports whether it held: for a moment that passes too quickly for
// growing pauses to catch.
func PollEvery(within, every time.Duration, cond func() bool) bool {
	return poll(within, every, every, cond)
}

// poll is the one poll loop of the tests, and the one place where they
// pause.
func poll(within, pause, most time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, most)
	}
	return true
}
