package process

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Apps start with the signal dispositions any process starts with. exec
// keeps a signal ignored (SIG_IGN) and resets only handled ones, so a
// signal ignored by whoever started the daemon — nohup ignores SIGHUP,
// GNU make the real-time signals 32 and 33 — would otherwise stay ignored
// in every app. DefaultSignals absorbs each such signal with a handler,
// which leaves the daemon itself unaffected; the few the Go runtime will
// not handle are set back to SIG_DFL.
func DefaultSignals() {
	absorb := make(chan os.Signal, 1)
	// SIGHUP is always absorbed: the daemon outlives its terminal.
	signal.Notify(absorb, syscall.SIGHUP)
	for s := 1; s < 65; s++ {
		sig := syscall.Signal(s)
		if sig == syscall.SIGKILL || sig == syscall.SIGSTOP || !ignored(sig) {
			continue
		}
		signal.Notify(absorb, sig)
		if ignored(sig) {
			setDefault(sig)
		}
	}
}

// kernelSigaction is struct sigaction as the rt_sigaction syscall takes
// it on Linux.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const sigIgn = 1 // SIG_IGN; SIG_DFL is 0

func ignored(sig syscall.Signal) bool {
	var old kernelSigaction
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	return errno == 0 && old.handler == sigIgn
}

func setDefault(sig syscall.Signal) {
	var act kernelSigaction // SIG_DFL, no flags
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
}
