package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/daemon/testkit"
)

// The fallbacks of pidfd.go are tested against a kernel that refuses for
// real: the test binary is run again in the role "fallback"
// (OPM_TEST_ROLE), which installs a seccomp filter on all its threads and
// then runs the spawner. The filter (seccompEnv) is one of:
//
//	clone       clone3 fails with ENOSYS, clone with CLONE_PIDFD in its
//	            flags with EINVAL (qemu-user's answer)
//	clone-open  the same, and pidfd_open fails with ENOSYS (Linux 5.2)
//	exec        execve fails with EINVAL, as it does for a bad ELF file:
//	            a failure of the child, never to be taken for the clone's
//
// The role says "skip: <why>" and exits 4 where seccomp filters cannot be
// installed, "ok" and exits 0 when every check passed, and otherwise
// says what failed and exits 1.
const seccompEnv = "OPM_TEST_SECCOMP"

const roleSkip = 4

// Spawned under filter "clone": the first fork is refused at the clone,
// the one without CLONE_PIDFD works, and pidfd_open gives the watch.
func TestFallbackCloneWithoutPidfd(t *testing.T) { runFallbackRole(t, "clone") }

// Spawned under filter "clone-open": no pidfds at all, the child is waited
// for by a blocking wait4, the registry alone keeps it from a reaper, and
// adoption says it cannot watch.
func TestFallbackNoPidfdOpen(t *testing.T) { runFallbackRole(t, "clone-open") }

// Spawned under filter "exec": EINVAL from the exec is the app's failure,
// reported as such, and the spawner keeps using CLONE_PIDFD.
func TestFallbackExecEINVALIsNotAKernelLimit(t *testing.T) { runFallbackRole(t, "exec") }

func runFallbackRole(t *testing.T, filter string) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(testkit.WithoutEnv(os.Environ(), testkit.ChildEnv, testkit.RoleEnv, seccompEnv), testkit.RoleEnv+"=fallback", seccompEnv+"="+filter)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The role has deadlines of its own; this one is for a hang.
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("filter %s: the role did not end in 2 minutes:\n%s", filter, out.String())
	}
	switch code := cmd.ProcessState.ExitCode(); {
	case code == roleSkip:
		t.Skipf("filter %s: %s", filter, strings.TrimSpace(out.String()))
	case err != nil:
		t.Fatalf("filter %s: %v:\n%s", filter, err, out.String())
	}
	t.Logf("filter %s:\n%s", filter, out.String())
}

// ForkExec's contract that the spawner relies on (spawn.go, pidfdUnset):
// when the child's exec fails, the pidfd variable is written (-1); the
// error is the exec's. The other half — untouched when the clone
// fails — is checked under the filters.
func TestForkExecWritesPidfdOnExecFailure(t *testing.T) {
	missing := t.TempDir() + "/missing"
	f := forkOnce(api.Spec{Exec: missing, Argv: []string{missing}}, &syscall.ProcAttr{Sys: &syscall.SysProcAttr{}}, false, true)
	if !errors.Is(f.err, syscall.ENOENT) || f.atClone {
		t.Fatalf("fork of a missing file: %+v; want ENOENT, reported by the child (atClone false)", f)
	}
}

// Without a filter, an exec failure is reported as it is and teaches the
// spawner nothing.
func TestSpawnExecFailureIsReported(t *testing.T) {
	if noClonePidfd.Load() {
		t.Skip("this kernel gives no pidfd at the fork")
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	var log bytes.Buffer
	spawn := New(devNull, nullOutput, nil, slog.New(slog.NewTextHandler(&log, nil)))
	missing := t.TempDir() + "/missing"
	_, err = spawn(api.Spec{Name: "t", Exec: missing, Argv: []string{missing}, Cwd: "/"}, "", "")
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("spawn of a missing file: %v, want ENOENT", err)
	}
	if noClonePidfd.Load() || log.Len() != 0 {
		t.Fatalf("an exec failure was taken for the kernel's: noClonePidfd %v, log %q", noClonePidfd.Load(), log.String())
	}
}

func nullOutput(api.Spec) (int, int, error) {
	out, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	errf, err := unix.Dup(out)
	return out, errf, err
}

