package api

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSignal is the highest signal number on Linux (SIGRTMAX).
const maxSignal = 64

// ParseSignal reads a signal as users write it: its name with or without
// the "SIG" prefix, in any case ("SIGINT", "INT", "sigint"), or its number
// ("2", and 34 to 64 for the real-time signals, which have no name).
// Signal 0 sends nothing and is refused.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > maxSignal {
			return 0, fmt.Errorf("signal number %d is out of range: use 1 to %d, or a name such as SIGINT", n, maxSignal)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q: use a name such as SIGINT, SIGTERM or SIGUSR2, or a number", s)
}

// CheckSignal refuses what ParseSignal cannot read.
func CheckSignal(s string) error {
	_, err := ParseSignal(s)
	return err
}

// SignalString is a signal's canonical spelling, the one ParseSignal
// reads back: its name ("SIGINT"), or its number when it has none.
func SignalString(sig unix.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return strconv.Itoa(int(sig))
}
