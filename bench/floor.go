package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// floorArg, as the first argument, makes the harness binary a bare
// supervisor: it runs the command after it, waits for it to exit and
// starts it again at once, forever. Scenario 3 times it like opm and
// PM2, which gives the floor this machine puts under any restart time:
// process teardown, wake-up, fork and exec.
const floorArg = "__bare-supervisor"

// bareSupervise never returns; SIGTERM ends it with its child.
func bareSupervise(argv []string) {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	for {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "bare supervisor:", err)
			os.Exit(1)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-term:
			cmd.Process.Kill()
			<-done
			os.Exit(0)
		}
	}
}