// fallbackRole is the role "fallback": see seccompEnv.
func fallbackRole() int {
	filter := os.Getenv(seccompEnv)
	rules, ok := seccompRules[filter]
	if !ok {
		fmt.Printf("unknown %s %q\n", seccompEnv, filter)
		return 1
	}
	if err := installSeccomp(rules); err != nil {
		fmt.Printf("skip: cannot install a seccomp filter here: %v\n", err)
		return roleSkip
	}
	c := &checker{}
	switch filter {
	case "exec":
		c.execRefused()
	default:
		c.cloneRefused(filter == "clone-open")
	}
	if c.failed {
		return 1
	}
	fmt.Println("ok")
	return 0
}

// checker runs the role's checks, saying each failure on stdout.
type checker struct{ failed bool }

func (c *checker) errorf(format string, args ...any) {
	c.failed = true
	fmt.Printf("FAIL: "+format+"\n", args...)
}

func (c *checker) logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// roleSpawner is a spawner whose apps write their stdout to a pipe, read
// through lines, and its log, in log.
type roleSpawner struct {
	spawn Spawner
	log   *bytes.Buffer
	lines *bufio.Reader
	r     *os.File
	w     *os.File
}

func newRoleSpawner() (*roleSpawner, error) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s := &roleSpawner{log: &bytes.Buffer{}, lines: bufio.NewReader(r), r: r, w: w}
	output := func(api.Spec) (int, int, error) {
		out, err := unix.Dup(int(w.Fd()))
		if err != nil {
			return -1, -1, err
		}
		errf, err := unix.Dup(2)
		return out, errf, err
	}
	s.spawn = New(devNull, output, nil, slog.New(slog.NewTextHandler(s.log, nil)))
	return s, nil
}

// app is the spec of the test binary in child mode mode.
func app(mode string) api.Spec {
	exe, _ := os.Executable()
	env := append(testkit.WithoutEnv(os.Environ(), testkit.ChildEnv, testkit.RoleEnv, seccompEnv), testkit.ChildEnv+"="+mode)
	return api.Spec{Name: mode, Exec: exe, Argv: []string{exe, "-test.run=^$"}, Env: env, Cwd: "/"}
}

// line reads the next line the apps write, within 30 s.
func (s *roleSpawner) line() (string, error) {
	_ = s.r.SetReadDeadline(time.Now().Add(30 * time.Second))
	l, err := s.lines.ReadString('\n')
	return strings.TrimSuffix(l, "\n"), err
}

// fallbacks counts the lines of the log that say which way pidfds are got.
func (s *roleSpawner) fallbacks() int {
	return strings.Count(s.log.String(), "event=pidfd-fallback")
}

