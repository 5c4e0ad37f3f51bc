package testkit

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"opm/daemon/proc"
	"opm/shm"
)

// HoldFlag starts a process that takes the restore flag of the runtime
// directory dir as a restorer does and holds it until killed; it returns
// once the flag is held. env is the process's environment (nil for this
// process's): a test passes its own, marked, so that its cleanup sees the
// holder.
func HoldFlag(t testing.TB, dir string, env []string) *Child {
	t.Helper()
	return startInDir(t, "hold-flag", dir, env, "held")
}

// LockPage starts a process that holds the restore flag page's lock (the
// owner's lease) without naming itself in the flag, as a restorer does
// between its two steps, until killed.
func LockPage(t testing.TB, dir string, env []string) *Child {
	t.Helper()
	return startInDir(t, "lock-page", dir, env, "locked")
}

// FlagRacer starts a process that races for the restore flag of dir when
// told (see the flag-racer mode).
func FlagRacer(t testing.TB, dir string) *Child {
	t.Helper()
	c := Command("flag-racer", nil)
	c.Cmd.Env = append(c.Cmd.Env, DirEnv+"="+dir)
	return c.Input().Start(t)
}

func startInDir(t testing.TB, mode, dir string, env []string, ready string) *Child {
	t.Helper()
	c := Command(mode, env)
	c.Cmd.Env = append(WithoutEnv(c.Cmd.Env, DirEnv), DirEnv+"="+dir)
	c.Start(t)
	if l := c.Line(); l != ready {
		t.Fatalf("child %s said %q, want %q", mode, l, ready)
	}
	return c
}

// holdFlag takes the restore flag in $OPM_TEST_DIR with its own start
// time, as `opm restore` does, says "held", and blocks until killed.
func holdFlag() int {
	f, err := shm.OpenFlag(os.Getenv(DirEnv))
	if err != nil {
		return fail(err)
	}
	start, err := proc.StartTime(os.Getpid())
	if err != nil {
		return fail(err)
	}
	if _, err := f.Acquire(start); err != nil {
		return fail(err)
	}
	fmt.Println("held")
	untilKilled()
	return 0
}

// lockPage creates the restore flag page in $OPM_TEST_DIR, takes its lock
// without setting the owner word, says "locked" and blocks until killed.
func lockPage() int {
	dir := os.Getenv(DirEnv)
	f, err := shm.OpenFlag(dir)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	page, err := os.OpenFile(filepath.Join(dir, shm.FlagName), os.O_RDWR, 0)
	if err != nil {
		return fail(err)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(page.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		return fail(err)
	}
	fmt.Println("locked")
	untilKilled()
	return 0
}

// flagRacer takes part in rounds driven over stdin: on "go" it tries to
// take the restore flag of $OPM_TEST_DIR and answers "won <pid>" or
// "lost <error>"; on "end" a winner releases it, and every racer answers
// "done". It exits when stdin closes.
func flagRacer() int {
	f, err := shm.OpenFlag(os.Getenv(DirEnv))
	if err != nil {
		return fail(err)
	}
	in := bufio.NewScanner(os.Stdin)
	won := false
	for in.Scan() {
		switch in.Text() {
		case "go":
			o, err := f.Acquire(0)
			won = err == nil
			if won {
				fmt.Println("won", o.PID)
			} else {
				fmt.Println("lost", err)
			}
		case "end":
			if won {
				if err := f.Release(); err != nil {
					return fail(err)
				}
				won = false
			}
			fmt.Println("done")
		}
	}
	return 0
}
