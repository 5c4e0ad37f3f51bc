package units

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"opm/daemon/api"
)

// Calendar is when a systemd timer fires for a cron_restart expression:
// at any of the OnCalendar= events, or, for "@every D", every Every after
// the timer starts (OnActiveSec= and OnUnitActiveSec=).
type Calendar struct {
	OnCalendar []string
	Every      time.Duration
}

// starBit marks a cron field given as '*' or '?' (robfig/cron's own
// marker): it decides how the day of the month and the day of the week
// combine.
const starBit = 1 << 63

// CronCalendar converts a cron_restart expression, read as the daemon
// reads it (api.ParseCron: 5 fields, 6 with seconds first, or a
// descriptor such as @daily; CRON_TZ= in front for a time zone), to
// systemd calendar events (systemd.time(7)) that fire at the same times.
//
// Each field becomes the list of its values, contiguous runs as ranges
// ("9..17", "Mon..Fri"). Cron fires when the day of the month or the
// day of the week matches if both are restricted, and when both match
// if either is '*'; a calendar event requires both, so the first case is
// two events, one for each day field.
func CronCalendar(expr string) (Calendar, error) {
	sched, err := api.ParseCron(expr)
	if err != nil {
		return Calendar{}, err
	}
	switch s := sched.(type) {
	case cron.ConstantDelaySchedule:
		return Calendar{Every: s.Delay}, nil
	case *cron.SpecSchedule:
		tz := ""
		if s.Location != nil && s.Location != time.Local && s.Location.String() != "Local" {
			tz = " " + s.Location.String()
		}
		clock := fmt.Sprintf("%s:%s:%s", field(s.Hour, 0, 23), field(s.Minute, 0, 59), field(s.Second, 0, 59))
		month := field(s.Month, 1, 12)
		dom := field(s.Dom, 1, 31)
		dow := weekdays(s.Dow)
		event := func(dow, dom string) string {
			e := fmt.Sprintf("*-%s-%s %s%s", month, dom, clock, tz)
			if dow != "*" {
				e = dow + " " + e
			}
			return e
		}
		if s.Dom&starBit != 0 || s.Dow&starBit != 0 {
			return Calendar{OnCalendar: []string{event(dow, dom)}}, nil
		}
		return Calendar{OnCalendar: []string{event("*", dom), event(dow, "*")}}, nil
	}
	return Calendar{}, fmt.Errorf("cron expression %q: a schedule of type %T cannot be converted", expr, sched)
}

// field is the values lo..hi set in bits as a calendar component: "*"
// for all of them, else a comma list with runs of three or more as
// ranges, two digits each.
func field(bits uint64, lo, hi int) string {
	var vals []int
	for v := lo; v <= hi; v++ {
		if bits&(1<<uint(v)) != 0 {
			vals = append(vals, v)
		}
	}
	if len(vals) == hi-lo+1 {
		return "*"
	}
	return runs(vals, func(v int) string { return fmt.Sprintf("%02d", v) })
}

// weekdayNames are systemd's weekday names by cron's number (0 Sunday);
// weekOrder is systemd's order of the week, in which ranges run.
var (
	weekdayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	weekOrder    = [7]int{1, 2, 3, 4, 5, 6, 0}
)

// weekdays is the day-of-week field as names, Monday first ("Mon..Fri",
// "Sat,Sun"), or "*" for every day.
func weekdays(bits uint64) string {
	var pos []int // positions in weekOrder
	for i, d := range weekOrder {
		if bits&(1<<uint(d)) != 0 {
			pos = append(pos, i)
		}
	}
	if len(pos) == 7 {
		return "*"
	}
	return runs(pos, func(i int) string { return weekdayNames[weekOrder[i]] })
}

// runs writes ascending vals as a comma list, runs of three or more as
// "a..b".
func runs(vals []int, name func(int) string) string {
	var parts []string
	for i := 0; i < len(vals); {
		j := i
		for j+1 < len(vals) && vals[j+1] == vals[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, name(vals[i])+".."+name(vals[j]))
		default:
			for k := i; k <= j; k++ {
				parts = append(parts, name(vals[k]))
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