// cloneRefused checks the spawner under filter clone (noOpen false) or
// clone-open (noOpen true).
func (c *checker) cloneRefused(noOpen bool) {
	// The kernel refuses for real, and ForkExec leaves the pidfd
	// variable untouched when it does.
	tru := app("exit0")
	f := forkOnce(tru, &syscall.ProcAttr{Env: tru.Env, Sys: &syscall.SysProcAttr{}}, false, true)
	if !errors.Is(f.err, syscall.EINVAL) || !f.atClone {
		c.errorf("a fork with CLONE_PIDFD: %+v; want EINVAL at the clone (the pidfd variable untouched)", f)
		return
	}
	if noOpen {
		if _, err := unix.PidfdOpen(os.Getpid(), 0); !errors.Is(err, unix.ENOSYS) {
			c.errorf("pidfd_open: %v, want ENOSYS from the filter", err)
			return
		}
	}
	s, err := newRoleSpawner()
	if err != nil {
		c.errorf("%v", err)
		return
	}
	// A reaper in this process must leave the spawner's children alone,
	// with a pidfd or without (the registry alone guards them then).
	var warned []string
	r := startReaper(func(msg string) { warned = append(warned, msg) }, time.Minute)

	// An exec failure before the way is known: the clone is refused,
	// the fork without the pidfd fails at the exec, and that is the
	// error; nothing is learnt from it.
	missing := "/nonexistent-" + testkit.RandomHex(8) + "/app"
	if _, err := s.spawn(api.Spec{Name: "missing", Exec: missing, Argv: []string{missing}, Cwd: "/"}, "", ""); !errors.Is(err, syscall.ENOENT) {
		c.errorf("spawn of a missing file: %v, want ENOENT", err)
	}
	if noClonePidfd.Load() || s.fallbacks() != 0 {
		c.errorf("a failed exec was taken as proof that the clone refuses pidfds: noClonePidfd %v, log %q", noClonePidfd.Load(), s.log.String())
	}
	if kids := children(); len(kids) != 0 {
		c.errorf("children after a failed spawn: %v, want none", kids)
	}

	p, err := s.spawn(app("block"), "", "")
	if err != nil {
		c.errorf("spawn under the filter: %v", err)
		return
	}
	ch := p.(*Child)
	pid := ch.Pid()
	c.logf("spawned %d; clone pidfd refused %v, pidfd_open missing %v, watched by a pidfd %v", pid, noClonePidfd.Load(), noPidfdOpen.Load(), ch.fd != nil)
	if !noClonePidfd.Load() || noPidfdOpen.Load() != noOpen {
		c.errorf("ways learnt: clone pidfd refused %v, pidfd_open missing %v; want true, %v", noClonePidfd.Load(), noPidfdOpen.Load(), noOpen)
	}
	if (ch.fd == nil) != noOpen {
		c.errorf("watched by a pidfd: %v, want %v", ch.fd != nil, !noOpen)
	}
	if ch.fd != nil {
		info, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(int(ch.fd.Fd())))
		if got, ok := fdinfoPid(info); err != nil || !ok || got != pid {
			c.errorf("the child's pidfd names %d (%v), want %d", got, err, pid)
		}
	}
	if !owned(pid) {
		c.errorf("the child %d is not in the spawner's registry", pid)
	}
	if l, err := s.line(); err != nil || l != "block "+strconv.Itoa(pid) {
		c.errorf("the app said %q (%v), want %q", l, err, "block "+strconv.Itoa(pid))
	}
	if kids := children(); len(kids) != 1 || kids[0] != pid {
		c.errorf("children %v, want exactly the app %d", kids, pid)
	}
	if noOpen {
		if _, err := Adopt(pid, ch.StartTicks()); !errors.Is(err, ErrNoPidfd) {
			c.errorf("adopt without pidfd_open: %v, want ErrNoPidfd", err)
		}
	}
	exited := make(chan ExitStatus, 1)
	go func() { exited <- p.Wait() }()
	select {
	case st := <-exited:
		c.errorf("Wait returned %s while the app runs", st)
		return
	default:
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		c.errorf("kill the app: %v", err)
	}
	select {
	case st := <-exited:
		if !st.Known || st.Signal != syscall.SIGKILL {
			c.errorf("the app ended with %s, want signal %s", st, syscall.SIGKILL)
		}
	case <-time.After(30 * time.Second):
		c.errorf("Wait did not see the SIGKILL in 30 s")
		return
	}
	if _, err := proc.ReadStat(pid); !errors.Is(err, proc.ErrGone) {
		c.errorf("the app %d after Wait: %v, want it gone (no zombie)", pid, err)
	}
	if owned(pid) {
		c.errorf("the app %d is still in the registry after Wait", pid)
	}

	// The way is known now: straight to it.
	if _, err := s.spawn(api.Spec{Name: "missing", Exec: missing, Argv: []string{missing}, Cwd: "/"}, "", ""); !errors.Is(err, syscall.ENOENT) {
		c.errorf("spawn of a missing file, the way known: %v, want ENOENT", err)
	}
	p, err = s.spawn(app("exit1"), "", "")
	if err != nil {
		c.errorf("second spawn: %v", err)
		return
	}
	if st := p.Wait(); !st.Known || st.Code != 1 {
		c.errorf("second app: %s, want exit status 1", st)
	}
	want := 1
	if noOpen {
		want = 2
	}
	if n := s.fallbacks(); n != want {
		c.errorf("the log says the way %d times, want %d (once each):\n%s", n, want, s.log.String())
	}
	c.logf("daemon log:\n%s", strings.TrimSpace(s.log.String()))
	if kids := children(); len(kids) != 0 {
		c.errorf("children left: %v", kids)
	}
	r.Stop()
	if r.Reaped() != 0 || len(warned) != 0 {
		c.errorf("the reaper reaped %d of the spawner's children, warned %q", r.Reaped(), warned)
	}
}

