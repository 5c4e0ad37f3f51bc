package shm

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// ProcStartTime returns the start time of process pid in clock ticks since
// boot (field 22 of /proc/<pid>/stat). Together with the PID it names one
// process for the life of the system: a recycled PID has a later start.
func ProcStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read start time of pid %d: %w", pid, err)
	}
	return parseStartTime(b)
}

// parseStartTime extracts field 22 from the text of /proc/<pid>/stat. The
// command name (field 2) is in parentheses and may itself contain spaces
// and parentheses, so fields are counted from the last ')'.
func parseStartTime(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc stat: no command name")
	}
	fields := bytes.Fields(stat[i+1:])
	const idx = 22 - 3 // fields after the name start at field 3
	if len(fields) <= idx {
		return 0, fmt.Errorf("parse /proc stat: %d fields, want more than %d", len(fields), idx+2)
	}
	v, err := strconv.ParseUint(string(fields[idx]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc stat start time: %w", err)
	}
	return v, nil
}
