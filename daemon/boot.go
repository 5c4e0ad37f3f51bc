package daemon

import (
	"time"

	"github.com/shirou/gopsutil/v3/host"
	"golang.org/x/sys/unix"

	"opm/daemon/internal/proc"
)

func init() { host.EnableBootTimeCache(true) }

// bootTime is when the machine booted (to the second); process start
// times in /proc count clock ticks from it.
func bootTime() (time.Time, error) {
	secs, err := host.BootTime()
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(int64(secs), 0), nil
}

// uptimeTicks is the time since boot in clock ticks, 0 if unknown: the
// clock process start times count on (CLOCK_BOOTTIME), to the tick — not
// bootTime, which is whole seconds, too coarse for a CPU rate over a
// young process's life.
func uptimeTicks() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano() / int64(time.Second/proc.TicksPerSecond))
}
