package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"syscall"
)

// runChild behaves as a managed app. Children never use timers: they exit
// at once or block until a signal arrives.
//
//	block        print "block <pid>", wait for SIGTERM, then exit 0
//	exit0        exit 0 at once
//	exit1        exit 1 at once
//	crash-on-usr1  print "armed <pid>" once signals are caught; exit 1
//	             on SIGUSR1, exit 0 on SIGTERM
//	ignore-term  ignore SIGTERM, print "ignoring <pid>"; wait for SIGKILL
//	busy         spin on a core until SIGTERM
//	grandchild   start a grandchild (mode block) in the same process
//	             group, print "grandchild <pid>", then block
//	grandchild-stubborn  the same with a grandchild that ignores SIGTERM
//	setsid-grandchild  start a grandchild (mode block) that calls setsid()
//	             and so leaves the app's session and process group, print
//	             "grandchild <pid>", then block; exit 1 on SIGUSR1, 0 on
//	             SIGTERM
//	setsid-grandchild-stubborn  the same with a grandchild that ignores
//	             SIGTERM
//	print-env    print "cwd=<dir>" and the environment, sorted, then block
//	hold-flag    take the restore flag and keep it (exactlyonce_helpers_test.go)
//	lock-page    lock the flag page without naming an owner (restorewait_test.go)
//	fake-server  another user's fake daemon (intruder_test.go)
func runChild(mode string) int {
	term := make(chan os.Signal, 1)
	switch mode {
	case "exit0":
		return 0
	case "exit1":
		fmt.Fprintln(os.Stderr, "exit1: failing on purpose")
		return 1
	case "block":
		signal.Notify(term, syscall.SIGTERM)
		fmt.Printf("block %d\n", os.Getpid())
	case "crash-on-usr1":
		signal.Notify(term, syscall.SIGTERM, syscall.SIGUSR1)
		fmt.Printf("armed %d\n", os.Getpid())
		if <-term == syscall.SIGUSR1 {
			return 1
		}
		return 0
	case "busy":
		// The default action of SIGTERM ends it.
		for n := 0; ; n++ {
			_ = n
		}
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Printf("ignoring %d\n", os.Getpid())
		signal.Notify(term, syscall.SIGUSR2) // never sent: block
	case "grandchild", "grandchild-stubborn":
		signal.Notify(term, syscall.SIGTERM)
		gmode := "block"
		if mode == "grandchild-stubborn" {
			gmode = "ignore-term"
		}
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		gc := exec.Command(exe)
		gc.Env = append(os.Environ(), "OPM_TEST_CHILD="+gmode)
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Printf("grandchild %d\n", gc.Process.Pid)
	case "setsid-grandchild", "setsid-grandchild-stubborn":
		signal.Notify(term, syscall.SIGTERM, syscall.SIGUSR1)
		gmode := "block"
		if mode == "setsid-grandchild-stubborn" {
			gmode = "ignore-term"
		}
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		gc := exec.Command(exe)
		gc.Env = append(os.Environ(), "OPM_TEST_CHILD="+gmode)
		gc.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Printf("grandchild %d\n", gc.Process.Pid)
		if <-term == syscall.SIGUSR1 {
			return 1
		}
		return 0
	case "hold-flag":
		return holdFlag()
	case "lock-page":
		return lockPage()
	case "fake-server":
		return runFakeServer()
	case "print-env":
		signal.Notify(term, syscall.SIGTERM)
		wd, _ := os.Getwd()
		fmt.Printf("cwd=%s\n", wd)
		env := os.Environ()
		sort.Strings(env)
		for _, kv := range env {
			fmt.Println(kv)
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown OPM_TEST_CHILD mode %q\n", mode)
		return 3
	}
	<-term
	return 0
}
