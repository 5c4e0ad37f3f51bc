package api

import (
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
)

// cronParser reads cron_restart as PM2 does: five fields (minute hour
// day-of-month month day-of-week), an optional leading seconds field, or
// a descriptor (@daily, @every 1h).
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// CronSetting is the cron_restart that text sets: "" for PM2's "0" (no
// cron restart) or nothing, else the expression, checked.
func CronSetting(text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" || text == "0" {
		return "", nil
	}
	if _, err := ParseCron(text); err != nil {
		return "", err
	}
	return text, nil
}

// ParseCron reads a cron_restart expression.
func ParseCron(expr string) (cron.Schedule, error) {
	s, err := cronParser.Parse(strings.TrimSpace(expr))
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %v (use 5 fields, minute hour day month weekday, e.g. \"0 3 * * *\"; a 6th in front for seconds; or @daily, @every 1h)", expr, err)
	}
	return s, nil
}
