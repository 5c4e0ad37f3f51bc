// Package testkit holds what the test suites of opm share: the test
// binary re-executed as the processes a test needs, waits with deadlines,
// facts about processes, throwaway users and directories. It is imported
// by tests only — those of cmd/opm, of package daemon, of shm and of the
// unit writers (cli/units, cli/export) — and so imports no package that
// imports it back: not opm/daemon (daemon/api, daemon/proc, daemon/cgroup
// and shm it may).
//
// Each suite keeps its own harness on top of it: cmd/opm's env drives the
// built opm command against a daemon of its own; package daemon's
// testDaemon runs Run in the test process.
//
// # Child modes
//
// A suite's TestMain calls Main. A test binary started with
// OPM_TEST_CHILD=<mode> then plays one of these parts instead of running
// tests. Children never wait on a timer: they exit at once, or block until
// a signal arrives (or stdin closes, or they are killed).
//
//	mode                        prints (stdout)                        then
//	block                       block <pid>; "block ended by <signal>" exits 0 on SIGTERM or SIGINT
//	exit0                       -                                      exits 0 at once
//	exit1                       (stderr) exit1: failing on purpose     exits 1 at once
//	crash-on-usr1               armed <pid>, once its signals are      exits 1 on SIGUSR1 (a crash),
//	                            caught                                 0 on SIGTERM
//	ignore-term                 ignoring <pid>, once SIGTERM is        blocks until killed
//	                            ignored
//	busy                        -                                      spins on a core until SIGTERM
//	print-env                   cwd=<dir>, then its environment,       exits 0 on SIGTERM or SIGINT
//	                            sorted, a variable a line
//	chatter                     line <n> xxx..., one write(2) a line   exits 0 on SIGTERM or SIGINT
//	                            (OPM_TEST_LINES of them, 0: no end;    ("chatter stopped after <n>");
//	                            OPM_TEST_LINE_SIZE bytes each,         7 when a write fails, said on
//	                            OPM_TEST_LINE_EVERY apart, even ones   the other stream
//	                            on stderr with OPM_TEST_LINE_ERR),
//	                            then "chatter done <n>"
//	hog                         hog <pid>, once OPM_TEST_HOG_MB MiB    exits 0 on SIGTERM or SIGINT
//	                            are allocated and resident
//	notify-ready                socket <NOTIFY_SOCKET>, waiting <pid>; exits 0 on SIGTERM
//	                            at SIGUSR1 READY=1 through go-systemd's
//	                            sd_notify, then "notified <ok> <err>"
//	http-serve                  serving <pid>, once it listens on      exits 0 on SIGTERM, after what
//	                            127.0.0.1:$OPM_TEST_PORT (SO_REUSEPORT) it serves; answers each request
//	                            and said READY=1                       with its pid
//	grandchild                  grandchild <pid>, once it started      exits 1 on SIGUSR1, 0 on SIGTERM;
//	                            the binary again in mode block, in     the grandchild writes to the
//	                            the same process group                 same stdout
//	grandchild-stubborn         the same, the grandchild in mode       the same
//	                            ignore-term
//	setsid-grandchild           the same as grandchild, but the        the same
//	                            grandchild calls setsid(): it leaves
//	                            the session and the process group
//	setsid-grandchild-stubborn  the same, the grandchild in mode       the same
//	                            ignore-term
//	hold-flag                   held, once it holds the restore flag   blocks until killed
//	                            of $OPM_TEST_DIR as `opm restore`
//	                            does (with its start time)
//	lock-page                   locked, once it holds the flag page's  blocks until killed
//	                            lock without naming an owner
//	flag-racer                  on each "go" on stdin, won <pid> or    exits when stdin closes
//	                            lost <error> (it tried to take the
//	                            flag of $OPM_TEST_DIR); on "end",
//	                            done (a winner released it)
//	fake-server                 listening <pid>, once it listens on    on SIGTERM prints received <n>
//	                            opm.sock in $OPM_TEST_DIR, which it    connections, <m> bytes: <quoted
//	                            made (mode $OPM_TEST_DIR_MODE);        bytes> and exits 0
//	                            answers every request 200 {}
//	peer-status                 <HTTP status> <body> of GET            exits 0
//	                            /v1/daemon on opm.sock in
//	                            $OPM_TEST_DIR, asked as any client
//
// A child that cannot play its part says why on stderr and exits 3.
// OPM_TEST_ROLE=<role> instead runs the suite's own part (Main's role):
// the opm command in cmd/opm's tests, the daemon in package daemon's,
// the spawner under a seccomp filter in daemon/process's.
//
// # Files
//
//	main.go        Main: a suite's TestMain
//	modes.go       RunChild and the child modes above, but for these:
//	flag.go        HoldFlag, LockPage, FlagRacer, and their modes
//	fakeserver.go  StartFakeServer, and its mode
//	child.go       Child: a re-executed test binary, its output as lines
//	wait.go        WaitFor, Poll, PollEvery: the one poll loop, the one place a test pauses
//	procs.go       Alive, Marked, WithArg, Cmdline, FDs, Sockets, WaitLogPID, Settle
//	env.go         NewMark, WithoutEnv
//	dirs.go        ShortTempDir, RandomHex
//	exe.go         SharedExe: a copy of the test binary any user may run
//	users.go       NewIntruder: throwaway users; Nobody
//	cgroups.go     RemoveCgroups: what a killed daemon left in cgroup v2
//	tmpfs.go       MountTmpfs: a small tmpfs to fill
//	systemd.go     SystemdVerify: systemd-analyze verify of unit files
package testkit
