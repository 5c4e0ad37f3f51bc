package api

import (
	"slices"
	"testing"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Target
		all, id bool
	}{
		{"web", Target{"web"}, false, false},
		{" web , 3 ", Target{"web", "3"}, false, false},
		{"1,2", Target{"1", "2"}, false, true},
		{"all", Target{"all"}, true, true},
		{"web,all", Target{"web", "all"}, true, false},
		{"python3 -c 'print(1,2)'", Target{"python3 -c 'print(1", "2)'"}, false, false},
	} {
		got, err := ParseTarget(tc.in)
		if err != nil || !slices.Equal(got, tc.want) || got.All() != tc.all || got.OnlyIDs() != tc.id {
			t.Errorf("ParseTarget(%q) = %q (all %v, ids %v), %v; want %q (all %v, ids %v)", tc.in, got, got.All(), got.OnlyIDs(), err, tc.want, tc.all, tc.id)
		}
	}
	for _, bad := range []string{"", " ", ",", " , ,"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) named something", bad)
		}
	}
}

// What the daemon writes, the CLI reads back as it was meant.
func TestReadinessLines(t *testing.T) {
	for _, r := range []Readiness{
		{Kind: ReadyServing, PID: 42},
		{Kind: ReadyRunning},
		{Kind: ReadyFailed, Message: "cannot bind: address in use"},
	} {
		got, err := ParseReadiness(r.Line())
		if err != nil || got != r {
			t.Errorf("ParseReadiness(%q) = %+v, %v; want %+v", r.Line(), got, err, r)
		}
	}
	if got, _ := ParseReadiness(Readiness{Kind: ReadyFailed, Message: "two\nlines"}.Line()); got.Message != "two lines" {
		t.Errorf("a message over two lines came back as %q", got.Message)
	}
	for _, bad := range []string{"", "ready", "ready x", "running late", "hello"} {
		if _, err := ParseReadiness(bad); err == nil {
			t.Errorf("ParseReadiness(%q) accepted", bad)
		}
	}
}
