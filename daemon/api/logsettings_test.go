package api

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"500K", 500 << 10}, {"10M", 10 << 20}, {"1G", 1 << 30}, {"4096", 4096},
		{"10m", 10 << 20}, {"10MB", 10 << 20}, {" 2k ", 2 << 10},
	} {
		if got, err := ParseSize(c.in); err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
		if got, _ := ParseSize(FormatSize(c.want)); got != c.want {
			t.Errorf("FormatSize(%d) = %q reads back as %d", c.want, FormatSize(c.want), got)
		}
	}
	for _, bad := range []string{"", "M", "10X", "-1K", "1.5M", "99999999999G"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestDateLayout(t *testing.T) {
	at := time.Date(2026, 3, 4, 17, 8, 9, 123456789, time.FixedZone("", 3600))
	for _, c := range []struct{ pm2, want string }{
		{DefaultLogDateFormat, "2026-03-04T17:08:09"},
		{"YYYY-MM-DD HH:mm:ss.SSS Z", "2026-03-04 17:08:09.123 +01:00"},
		{"DD/MM/YY hh:mm A", "04/03/26 05:08 PM"},
		{"ddd D MMM [at] H", ""},
		{"[day] dddd", "day Wednesday"},
	} {
		layout, err := DateLayout(c.pm2)
		if c.want == "" {
			if err == nil {
				t.Errorf("DateLayout(%q) = %q, want an error", c.pm2, layout)
			}
			continue
		}
		if err != nil {
			t.Errorf("DateLayout(%q): %v", c.pm2, err)
			continue
		}
		if got := at.Format(layout); got != c.want {
			t.Errorf("DateLayout(%q) = %q writes %q, want %q", c.pm2, layout, got, c.want)
		}
	}
	for _, bad := range []string{"", "YYYY [2006", "X", "YYYY SSS", "[Jan] YYYY", "YYYY 1"} {
		if l, err := DateLayout(bad); err == nil {
			t.Errorf("DateLayout(%q) = %q, want an error", bad, l)
		}
	}
}

func TestBackupNames(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 5e6, time.UTC)
	name := BackupName("/l/web-out.log", at)
	if name != "/l/web-out-2026-11-27T10-00-00.005.log" {
		t.Fatalf("BackupName = %q", name)
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"web-out-2026-11-27T10-00-00.005.log", true},
		{"web-out-2026-11-27T10-00-00.005.log.gz", true},
		{"web-out-out-2026-11-27T10-00-00.005.log", false}, // app web-out's
		{"web-out.log", false},
		{"web-out-2026-11-27T10-00-00.005.log.gz.tmp", false},
	} {
		if got, ok := BackupTime("/l/web-out.log", c.name); ok != c.ok || ok && !got.Equal(at) {
			t.Errorf("BackupTime(%q) = %v, %v; want ok %v", c.name, got, ok, c.ok)
		}
	}
}
