package units

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
)

func TestCronCalendarText(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{"0 3 * * *", []string{"*-*-* 03:00:00"}},
		{"30 9-17 * * 1-5", []string{"Mon..Fri *-*-* 09..17:30:00"}},
		{"*/20 * * * *", []string{"*-*-* *:00,20,40:00"}},
		{"0 0 1,15 * *", []string{"*-*-01,15 00:00:00"}},
		{"15 30 2 * * *", []string{"*-*-* 02:30:15"}},
		{"0 0 * * 6,0", []string{"Sat,Sun *-*-* 00:00:00"}},
		// Both day fields restricted: cron fires on either.
		{"0 0 1 * 1", []string{"*-*-01 00:00:00", "Mon *-*-* 00:00:00"}},
		{"@daily", []string{"*-*-* 00:00:00"}},
		{"CRON_TZ=Europe/Berlin 0 6 * * *", []string{"*-*-* 06:00:00 Europe/Berlin"}},
	} {
		cal, err := CronCalendar(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if !slices.Equal(cal.OnCalendar, c.want) || cal.Every != 0 {
			t.Errorf("%s: %q every %s, want %q", c.expr, cal.OnCalendar, cal.Every, c.want)
		}
	}
	cal, err := CronCalendar("@every 90m")
	if err != nil || cal.Every != 90*time.Minute || len(cal.OnCalendar) != 0 {
		t.Errorf("@every 90m: %+v, %v", cal, err)
	}
	if _, err := CronCalendar("61 * * * *"); err == nil {
		t.Error("a bad expression was converted")
	}
}

// TestCronCalendarSameTimes has systemd compute the times of each
// converted expression (`systemd-analyze calendar --iterations`) and
// compares them with the times the daemon's cron fires at.
func TestCronCalendarSameTimes(t *testing.T) {
	exe, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed ('make testdeps' installs it): the calendars are not checked by systemd")
	}
	const n = 15
	bases := []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2028, 2, 27, 13, 7, 41, 0, time.UTC), // a leap year
	}
	for _, expr := range []string{
		"0 3 * * *", "*/15 * * * *", "30 9-17 * * 1-5", "0 0 1,15 * *", "0 0 1 * 1",
		"0 0 */10 * 0", "@daily", "@hourly", "@weekly", "@monthly", "@yearly",
		"15 30 2 * * *", "0 0 29 2 *", "0 12 * 1,6,12 6,0", "5 4 * * sun",
		"*/7 * * * * *", "0 0-5,7,9-23/3 * * *", "0 0 31 * *", "0 8 1-7 * 1",
	} {
		expr := "CRON_TZ=UTC " + expr
		cal, err := CronCalendar(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		sched, err := api.ParseCron(expr)
		if err != nil {
			t.Fatal(err)
		}
		for _, base := range bases {
			var want []time.Time
			for at := base; len(want) < n; {
				at = sched.Next(at)
				want = append(want, at)
			}
			var got []time.Time
			for _, spec := range cal.OnCalendar {
				cmd := exec.Command(exe, "calendar", "--iterations", "15", "--base-time", base.Format("2006-01-02 15:04:05 UTC"), spec)
				cmd.Env = append(os.Environ(), "TZ=UTC", "SYSTEMD_LOG_COLOR=0")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("systemd-analyze calendar %q (from %s): %v\n%s", spec, expr, err, out)
				}
				for _, line := range strings.Split(string(out), "\n") {
					_, at, ok := strings.Cut(line, "Next elapse: ")
					if !ok {
						_, at, ok = strings.Cut(line, ": ")
						ok = ok && strings.Contains(line, "Iter. #")
					}
					if !ok {
						continue
					}
					tm, err := time.Parse("Mon 2006-01-02 15:04:05 MST", strings.TrimSpace(at))
					if err != nil {
						t.Fatalf("read systemd's time %q: %v", at, err)
					}
					got = append(got, tm)
				}
			}
			slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
			got = slices.CompactFunc(got, time.Time.Equal)
			if len(got) > n {
				got = got[:n]
			}
			if !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("%s as %q, from %s:\nsystemd: %v\ncron:    %v", expr, cal.OnCalendar, base, got, want)
			}
		}
	}
}
