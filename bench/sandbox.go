package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"opm/daemon/proc"
)

// tagKey is the environment variable that marks every process a sandbox
// starts (CLI commands, daemons, and the apps, which inherit the CLI's
// environment), so that cleanup finds all of them in /proc.
const tagKey = "OPM_BENCH_TAG"

// sandbox is one scenario's private world: temporary home and runtime
// directories, an environment pointing at them, and a workload whose
// markers are unique to it.
type sandbox struct {
	w workload
	// root holds home and scratch; runtime is separate, on tmpfs.
	root, home, scratch, runtime string
	// quiet is an empty directory nothing writes to (for apps that
	// watch files); scratch gets the commands' output.
	quiet string
	env   []string
}

// newSandbox creates the directories. home is exported to the tool as
// homeVar (OPM_HOME or PM2_HOME); the runtime directory, on /dev/shm when
// it exists, as runtimeVar when that is not empty. Names are short so the
// socket paths stay far below the 108-byte sun_path limit.
func newSandbox(homeVar, runtimeVar string) (*sandbox, error) {
	w, err := newWorkload()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "ob")
	if err != nil {
		return nil, fmt.Errorf("create sandbox: %w", err)
	}
	sb := &sandbox{w: w, root: root, home: filepath.Join(root, "h"), scratch: filepath.Join(root, "s"), quiet: filepath.Join(root, "q")}
	for _, d := range []string{sb.home, sb.scratch, sb.quiet} {
		if err := os.Mkdir(d, 0o700); err != nil {
			os.RemoveAll(root)
			return nil, fmt.Errorf("create sandbox: %w", err)
		}
	}
	tmpfs := "/dev/shm"
	if _, err := os.Stat(tmpfs); err != nil {
		tmpfs = ""
	}
	if sb.runtime, err = os.MkdirTemp(tmpfs, "ob"); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("create runtime dir: %w", err)
	}
	sb.env = append(cleanEnv(), homeVar+"="+sb.home, sb.tag())
	if runtimeVar != "" {
		sb.env = append(sb.env, runtimeVar+"="+sb.runtime)
	}
	return sb, nil
}

// cleanEnv is this process's environment without variables that would
// point a tool at a user's real state.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "OPM_HOME", "OPM_RUNTIME_DIR", "PM2_HOME", tagKey:
			continue
		}
		env = append(env, kv)
	}
	return env
}

// tag is the environment entry marking the sandbox's processes.
func (sb *sandbox) tag() string { return tagKey + "=" + sb.w.Tag }

// cmdResult is the outcome of one command.
type cmdResult struct {
	Argv     []string
	Stdout   []byte
	Stderr   []byte
	Dur      time.Duration
	TimedOut bool
	Err      error
}

func (r cmdResult) error() error {
	if r.Err == nil {
		return nil
	}
	msg := strings.TrimSpace(string(r.Stderr))
	if msg == "" { // PM2 reports errors on stdout
		msg = strings.TrimSpace(string(r.Stdout))
	}
	if len(msg) > 400 {
		msg = "..." + msg[len(msg)-400:]
	}
	if msg == "" {
		return fmt.Errorf("%s: %w", strings.Join(r.Argv, " "), r.Err)
	}
	return fmt.Errorf("%s: %w: %s", strings.Join(r.Argv, " "), r.Err, msg)
}

// run runs argv in the sandbox's environment, in its own process group,
// and kills the group when timeout passes. Output goes to files, not
// pipes, so a daemon that inherits them cannot hold the command open.
func (sb *sandbox) run(ctx context.Context, timeout time.Duration, argv ...string) cmdResult {
	res := cmdResult{Argv: argv}
	cmd, outs, err := sb.command(ctx, timeout, argv)
	if err != nil {
		res.Err = err
		return res
	}
	defer outs.close()
	start := time.Now()
	res.Err = cmd.Run()
	res.Dur = time.Since(start)
	res.TimedOut = outs.timedOut()
	res.Stdout, res.Stderr = outs.read()
	return res
}

// command prepares argv with output files; the caller closes outs.
func (sb *sandbox) command(ctx context.Context, timeout time.Duration, argv []string) (*exec.Cmd, *outFiles, error) {
	outs, err := newOutFiles(sb.scratch)
	if err != nil {
		return nil, nil, err
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	cmd := exec.CommandContext(tctx, argv[0], argv[1:]...)
	cmd.Env = sb.env
	cmd.Dir = sb.scratch
	cmd.Stdout, cmd.Stderr = outs.out, outs.err
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	outs.ctx, outs.cancel = tctx, cancel
	return cmd, outs, nil
}

// outFiles captures a command's stdout and stderr.
type outFiles struct {
	out, err *os.File
	ctx      context.Context
	cancel   context.CancelFunc
}

// timedOut reports whether the command's own deadline passed.
func (o *outFiles) timedOut() bool {
	return errors.Is(o.ctx.Err(), context.DeadlineExceeded)
}

func newOutFiles(dir string) (*outFiles, error) {
	o, err := os.CreateTemp(dir, "out")
	if err != nil {
		return nil, err
	}
	e, err := os.CreateTemp(dir, "err")
	if err != nil {
		o.Close()
		os.Remove(o.Name())
		return nil, err
	}
	return &outFiles{out: o, err: e}, nil
}

func (o *outFiles) read() (stdout, stderr []byte) {
	stdout, _ = os.ReadFile(o.out.Name())
	stderr, _ = os.ReadFile(o.err.Name())
	return stdout, stderr
}

func (o *outFiles) close() {
	if o.cancel != nil {
		o.cancel()
	}
	for _, f := range []*os.File{o.out, o.err} {
		f.Close()
		os.Remove(f.Name())
	}
}

// emptyRuntime removes everything inside the runtime directory, as a
// reboot or a fresh container does.
func (sb *sandbox) emptyRuntime() error {
	ents, err := os.ReadDir(sb.runtime)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(sb.runtime, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// killAll SIGKILLs every live process the sandbox started, with its
// process group, and polls /proc until none is left.
func (sb *sandbox) killAll(timeout time.Duration) error {
	own := syscall.Getpgrp()
	var left []int
	err := poll(context.Background(), timeout, 10*time.Millisecond, func() (bool, error) {
		var err error
		if left, err = scanTagged(sb.tag()); err != nil || len(left) == 0 {
			return true, err
		}
		for _, p := range left {
			if st, err := proc.ReadStat(p); err == nil && st.PGID > 1 && st.PGID != own {
				syscall.Kill(-st.PGID, syscall.SIGKILL)
			}
			syscall.Kill(p, syscall.SIGKILL)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("kill sandbox processes: %w: %v left", err, left)
	}
	return nil
}

// remove deletes the sandbox's directories.
func (sb *sandbox) remove() error {
	return errors.Join(os.RemoveAll(sb.root), os.RemoveAll(sb.runtime))
}
