package cli

import (
	"strings"
	"testing"
)

// tailStart finds where the last n lines of a log begin, whether or not
// the log ends with a newline, and whether or not it has n lines.
func TestTailStart(t *testing.T) {
	tail := func(data string, n int) string {
		t.Helper()
		start, err := tailStart(strings.NewReader(data), int64(len(data)), n)
		if err != nil {
			t.Fatal(err)
		}
		return data[start:]
	}
	for data, want := range map[string]string{"a\nb\nc\n": "b\nc\n", "a\nb\nc": "b\nc", "a\n": "a\n", "": ""} {
		if got := tail(data, 2); got != want {
			t.Errorf("the last 2 lines of %q are %q, want %q", data, got, want)
		}
	}
	if got := tail("a\nb\nc\n", 5); got != "a\nb\nc\n" {
		t.Errorf("the last 5 lines of 3 are %q, want all", got)
	}
}
