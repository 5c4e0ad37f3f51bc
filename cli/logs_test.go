package cli

import (
	"strings"
	"testing"
)

func TestTailStart(t *testing.T) {
	tests := []struct {
		data string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\nc\n", 5, "a\nb\nc\n"},
		{"", 3, ""},
		{"a\n", 1, "a\n"},
	}
	for _, tt := range tests {
		r := strings.NewReader(tt.data)
		start, err := tailStart(r, int64(len(tt.data)), tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if got := tt.data[start:]; got != tt.want {
			t.Errorf("tail %d of %q = %q, want %q", tt.n, tt.data, got, tt.want)
		}
	}
}
