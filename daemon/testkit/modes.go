package testkit

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
)

// ChildEnv names the child mode a re-executed test binary plays.
const ChildEnv = "OPM_TEST_CHILD"

// DirEnv is the directory a child mode works in: the runtime directory
// of the restore flag (hold-flag, lock-page, flag-racer) or of the daemon
// asked (peer-status), the directory the fake server makes.
const DirEnv = "OPM_TEST_DIR"

// modes are the child modes, documented in doc.go.
var modes = map[string]func() int{
	"block":                      block,
	"exit0":                      func() int { return 0 },
	"exit1":                      exit1,
	"crash-on-usr1":              crashOnUSR1,
	"ignore-term":                ignoreTerm,
	"busy":                       busy,
	"print-env":                  printEnv,
	"chatter":                    chatter,
	"hog":                        hog,
	"notify-ready":               notifyReady,
	"http-serve":                 httpServe,
	"grandchild":                 grandchild("block", false),
	"grandchild-stubborn":        grandchild("ignore-term", false),
	"setsid-grandchild":          grandchild("block", true),
	"setsid-grandchild-stubborn": grandchild("ignore-term", true),
	"hold-flag":                  holdFlag,
	"lock-page":                  lockPage,
	"flag-racer":                 flagRacer,
	"fake-server":                fakeServer,
	"peer-status":                peerStatus,
}

// RunChild plays the child mode OPM_TEST_CHILD names, if it is set, and
// returns the exit status; ok is false when the variable is not set.
func RunChild() (code int, ok bool) {
	mode := os.Getenv(ChildEnv)
	if mode == "" {
		return 0, false
	}
	play, found := modes[mode]
	if !found {
		fmt.Fprintf(os.Stderr, "unknown %s mode %q\n", ChildEnv, mode)
		return 3, true
	}
	return play(), true
}

func block() int {
	term := notify(syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("block %d\n", os.Getpid())
	fmt.Printf("block ended by %v\n", <-term)
	return 0
}

func exit1() int {
	fmt.Fprintln(os.Stderr, "exit1: failing on purpose")
	return 1
}

func crashOnUSR1() int {
	sig := notify(syscall.SIGTERM, syscall.SIGUSR1)
	fmt.Printf("armed %d\n", os.Getpid())
	return exitOn(sig)
}

func ignoreTerm() int {
	signal.Ignore(syscall.SIGTERM)
	fmt.Printf("ignoring %d\n", os.Getpid())
	untilKilled()
	return 0
}

func busy() int {
	// The default action of SIGTERM ends it.
	for n := 0; ; n++ {
		_ = n
	}
}

// Chatter's settings, from its environment.
const (
	// ChatterLinesEnv is how many lines chatter writes (0: until
	// SIGTERM); ChatterSizeEnv pads each line to about that many bytes;
	// ChatterEveryEnv paces the lines (a duration; none by default);
	// ChatterErrEnv writes every other line to stderr when set.
	ChatterLinesEnv = "OPM_TEST_LINES"
	ChatterSizeEnv  = "OPM_TEST_LINE_SIZE"
	ChatterEveryEnv = "OPM_TEST_LINE_EVERY"
	ChatterErrEnv   = "OPM_TEST_LINE_ERR"
)

// chatter writes numbered lines ("line 7 xxxx...") with one write(2)
// each, as console.log does, then "chatter done N" and waits for SIGTERM.
// A write that fails (EPIPE, EAGAIN: the output went away or blocks) ends
// it with status 7 after saying so on the other stream.
func chatter() int {
	term := notify(syscall.SIGTERM, syscall.SIGINT)
	count, _ := strconv.Atoi(os.Getenv(ChatterLinesEnv))
	size, _ := strconv.Atoi(os.Getenv(ChatterSizeEnv))
	every, _ := time.ParseDuration(os.Getenv(ChatterEveryEnv))
	toErr := os.Getenv(ChatterErrEnv) != ""
	pad := strings.Repeat("x", max(size-20, 0))
	buf := make([]byte, 0, size+32)
	for n := 1; count == 0 || n <= count; n++ {
		select {
		case <-term:
			fmt.Printf("chatter stopped after %d\n", n-1)
			return 0
		default:
		}
		out, other := os.Stdout, os.Stderr
		if toErr && n%2 == 0 {
			out, other = os.Stderr, os.Stdout
		}
		buf = fmt.Appendf(buf[:0], "line %d %s\n", n, pad)
		if _, err := out.Write(buf); err != nil {
			fmt.Fprintf(other, "chatter: write of line %d failed: %v\n", n, err)
			return 7
		}
		if every > 0 {
			time.Sleep(every)
		}
	}
	fmt.Printf("chatter done %d\n", count)
	<-term
	return 0
}

// HogMBEnv is how many MiB mode hog holds.
const HogMBEnv = "OPM_TEST_HOG_MB"

// hog allocates OPM_TEST_HOG_MB MiB, writes every page of it (so that
// it is resident), says "hog <pid>" and waits for SIGTERM.
func hog() int {
	term := notify(syscall.SIGTERM, syscall.SIGINT)
	mb, _ := strconv.Atoi(os.Getenv(HogMBEnv))
	mem := make([]byte, mb<<20)
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 1
	}
	fmt.Printf("hog %d\n", os.Getpid())
	<-term
	runtime.KeepAlive(mem)
	return 0
}

