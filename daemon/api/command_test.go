package api

import "testing"

func TestNeedsShell(t *testing.T) {
	for line, want := range map[string]bool{
		"app.js":                   false,
		"python3 -m http.server 1": false,
		"./server --port 8000":     false,
		"tool | tee out":           true,
		"echo $HOME":               true,
		"PORT=1 tool":              true,
		"run 'a b'":                true,
		"a; b":                     true,
		"ls *.js":                  true,
		"":                         false,
	} {
		if got := NeedsShell(line); got != want {
			t.Errorf("NeedsShell(%q) = %v, want %v", line, got, want)
		}
	}
}
