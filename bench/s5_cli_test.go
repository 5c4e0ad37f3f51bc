package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestBuildHello builds the static hello-world floor and runs it.
func TestBuildHello(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	bin, err := buildHello(t.Context(), t.TempDir())
	if errors.Is(err, errNoGo) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin).Output()
	if err != nil || strings.TrimSpace(string(out)) != "hello, world" {
		t.Fatalf("%q, %v", out, err)
	}
	if f, err := exec.Command("file", bin).Output(); err == nil && !strings.Contains(string(f), "statically linked") {
		t.Fatalf("not static: %s", f)
	}
}