// PortEnv is the loopback port mode http-serve listens on.
const PortEnv = "OPM_TEST_PORT"

// httpServe answers HTTP on 127.0.0.1:$OPM_TEST_PORT with its pid,
// listening with SO_REUSEPORT so that a reload's new process listens
// beside it; it says READY=1 (sd_notify) once it listens and "serving
// <pid>", and on SIGTERM stops listening, finishes what it serves and
// exits 0.
func httpServe() int {
	term := notify(syscall.SIGTERM, syscall.SIGINT)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:"+os.Getenv(PortEnv))
	if err != nil {
		return fail(err)
	}
	// Connections open, to wait for at the end: http.Server.Shutdown
	// would drop a request read after it began.
	var mu sync.Mutex
	open := 0
	drained := sync.NewCond(&mu)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, os.Getpid())
		}),
		ConnState: func(_ net.Conn, st http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			switch st {
			case http.StateNew:
				open++
			case http.StateClosed, http.StateHijacked:
				open--
				drained.Broadcast()
			}
		},
	}
	served := make(chan struct{})
	go func() {
		_ = srv.Serve(ln)
		close(served)
	}()
	if _, err := sddaemon.SdNotify(false, sddaemon.SdNotifyReady); err != nil {
		return fail(err)
	}
	fmt.Printf("serving %d\n", os.Getpid())
	<-term
	// No new connections (those queued move to a listener that stays,
	// with net.ipv4.tcp_migrate_req); those accepted are answered.
	_ = ln.Close()
	// Serve returns once its accept fails: every connection it took is
	// counted by then.
	<-served
	mu.Lock()
	for open > 0 {
		drained.Wait()
	}
	mu.Unlock()
	return 0
}

// ReadyNowEnv makes mode notify-ready say READY=1 as soon as it starts.
const ReadyNowEnv = "OPM_TEST_READY_NOW"

// notifyReady says "socket <NOTIFY_SOCKET>" and "waiting <pid>", then, at SIGUSR1,
// READY=1 with go-systemd's sd_notify (any sd_notify library would do)
// and "notified <ok>"; it exits 0 on SIGTERM.
func notifyReady() int {
	sig := notify(syscall.SIGTERM, syscall.SIGUSR1)
	if os.Getenv(ReadyNowEnv) != "" {
		// At once, before the daemon may know this process.
		ok, err := sddaemon.SdNotify(false, sddaemon.SdNotifyReady)
		fmt.Printf("notified %v %v\n", ok, err)
	}
	fmt.Printf("socket %s\nwaiting %d\n", os.Getenv("NOTIFY_SOCKET"), os.Getpid())
	for s := range sig {
		if s == syscall.SIGTERM {
			return 0
		}
		ok, err := sddaemon.SdNotify(false, sddaemon.SdNotifyReady)
		fmt.Printf("notified %v %v\n", ok, err)
	}
	return 0
}

func printEnv() int {
	term := notify(syscall.SIGTERM, syscall.SIGINT)
	wd, _ := os.Getwd()
	env := os.Environ()
	slices.Sort(env)
	fmt.Printf("cwd=%s\n%s\n", wd, strings.Join(env, "\n"))
	<-term
	return 0
}

// grandchild is a mode that starts the test binary again, in mode gmode,
// as its child — in its own process group, or in a session of its own
// when setsid — and then waits as crash-on-usr1 does.
func grandchild(gmode string, setsid bool) func() int {
	return func() int {
		sig := notify(syscall.SIGTERM, syscall.SIGUSR1)
		exe, err := os.Executable()
		if err != nil {
			return fail(err)
		}
		gc := exec.Command(exe)
		gc.Env = append(os.Environ(), ChildEnv+"="+gmode)
		gc.Stdout = os.Stdout
		gc.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid}
		if err := gc.Start(); err != nil {
			return fail(err)
		}
		fmt.Printf("grandchild %d\n", gc.Process.Pid)
		return exitOn(sig)
	}
}

// peerStatus asks the daemon of the runtime directory $OPM_TEST_DIR for
// its status over plain HTTP, as any client could, and prints the HTTP
// status and the body.
func peerStatus() int {
	sock := api.SocketPath(os.Getenv(DirEnv))
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	resp, err := (&http.Client{Transport: tr}).Get("http://opm" + api.PathDaemon)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	return 0
}

// notify returns a channel that receives sigs.
func notify(sigs ...os.Signal) chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	return ch
}

// exitOn waits for a signal on sig: exit status 1 for SIGUSR1 (a crash),
// 0 for any other.
func exitOn(sig chan os.Signal) int {
	if <-sig == syscall.SIGUSR1 {
		return 1
	}
	return 0
}

// untilKilled blocks until the process is killed: it waits for a signal
// nobody sends.
func untilKilled() {
	for range notify(syscall.SIGUSR2) {
	}
}

// fail reports err on stderr and returns the exit status of a child that
// could not play its part.
func fail(err error) int {
	fmt.Fprintln(os.Stderr, "test child:", err)
	return 3
}
