package monit

import (
	"slices"
	"strings"
	"testing"
)

func TestDecodeKeys(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []key
	}{
		{"jkq", []key{keyDown, keyUp, keyQuit}},
		{"\x1b[A\x1b[B\x1bOA\x1bOB", []key{keyUp, keyDown, keyUp, keyDown}},
		{"\x1b[H\x1b[4~\x1b[5~", []key{keyTop, keyBottom, keyTop}},
		{"\x03", []key{keyQuit}},
		{"rstl", []key{keyRestart, keyStop, keyStart, keyReload}},
		{"\x1b[1;5Cr", []key{keyRestart}}, // Ctrl-Right skipped whole
		{"\x1b", nil},
		{"\x1b[", nil},
		{"x", nil},
	} {
		if got := decodeKeys([]byte(c.in)); !slices.Equal(got, c.want) {
			t.Errorf("decodeKeys(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	for _, c := range []struct {
		vals        []float64
		n           int
		bottom, top float64
		want        string
	}{
		{[]float64{0, 50, 100}, 3, 0, 100, "▁▅█"},
		{[]float64{0, 50, 100}, 5, 0, 100, "  ▁▅█"},
		{[]float64{1, 2, 3, 4}, 2, 0, 4, "▇█"},
		{[]float64{-1, 10}, 2, 0, 100, " ▁"},
		{[]float64{500, 500}, 2, 500, 500, "▄▄"},
		{[]float64{100, 200}, 2, 100, 200, "▁█"},
	} {
		if got := sparkline(c.vals, c.n, c.bottom, c.top); got != c.want {
			t.Errorf("sparkline(%v, %d, %v, %v) = %q, want %q", c.vals, c.n, c.bottom, c.top, got, c.want)
		}
	}
}

func TestFit(t *testing.T) {
	for _, c := range []struct {
		s    string
		w    int
		want string
	}{
		{"web", 5, "web  "},
		{"worker", 4, "wor…"},
		{"日本語", 4, "日… "},
		{"x", 0, ""},
	} {
		if got := fit(c.s, c.w); got != c.want || width(got) != c.w {
			t.Errorf("fit(%q, %d) = %q (width %d), want %q", c.s, c.w, got, width(got), c.want)
		}
	}
}

// TestFrame: every line fits the terminal, the selection is marked, and
// a terminal too small is told so.
func TestFrame(t *testing.T) {
	m := &model{hist: map[int]*history{}, selID: -1, logID: -1}
	m.apply(snapshot{rows: []Row{
		{ID: 0, Label: "web:0", Status: "online", StatusText: "online", Uptime: "5s", Sampled: true, CPU: 3, Memory: 1 << 20, MemoryText: "1.0mb"},
		{ID: 1, Label: "a-very-long-name-that-does-not-fit", Status: "stopped", StatusText: "stopped", Uptime: "-"},
	}})
	m.move(1)
	for _, size := range [][2]int{{60, 12}, {120, 40}, {80, 24}} {
		lines := m.frame(size[0], size[1])
		if len(lines) != size[1] {
			t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for i, ln := range lines {
			plain := stripSGR(ln)
			if width(plain) > size[0] {
				t.Errorf("%dx%d: line %d is %d wide: %q", size[0], size[1], i, width(plain), plain)
			}
		}
		if !strings.HasPrefix(stripSGR(lines[3]), "▶") || strings.HasPrefix(stripSGR(lines[2]), "▶") {
			t.Errorf("%dx%d: the second app is not the one selected:\n%s", size[0], size[1], strings.Join(lines, "\n"))
		}
	}
	lines := m.frame(59, 40)
	if !strings.Contains(lines[0], "terminal too small (59x40)") {
		t.Errorf("59x40: %q", lines)
	}
}

// stripSGR removes the attributes from a line.
func stripSGR(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			return b.String() + s
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], 'm')
		s = s[i+j+1:]
	}
}
