package main

import (
	"slices"
	"testing"
	"time"
)

func TestWorkloadIndex(t *testing.T) {
	w := workload{Sleep: "/usr/bin/sleep", Tag: "123456"}
	for _, tc := range []struct {
		name string
		argv []string
		want int
	}{
		{"app", append([]string{w.Sleep}, w.args(42)...), 42},
		{"relative sleep", []string{"sleep", "infinity", w.marker(7)}, 7},
		{"other tag", []string{"sleep", "infinity", "0.65432100042"}, -1},
		{"extra arg", []string{"sleep", "infinity", w.marker(1), "x"}, -1},
		{"not sleep", []string{"/bin/sh", "infinity", w.marker(1)}, -1},
		{"empty", nil, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := w.index(tc.argv); got != tc.want {
				t.Fatalf("index(%q) = %d, want %d", tc.argv, got, tc.want)
			}
		})
	}
}

func TestParseLists(t *testing.T) {
	opm, err := (&opmTool{}).parseList([]byte(`[{"id":0,"name":"a","pid":12,"status":"online","restarts":0}]`))
	if err != nil || !slices.Equal(opm, []listed{{"a", 12, "online"}}) {
		t.Fatalf("parseOpmList = %v, %v", opm, err)
	}
	pm2, err := (&pm2Tool{}).parseList([]byte("banner\n" + `[{"pid":13,"name":"b","pm2_env":{"status":"stopped"}}]`))
	if err != nil || !slices.Equal(pm2, []listed{{"b", 13, "stopped"}}) {
		t.Fatalf("parsePM2List = %v, %v", pm2, err)
	}
}

func TestCensusTally(t *testing.T) {
	c := appCensus{0: {10}, 1: {11, 12, 13}, 3: {14}}
	running, missing, dup := c.tally(4)
	if running != 3 || missing != 1 || dup != 2 {
		t.Fatalf("tally = %d running, %d missing, %d duplicates", running, missing, dup)
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := summarize(ds)
	if s.Median != 50500*time.Microsecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Fatalf("summarize = %+v", s)
	}
}

func TestParamsQuick(t *testing.T) {
	p, err := parseParams([]string{"--quick", "--crash-n", "7"})
	if err != nil {
		t.Fatal(err)
	}
	if p.CrashN != 7 || p.IdleN != 10 || !slices.Equal(p.RestoreN, intList{50}) || p.IdleWindow != 3*time.Second {
		t.Fatalf("quick params = %+v", p)
	}
	if _, err := parseParams([]string{"--restore-n", "10,x"}); err == nil {
		t.Fatal("bad --restore-n accepted")
	}
}

func TestFmtNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.5789: "0.579", 12.34: "12.3", 1234.5: "1234", 7: "7"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}
