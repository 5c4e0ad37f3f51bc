package daemon

import (
	"time"

	"github.com/shirou/gopsutil/v3/host"

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

// uptimeTicks is the time since boot in clock ticks, 0 if unknown.
func uptimeTicks() uint64 {
	bt, err := bootTime()
	if err != nil {
		return 0
	}
	return uint64(time.Since(bt).Seconds() * proc.TicksPerSecond)
}
