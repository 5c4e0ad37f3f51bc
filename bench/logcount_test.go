package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// logLines returns lines from..to-1 of marker.
func logLines(t *testing.T, marker string, from, to int) []byte {
	t.Helper()
	l, err := logLineTemplate(marker)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := from; i < to; i++ {
		putLogSeq(l, marker, uint64(i))
		b = append(b, l...)
	}
	return b
}

func TestLogLine(t *testing.T) {
	const m = "L123456-07"
	l, err := logLineTemplate(m)
	if err != nil {
		t.Fatal(err)
	}
	putLogSeq(l, m, 4200000123)
	if len(l) != logLineLen || !bytes.HasPrefix(l, []byte(m+" 4200000123 xxx")) || l[logLineLen-1] != '\n' {
		t.Fatalf("line %q", l)
	}
	if seq, ok := parseLogLine(l[:logLineLen-1], m); !ok || seq != 4200000123 {
		t.Fatalf("parse = %d, %v", seq, ok)
	}
	for name, bad := range map[string][]byte{
		"other marker": logLines(t, "L123456-08", 5, 6),
		"short":        l[:logLineLen-2],
		"digit":        bytes.Replace(l, []byte(" 42"), []byte(" 4x"), 1),
		"padding":      bytes.Replace(l, []byte("xxx"), []byte("xyx"), 1),
	} {
		if _, ok := parseLogLine(bytes.TrimSuffix(bad, []byte("\n")), m); ok {
			t.Errorf("%s: %q parsed", name, bad)
		}
	}
	for _, m := range []string{"", "a b", string(bytes.Repeat([]byte("m"), 90))} {
		if _, err := logLineTemplate(m); err == nil {
			t.Errorf("marker %q accepted", m)
		}
	}
}

func TestIsAppLog(t *testing.T) {
	for file, want := range map[string][2]bool{
		"log01-out.log":                             {true, true},
		"log01-out-2026-01-02T15-04-05.000.log":     {true, false},
		"log01-out-2026-01-02T15-04-05.000.log.gz":  {true, false},
		"log01-out__2026-01-02_15-04-05.log":        {true, false},
		"log01-err.log":                             {false, false},
		"log011-out.log":                            {false, false},
		"log01-outer.log":                           {false, false},
		"log01-out.log.tmp":                         {false, false},
		"log01-out-2026-01-02T15-04-05.000.log.tmp": {false, false},
	} {
		ok, live := isAppLog(file, "log01")
		if ok != want[0] || live != want[1] {
			t.Errorf("isAppLog(%q) = %v, %v, want %v", file, ok, live, want)
		}
	}
}

func writeGz(t *testing.T, path string, b []byte) {
	t.Helper()
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, z.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTallyAppLogs: lines 0..99 written, spread over a gzipped rotated
// file, a plain rotated file and the live one; line 42 twice, 50..59
// missing, a torn line, a stranger's line and an unfinished last line.
func TestTallyAppLogs(t *testing.T) {
	const m = "L123456-01"
	dir := t.TempDir()
	writeGz(t, filepath.Join(dir, "log01-out-2026-01-02T15-04-05.000.log.gz"), logLines(t, m, 0, 30))
	rot := append(logLines(t, m, 30, 50), logLines(t, m, 42, 43)...)
	if err := os.WriteFile(filepath.Join(dir, "log01-out__2026-01-02_15-04-05.log"), rot, 0o600); err != nil {
		t.Fatal(err)
	}
	live := logLines(t, m, 60, 100)
	live = append(live, []byte(m+" 00000000")...) // torn
	live = append(live, '\n')
	live = append(live, logLines(t, "L123456-02", 0, 1)...)
	live = append(live, logLines(t, m, 200, 201)...) // never written
	live = append(live, logLines(t, m, 55, 56)[:30]...)
	if err := os.WriteFile(filepath.Join(dir, "log01-out.log"), live, 0o600); err != nil {
		t.Fatal(err)
	}
	// Another app's files and stderr are not counted.
	os.WriteFile(filepath.Join(dir, "log01-err.log"), logLines(t, m, 50, 60), 0o600)
	os.WriteFile(filepath.Join(dir, "log011-out.log"), logLines(t, m, 50, 60), 0o600)

	got, err := tallyAppLogs(dir, "log01", m, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := logTally{Files: 3, Rotated: 2, Lines: 30 + 21 + 40 + 3, Distinct: 90, Duplicates: 1, Lost: 10, Malformed: 4}
	want.Bytes = int64(30*logLineLen+len(rot)) + int64(len(live))
	if got != want {
		t.Fatalf("tally =\n%+v, want\n%+v", got, want)
	}

	s, err := snapshotLogs(dir, []string{"log01", "log011"})
	if err != nil {
		t.Fatal(err)
	}
	if s.bytes[0] != want.Bytes || s.bytes[1] != 10*logLineLen {
		t.Fatalf("snapshot bytes = %v, want [%d %d]", s.bytes, want.Bytes, 10*logLineLen)
	}
	os.WriteFile(filepath.Join(dir, "log01-out.log"), live[:100], 0o600)
	if s2, _ := snapshotLogs(dir, []string{"log01"}); s2.sig == s.sig {
		t.Fatal("signature unchanged after a file changed")
	}
}

func TestParseLogCount(t *testing.T) {
	c, err := parseLogCount([]byte(logCount{Lines: 123, Partial: 7}.String()))
	if err != nil || c != (logCount{123, 7}) {
		t.Fatalf("parseLogCount = %+v, %v", c, err)
	}
	if _, err := parseLogCount([]byte("12")); err == nil {
		t.Fatal("truncated count accepted")
	}
}

func TestReadHWM(t *testing.T) {
	if parseKBValue("  1234 kB") != 1234*1024 {
		t.Fatal("parseKBValue")
	}
	if h, err := readHWM(os.Getpid()); err != nil || h == 0 {
		t.Fatalf("readHWM = %d, %v", h, err)
	}
	if got := joinNotes("", "a", "", "b"); got != "a; b" {
		t.Fatalf("joinNotes = %q", got)
	}
}

// TestLogsDirect runs the floor and both prototype relays briefly
// through the test binary, as the harness runs them: every line must
// arrive.
func TestLogsDirect(t *testing.T) {
	p, err := parseParams([]string{"--logs-n", "2", "--logs-time", "100ms", "--logs-drain", "20s"})
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{p: p}
	for _, w := range []logsWiring{logsDirect, logsPipeRelay, logsPerAppRelay} {
		r, err := measureLogsDirect(t.Context(), b, w)
		if err != nil {
			t.Fatalf("wiring %d: %v", w, err)
		}
		if !r.complete || r.written == 0 || r.tally.Lost != 0 || r.tally.Duplicates != 0 || r.tally.Malformed != 0 ||
			r.tally.Bytes != r.written*logLineLen || r.elapsed < 100*time.Millisecond {
			t.Fatalf("wiring %d: %+v", w, r)
		}
		if (w == logsDirect) != (len(r.cost.pids) == 0) || (w != logsDirect && r.cost.threads == 0) {
			t.Fatalf("wiring %d: cost %+v", w, r.cost)
		}
	}
}

func TestLogsParamsQuick(t *testing.T) {
	p, err := parseParams([]string{"--quick"})
	if err != nil || p.LogsN != 4 || p.LogsTime != 2*time.Second || p.LogsMaxSize != "10M" || p.LogsTimeText != "2s" {
		t.Fatalf("quick logs params = %+v, %v", p, err)
	}
	if _, err := parseParams([]string{"--logs-n", "0"}); err == nil {
		t.Fatal("--logs-n 0 accepted")
	}
}
