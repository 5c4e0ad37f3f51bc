package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Nobody is the uid and gid of the user nobody: another local user, for
// a test that needs one and no more.
const Nobody = 65534

// Intruder is a throwaway local user.
type Intruder struct {
	Name     string
	UID, GID int
}

// As runs a process as the intruder (exec.Cmd.SysProcAttr).
func (in Intruder) As() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(in.UID), Gid: uint32(in.GID)}}
}

// intruderPrefix starts the names of throwaway users; the hex pid of the
// test binary that made one follows.
const intruderPrefix = "opmtest-"

// userdbMu serialises this binary's useradd and userdel: both lock
// /etc/passwd and fail, rather than wait, while another holds it.
var userdbMu sync.Mutex

// NewIntruder creates a system user for this test and removes it when the
// test ends. It skips the test where that is not possible.
func NewIntruder(t testing.TB) Intruder {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a throwaway user")
	}
	for _, tool := range []string{"useradd", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s for a throwaway user", tool)
		}
	}
	// The test binary's pid in the name lets a later run tell a user
	// left by a killed run from one a running binary still uses.
	name := fmt.Sprintf("%s%x-%s", intruderPrefix, os.Getpid(), RandomHex(3))
	userdb(t, "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name)
	t.Cleanup(func() { userdb(t, "userdel", name) })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("look up the throwaway user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return Intruder{Name: name, UID: uid, GID: gid}
}

// userdb runs useradd or userdel, again while the user database is locked
// by someone else (another test binary, a package manager): its holder
// tells nobody when it is done.
func userdb(t testing.TB, tool string, args ...string) {
	t.Helper()
	userdbMu.Lock()
	defer userdbMu.Unlock()
	var out []byte
	var err error
	Poll(30*time.Second, func() bool {
		out, err = exec.Command(tool, args...).CombinedOutput()
		return err == nil || !strings.Contains(string(out), "lock")
	})
	if err != nil {
		t.Fatalf("%s %s: %v: %s", filepath.Base(tool), strings.Join(args, " "), err, out)
	}
}

// removeStaleIntruders removes the throwaway users of earlier test
// binaries that were killed before their cleanups ran: those whose binary
// (its pid is in the name) is gone.
func removeStaleIntruders() {
	if os.Geteuid() != 0 {
		return
	}
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(passwd), "\n") {
		name, _, _ := strings.Cut(line, ":")
		rest, ok := strings.CutPrefix(name, intruderPrefix)
		hexPid, _, ok2 := strings.Cut(rest, "-")
		pid, err := strconv.ParseInt(hexPid, 16, 32)
		if !ok || !ok2 || err != nil || Alive(int(pid)) {
			continue
		}
		_ = exec.Command("userdel", name).Run()
	}
}
