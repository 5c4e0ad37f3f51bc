package proc

import (
	"time"

	"golang.org/x/sys/unix"
)

// Uptime is the time since boot in clock ticks, 0 if unknown: the clock
// process start times count on (CLOCK_BOOTTIME), to the tick.
func Uptime() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano() / int64(time.Second/TicksPerSecond))
}

// Started converts a process start time (clock ticks since boot) to wall
// time: now less the process's age. fallback is returned when the clock
// cannot be read.
func Started(ticks uint64, now, fallback time.Time) time.Time {
	up := Uptime()
	if up == 0 || ticks > up {
		return fallback
	}
	return now.Add(-time.Duration(up-ticks) * (time.Second / TicksPerSecond))
}
