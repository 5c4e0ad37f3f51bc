package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"opm/shm"
)

// The test binary doubles as the managed app and as the daemon:
// OPM_TEST_CHILD selects a behaviour. Children block on signals, never on
// timers.
func TestMain(m *testing.M) {
	if mode := os.Getenv("OPM_TEST_CHILD"); mode != "" {
		os.Exit(child(mode))
	}
	// An illegal state move fails the suite.
	strictMoves = true
	// Race-detector builds sleep 1 s at exit by default; children that
	// exit on purpose must not.
	gorace := "atexit_sleep_ms=0"
	if v := os.Getenv("GORACE"); v != "" {
		gorace = v + " " + gorace
	}
	os.Setenv("GORACE", gorace)
	os.Exit(m.Run())
}

func child(mode string) int {
	switch mode {
	case "block":
		return waitTerm()
	case "exit0":
		return 0
	case "exit1":
		fmt.Fprintln(os.Stderr, "exit1 child failing on purpose")
		return 1
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		select {}
	case "print-env":
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "OPM_TEST_") {
				fmt.Println(kv)
			}
		}
		return waitTerm()
	case "grandchild":
		// Starts a grandchild in the same process group, writes its pid
		// to $OPM_TEST_OUT, then blocks.
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "OPM_TEST_CHILD=ignore-term")
		cmd.Stdout = os.Stdout
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		if err := os.WriteFile(os.Getenv("OPM_TEST_OUT"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
			return 3
		}
		return waitTerm()
	case "hold-flag":
		// Holds the restore flag of $OPM_RUNTIME_DIR until killed.
		f, err := shm.OpenFlag(os.Getenv("OPM_RUNTIME_DIR"))
		if err == nil {
			_, err = f.Acquire(0)
		}
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("held")
		return waitTerm()
	case "daemon":
		// The real daemon, as `opm daemon run` runs it.
		if path := os.Getenv("OPM_TEST_CPUPROFILE"); path != "" {
			f, err := os.Create(path)
			if err == nil && pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
		if err := Main(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "daemon:", err)
			return 1
		}
		return 0
	case "peer-status":
		// Prints the HTTP status the daemon answers at $OPM_TEST_OUT.
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", os.Getenv("OPM_TEST_OUT"))
		}}
		resp, err := (&http.Client{Transport: tr}).Get("http://opm/v1/daemon")
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown OPM_TEST_CHILD mode", mode)
	return 2
}

// waitTerm blocks until SIGTERM or SIGINT, then exits 0.
func waitTerm() int {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
	return 0
}
