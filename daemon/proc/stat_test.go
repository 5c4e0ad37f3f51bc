package proc

import (
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	line := []byte("1234 (my (odd) app) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 98765 1000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n")
	st, err := ParseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := Stat{PID: 1234, State: 'S', PPID: 1, PGID: 1234, Session: 1234, Utime: 250, Stime: 50, Start: 98765, RSS: 300 * PageSize}
	if st != want {
		t.Fatalf("got %+v\nwant %+v", st, want)
	}
	for _, bad := range []string{"", "1234", "x (a) S", "1234 (a) S 1 2"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) accepted", bad)
		}
	}
}

func TestReadSelf(t *testing.T) {
	st, err := ReadStat(os.Getpid())
	if err != nil || st.PID != os.Getpid() || st.PPID != os.Getppid() || st.Start == 0 || st.RSS == 0 {
		t.Fatalf("ReadStat(self) = %+v, %v", st, err)
	}
	if _, err := ReadStat(1 << 30); err == nil {
		t.Fatal("ReadStat of a missing pid succeeded")
	}
}

func BenchmarkScan(b *testing.B) {
	for b.Loop() {
		if _, err := Scan(); err != nil {
			b.Fatal(err)
		}
	}
}

// No input makes ParseStat panic; whatever it accepts has its command name
// (which may hold spaces and parentheses) skipped whole.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (sh) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 42 0 0"))
	f.Add([]byte("1 (a) b) c) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 7 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseStat(b) })
}

func TestParseStatOddName(t *testing.T) {
	st, err := ParseStat([]byte("12 (we ird) (name)) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 4242 1 2"))
	if err != nil || st.Start != 4242 || st.PID != 12 {
		t.Fatalf("ParseStat = %+v, %v; want pid 12 start 4242", st, err)
	}
}
