package main

import "testing"

// TestRestoreLimitProblems: a handful of apps fits any machine; ten
// million do not fit pid_max (at most 4194304).
func TestRestoreLimitProblems(t *testing.T) {
	if p := restoreLimitProblems(10); len(p) != 0 {
		t.Fatalf("10 apps: %v", p)
	}
	if p := restoreLimitProblems(10_000_000); len(p) == 0 {
		t.Fatal("10000000 apps: no problem found")
	}
}