// execRefused checks the spawner under filter exec.
func (c *checker) execRefused() {
	s, err := newRoleSpawner()
	if err != nil {
		c.errorf("%v", err)
		return
	}
	a := app("block")
	f := forkOnce(a, &syscall.ProcAttr{Env: a.Env, Sys: &syscall.SysProcAttr{}}, false, true)
	if !errors.Is(f.err, syscall.EINVAL) || f.atClone {
		c.errorf("a fork whose exec is refused: %+v; want EINVAL from the child (atClone false)", f)
	}
	if _, err := s.spawn(a, "", ""); !errors.Is(err, syscall.EINVAL) {
		c.errorf("spawn whose exec is refused: %v, want EINVAL", err)
	}
	if noClonePidfd.Load() || noPidfdOpen.Load() || s.log.Len() != 0 {
		c.errorf("an exec's EINVAL was taken for the kernel's: clone pidfd refused %v, pidfd_open missing %v, log %q", noClonePidfd.Load(), noPidfdOpen.Load(), s.log.String())
	}
	if kids := children(); len(kids) != 0 {
		c.errorf("children after failed spawns: %v, want none", kids)
	}
}

// seccompRule makes system call nr fail with errno — when the first
// argument has a bit of mask set, if mask is not 0.
type seccompRule struct {
	nr    uint32
	mask  uint32
	errno syscall.Errno
}

var seccompRules = map[string][]seccompRule{
	"clone": {
		{nr: unix.SYS_CLONE3, errno: unix.ENOSYS},
		{nr: unix.SYS_CLONE, mask: unix.CLONE_PIDFD, errno: unix.EINVAL},
	},
	"clone-open": {
		{nr: unix.SYS_CLONE3, errno: unix.ENOSYS},
		{nr: unix.SYS_CLONE, mask: unix.CLONE_PIDFD, errno: unix.EINVAL},
		{nr: unix.SYS_PIDFD_OPEN, errno: unix.ENOSYS},
	},
	"exec": {
		{nr: unix.SYS_EXECVE, errno: unix.EINVAL},
	},
}

// installSeccomp installs a filter made of rules on every thread of this
// process (SECCOMP_FILTER_FLAG_TSYNC); threads made later inherit it.
func installSeccomp(rules []seccompRule) error {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		// The flags of clone are its first argument, read as the
		// low half of a little-endian word: not everywhere.
		return fmt.Errorf("no filter written for %s", runtime.GOARCH)
	}
	prog := seccompProgram(arch, rules)
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
	}
	if r != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): thread %d could not be synchronised", r)
	}
	return nil
}

// Offsets in struct seccomp_data.
const (
	seccompNr   = 0
	seccompArch = 4
	seccompArg0 = 16 // its low 32 bits, on a little-endian machine
)

// seccompProgram is the BPF program: on arch, each rule's system call
// (with a bit of its mask in the first argument) returns its errno;
// everything else is allowed.
func seccompProgram(arch uint32, rules []seccompRule) []unix.SockFilter {
	const (
		ld    = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
		allow = unix.SECCOMP_RET_ALLOW
	)
	fail := func(e syscall.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA }
	var body []unix.SockFilter
	for _, r := range rules {
		if r.mask == 0 {
			body = append(body,
				unix.SockFilter{Code: jeq, K: r.nr, Jt: 0, Jf: 1},
				unix.SockFilter{Code: ret, K: fail(r.errno)})
			continue
		}
		body = append(body,
			unix.SockFilter{Code: jeq, K: r.nr, Jt: 0, Jf: 4},
			unix.SockFilter{Code: ld, K: seccompArg0},
			unix.SockFilter{Code: jset, K: r.mask, Jt: 0, Jf: 1},
			unix.SockFilter{Code: ret, K: fail(r.errno)},
			unix.SockFilter{Code: ret, K: allow})
	}
	prog := []unix.SockFilter{
		{Code: ld, K: seccompArch},
		// Another architecture: allowed (jump to the last
		// instruction, past the load of nr and the body).
		{Code: jeq, K: arch, Jt: 0, Jf: uint8(1 + len(body))},
		{Code: ld, K: seccompNr},
	}
	prog = append(prog, body...)
	return append(prog, unix.SockFilter{Code: ret, K: allow})
}
