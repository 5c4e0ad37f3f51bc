package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// supervisordTool drives go-supervisord (github.com/ochinchina/supervisord,
// the Go port of supervisord) from the build under bench/.supervisord.
//
// supervisord has no dump: its configuration file is its saved state.
// Every sandbox has one, supervisord.conf in the directory the harness
// runs its commands in, with a [program:appNNNNN] per app; "save" writes
// it, "restore" is starting the daemon on it (`supervisord -c
// supervisord.conf -d`: the command forks the daemon and returns; the
// daemon starts every program). Apps are added the way its users add
// them: the file rewritten with the new programs, then `supervisord ctl
// reload` (the daemon re-reads it and starts the new ones; the running
// ones are left alone), or the daemon started on it when none runs.
type supervisordTool struct {
	bin string
}

func (s *supervisordTool) Name() string { return "supervisord" }

// supervisordConfName is the configuration file, relative to the
// sandbox's scratch directory, where every command runs.
const supervisordConfName = "supervisord.conf"

func (s *supervisordTool) newSandbox() (*sandbox, error) {
	// supervisord reads no home variable: its state is the file the
	// commands name. The socket and pid file go in the runtime directory,
	// which scenario 2 empties like a reboot.
	return newSandbox("SUPERVISORD_BENCH_HOME", "")
}

func (s *supervisordTool) confPath(sb *sandbox) string {
	return filepath.Join(sb.scratch, supervisordConfName)
}

// supervisordConf is the configuration of apps 0..n-1 of w, with the
// control socket and pid file in runtime: no log (the daemon's and the
// apps' to /dev/null, as the other tools' apps write nothing), the same
// command as opm and PM2 run, restarted whatever the exit status
// (autorestart=true) without limit (startretries), and no back-off beyond
// the port's own minimum: restartpause 0 (its default). startsecs is 1,
// its default and smallest working value: with startsecs=0 v0.7.3 never
// restarts a program that exits (its restart loop waits forever for a
// monitor goroutine that startsecs=0 never starts).
func supervisordConf(w workload, runtime string, n int) string {
	var b strings.Builder
	sock := filepath.Join(runtime, "supervisord.sock")
	fmt.Fprintf(&b, "; written by the opm bench harness (bench/supervisord.go)\n")
	fmt.Fprintf(&b, "[supervisord]\nlogfile=/dev/null\npidfile=%s\n\n", filepath.Join(runtime, "supervisord.pid"))
	fmt.Fprintf(&b, "[unix_http_server]\nfile=%s\n\n", sock)
	fmt.Fprintf(&b, "[supervisorctl]\nserverurl=unix://%s\n", sock)
	for i := range n {
		fmt.Fprintf(&b, "\n[program:%s]\ncommand=%s\nautostart=true\nautorestart=true\nstartsecs=1\nstartretries=1000000\nrestartpause=0\nstdout_logfile=/dev/null\nstderr_logfile=/dev/null\n",
			w.name(i), strings.Join(append([]string{w.Sleep}, w.args(i)...), " "))
	}
	return b.String()
}

// writeConf writes the configuration of apps 0..n-1.
func (s *supervisordTool) writeConf(sb *sandbox, n int) error {
	return writeFileAtomic(s.confPath(sb), []byte(supervisordConf(sb.w, sb.runtime, n)), 0o600)
}

// programs returns how many programs the sandbox's file holds.
func (s *supervisordTool) programs(sb *sandbox) (int, error) {
	b, err := os.ReadFile(s.confPath(sb))
	if os.IsNotExist(err) {
		return 0, nil
	}
	return bytes.Count(b, []byte("\n[program:")), err
}

// start writes apps 0..to-1 to the file, then starts the daemon on it or,
// when one runs, has it reload the file.
func (s *supervisordTool) start(ctx context.Context, sb *sandbox, from, to int) error {
	have, err := s.programs(sb)
	if err != nil {
		return err
	}
	if have != from {
		return fmt.Errorf("supervisord: the file holds %d programs, asked to add apps %d..%d", have, from, to-1)
	}
	if err := s.writeConf(sb, to); err != nil {
		return err
	}
	d, err := daemons(s, sb)
	if err != nil {
		return err
	}
	if len(d) == 0 {
		return sb.run(ctx, bulkTimeout, s.restoreArgv()...).error()
	}
	return sb.run(ctx, bulkTimeout, s.ctlArgv("reload")...).error()
}

// ctlArgv is `supervisord -c supervisord.conf ctl <args>`.
func (s *supervisordTool) ctlArgv(args ...string) []string {
	return append([]string{s.bin, "-c", supervisordConfName, "ctl"}, args...)
}

func (s *supervisordTool) listArgv() []string { return s.ctlArgv("status") }

func (s *supervisordTool) list(ctx context.Context, sb *sandbox) ([]listed, error) {
	r := sb.run(ctx, cmdTimeout, s.listArgv()...)
	if err := r.error(); err != nil {
		return nil, err
	}
	return s.parseList(r.Stdout)
}

// ansiEscape matches the colour codes `ctl status` wraps each line in.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// supervisordStates are the state names go-supervisord prints.
var supervisordStates = []string{"Stopped", "Starting", "Running", "Backoff", "Stopping", "Exited", "Fatal", "Unknown"}

// parseList decodes `supervisord ctl status`: one line per program,
// "<colour>name<padding>State<padding>description<reset>", the
// description "pid N, uptime H:MM:SS" while it runs. Running is
// reported as "online", other states in lower case.
func (s *supervisordTool) parseList(b []byte) ([]listed, error) {
	out := []listed{}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(ansiEscape.ReplaceAllString(line, ""))
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 || !slices.Contains(supervisordStates, f[1]) {
			return nil, fmt.Errorf("parse supervisord ctl status: unexpected line %q", line)
		}
		a := listed{Name: f[0], Status: strings.ToLower(f[1])}
		if f[1] == "Running" {
			a.Status = "online"
		}
		if len(f) >= 4 && f[2] == "pid" {
			pid, err := strconv.Atoi(strings.TrimSuffix(f[3], ","))
			if err != nil {
				return nil, fmt.Errorf("parse supervisord ctl status: line %q: %w", line, err)
			}
			a.PID = pid
		}
		out = append(out, a)
	}
	return out, nil
}

// save writes the file: supervisord's configuration is its dump.
func (s *supervisordTool) save(_ context.Context, sb *sandbox) error {
	n, err := s.programs(sb)
	if err != nil {
		return err
	}
	return s.writeConf(sb, n)
}

// shutdown is `supervisord ctl shutdown`: the daemon kills its programs
// (no stopsignal set: SIGKILL at once), then exits a second later.
func (s *supervisordTool) shutdown(ctx context.Context, sb *sandbox) error {
	return sb.run(ctx, bulkTimeout, s.ctlArgv("shutdown")...).error()
}

// restoreArgv starts the daemon on the file: the command forks the
// daemon (same argv, setsid) and returns.
func (s *supervisordTool) restoreArgv() []string {
	return []string{s.bin, "-c", supervisordConfName, "-d"}
}

// isDaemon: the daemon keeps the argv of the command that forked it (the
// command itself matches too until it exits, a few milliseconds); the
// sandbox's tag, checked by the caller, tells sandboxes apart.
func (s *supervisordTool) isDaemon(_ *sandbox, argv []string) bool {
	return slices.Equal(argv, s.restoreArgv())
}

// stopOnCleanup: cleanup SIGKILLs supervisord's processes (its programs
// also get SIGKILL from their parent-death signal), as for PM2.
func (s *supervisordTool) stopOnCleanup() bool { return false }
