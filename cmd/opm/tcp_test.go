package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
	"opm/shm"
)

// tcpConfig turns the TCP listener on, on a port the kernel picks.
const tcpConfig = fastConfig + `listen = "127.0.0.1:0"
`

// newTCPEnv starts a daemon with the TCP listener and returns its
// address (from daemon.log) and the token.
func newTCPEnv(t *testing.T) (e *env, base, token string) {
	t.Helper()
	needCurl(t)
	e = newEnvConfig(t, tcpConfig)
	e.ok("daemon", "start")
	return e, tcpAddr(t, filepath.Join(e.home, api.DaemonLogName)), strings.TrimSpace(e.ok("token").stdout)
}

// needCurl skips the test when curl is not installed.
func needCurl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed: the TCP listener tests need it (apt-get install curl)")
	}
}

var tcpListening = regexp.MustCompile(`event=tcp-listening addr=(\S+)`)

// tcpAddr is the address the daemon's TCP listener is bound to, as the
// daemon log at path says.
func tcpAddr(t *testing.T, path string) string {
	t.Helper()
	var m []string
	testkit.WaitFor(t, "the TCP listener in daemon.log", 10*time.Second, func() bool {
		m = tcpListening.FindStringSubmatch(readText(t, path))
		return m != nil
	})
	return "http://" + m[1]
}

// curlAnswer is what curl got: the status, headers and body.
type curlAnswer struct {
	status int
	header string
	body   string
}

// curl sends one request; token "" sends none.
func curl(t *testing.T, method, url, token string, extra ...string) curlAnswer {
	t.Helper()
	args := []string{"-sS", "-D", "-", "-X", method, "--max-time", "20", url}
	if token != "" {
		args = append(args, "-H", "Authorization: Bearer "+token)
	}
	out, err := exec.Command("curl", append(args, extra...)...).Output()
	if err != nil {
		t.Fatalf("curl %s %s: %v", method, url, err)
	}
	head, body, _ := strings.Cut(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n\n")
	var a curlAnswer
	if _, err := fmt.Sscanf(head, "HTTP/1.1 %d", &a.status); err != nil {
		t.Fatalf("curl %s %s: no status in %q", method, url, out)
	}
	a.header, a.body = head, body
	return a
}

// apiError decodes an error answer.
func apiError(t *testing.T, a curlAnswer) api.Error {
	t.Helper()
	var e api.Error
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Message == "" {
		t.Fatalf("want a JSON error, got %d %q", a.status, a.body)
	}
	return e
}

func TestTCPTokenRequired(t *testing.T) {
	e, base, token := newTCPEnv(t)
	app := e.startApp("web", "block")
	if len(token) != 64 {
		t.Fatalf("opm token printed %q, want 64 hex characters", token)
	}
	if again := strings.TrimSpace(e.ok("token").stdout); again != token {
		t.Fatalf("a second opm token printed %q, want the same %q", again, token)
	}
	st, err := os.Stat(filepath.Join(e.home, shm.TokenName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want mode 0600", err, st.Mode())
	}

	// No token, a wrong one, a wrong scheme: 401, with a JSON error.
	for _, tok := range []string{"", strings.Repeat("0", 64), token[:63]} {
		a := curl(t, "GET", base+api.PathApps, tok)
		if a.status != 401 {
			t.Fatalf("GET /v1/apps with token %q: status %d, want 401 (%s)", tok, a.status, a.body)
		}
		if e := apiError(t, a); e.Code != "unauthorized" || !strings.Contains(e.Message, "opm token") {
			t.Fatalf("401 answer %+v does not say to use opm token", e)
		}
	}
	if a := curl(t, "GET", base+api.PathApps, "", "-H", "Authorization: Basic "+token); a.status != 401 {
		t.Fatalf("Basic auth: status %d, want 401", a.status)
	}

	// The right token: the API of the socket.
	a := curl(t, "GET", base+api.SummaryPath, token)
	var apps []api.App
	if a.status != 200 || json.Unmarshal([]byte(a.body), &apps) != nil || len(apps) != 1 || apps[0].PID != app.PID {
		t.Fatalf("GET /v1/apps?summary=1: %d %s; want web with pid %d", a.status, a.body, app.PID)
	}
	if a := curl(t, "GET", base+api.PathDaemon, token); a.status != 200 || !strings.Contains(a.body, `"version"`) {
		t.Fatalf("GET /v1/daemon: %d %s", a.status, a.body)
	}
	// The metrics, as Prometheus scrapes them: with the token only.
	if a := curl(t, "GET", base+api.PathMetrics, ""); a.status != 401 {
		t.Fatalf("GET /metrics without a token: %d, want 401", a.status)
	}
	if a := curl(t, "GET", base+api.PathMetrics, token); a.status != 200 || !strings.Contains(a.body, `opm_app_up{`) {
		t.Fatalf("GET /metrics: %d %.300s", a.status, a.body)
	}
	if a := curl(t, "POST", base+api.TargetPath("web")+"/restart", token); a.status != 200 {
		t.Fatalf("restart over TCP: %d %s", a.status, a.body)
	}
	e.waitApp("web", "a new pid", 10*time.Second, func(x api.App) bool { return x.PID != 0 && x.PID != app.PID && x.Status == api.StatusOnline })

	// The log tail of the dashboard.
	testkit.WaitFor(t, "the log tail over TCP", 10*time.Second, func() bool {
		a := curl(t, "GET", base+api.TargetPath("web")+"/logs?lines=5", token)
		return a.status == 200 && strings.Contains(a.body, `"line":"block `)
	})
	if a := curl(t, "GET", base+api.TargetPath("web")+"/logs?lines=-1", token); a.status != 400 {
		t.Fatalf("lines=-1: %d, want 400", a.status)
	}

	// The page itself needs no token and holds no data.
	page := curl(t, "GET", base+"/", "")
	if page.status != 200 || !strings.Contains(page.body, "opm token") || !strings.Contains(page.header, "Content-Security-Policy") {
		t.Fatalf("GET /: %d %s", page.status, page.header)
	}
	if a := curl(t, "GET", base+"/nothing-here", ""); a.status != 404 {
		t.Fatalf("GET /nothing-here: %d, want 404", a.status)
	}
	// The socket needs no token.
	e.ok("list")
}

func TestTCPRateLimit(t *testing.T) {
	e, base, token := newTCPEnv(t)
	e.startApp("web", "block")
	// Requests without a token are refused and not counted: a web page
	// the owner visits can send those, and must not lock the owner out.
	for range 10 {
		if a := curl(t, "GET", base+api.PathMetrics, ""); a.status != 401 {
			t.Fatalf("no token: status %d, want 401", a.status)
		}
	}
	for i := range 5 {
		if a := curl(t, "GET", base+api.PathApps, "wrong-token-"+strconv.Itoa(i)); a.status != 401 {
			t.Fatalf("wrong token %d: status %d, want 401", i+1, a.status)
		}
	}
	// A wrong token is refused now without being compared, saying when
	// to try again.
	a := curl(t, "GET", base+api.PathApps, "wrong-token-5")
	if a.status != 429 || !strings.Contains(a.header, "Retry-After:") {
		t.Fatalf("after 5 wrong tokens: %d %s %s, want 429 with Retry-After", a.status, a.header, a.body)
	}
	if e := apiError(t, a); e.Code != "rate_limited" || !strings.Contains(e.Message, "try again in") {
		t.Fatalf("429 answer %+v does not say when to try again", e)
	}
	if log := e.daemonLog(); !strings.Contains(log, "event=tcp-blocked addr=127.0.0.1") {
		t.Fatalf("daemon.log does not say the address was refused:\n%s", log)
	}
	// The right token still passes, at once: nobody can lock its holder
	// out; and it forgets the count.
	if a := curl(t, "GET", base+api.PathApps, token); a.status != 200 {
		t.Fatalf("the right token while the address is refused: %d, want 200", a.status)
	}
	if a := curl(t, "GET", base+api.PathApps, "wrong"); a.status != 401 {
		t.Fatalf("a wrong token after a right one: %d, want 401 (the count starts again)", a.status)
	}
}

// The token is checked on the request's header, before its body is
// read: a request announcing a large body, without the right token, is
// refused at once, its body never waited for (the daemon would otherwise
// hold it in memory first).
func TestTCPBodyAfterToken(t *testing.T) {
	_, base, _ := newTCPEnv(t)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: opm\r\nAuthorization: Bearer wrong\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", api.PathApps, 4<<20)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	if resp.StatusCode != 401 {
		t.Fatalf("a wrong token with a 4 MB body to come: %d, want 401", resp.StatusCode)
	}
}

func TestTCPTokenRotate(t *testing.T) {
	e, base, old := newTCPEnv(t)
	if a := curl(t, "GET", base+api.PathDaemon, old); a.status != 200 {
		t.Fatalf("the token before rotation: %d %s", a.status, a.body)
	}
	fresh := strings.TrimSpace(e.ok("token", "--rotate").stdout)
	if fresh == old || len(fresh) != 64 {
		t.Fatalf("opm token --rotate printed %q (old %q)", fresh, old)
	}
	if got := strings.TrimSpace(e.ok("token").stdout); got != fresh {
		t.Fatalf("opm token after --rotate printed %q, want %q", got, fresh)
	}
	// At once: no restart, no wait.
	if a := curl(t, "GET", base+api.PathDaemon, old); a.status != 401 {
		t.Fatalf("the old token after rotation: %d, want 401", a.status)
	}
	if a := curl(t, "GET", base+api.PathDaemon, fresh); a.status != 200 {
		t.Fatalf("the new token: %d %s", a.status, a.body)
	}
	if r := e.run("token", "extra"); r.code != 2 {
		t.Fatalf("opm token extra: %v, want exit 2", r)
	}
}

func TestTCPListenRefused(t *testing.T) {
	e := newEnvConfig(t, fastConfig+`listen = "9615"
`)
	r := e.run("daemon", "start")
	if r.code == 0 || !strings.Contains(r.stderr, "listen") || !strings.Contains(r.stderr, "127.0.0.1:9615") {
		t.Fatalf("a daemon with listen = \"9615\": %v; want a failure that shows the form", r)
	}
	// Fix the file for the cleanup's daemon stop.
	if err := os.WriteFile(filepath.Join(e.home, "config.toml"), []byte(fastConfig), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A read-only OPM_HOME: the token is kept in the runtime dir, and both
// the daemon and opm token find it there.
func TestTCPTokenReadOnlyHome(t *testing.T) {
	needCurl(t)
	logDir := filepath.Join(t.TempDir(), "logs")
	e := newEnvConfig(t, tcpConfig+"log_dir = \""+logDir+"\"\n")
	mountReadOnly(t, e.home)
	token := strings.TrimSpace(e.ok("token").stdout)
	if _, err := os.Stat(filepath.Join(e.runtime, shm.TokenName)); err != nil {
		t.Fatalf("the token of a read-only home is not in the runtime dir: %v", err)
	}
	e.ok("daemon", "start")
	base := tcpAddr(t, filepath.Join(logDir, api.DaemonLogName))
	if a := curl(t, "GET", base+api.PathDaemon, token); a.status != 200 {
		t.Fatalf("the token of the runtime dir: %d %s", a.status, a.body)
	}
	fresh := strings.TrimSpace(e.ok("token", "--rotate").stdout)
	if a := curl(t, "GET", base+api.PathDaemon, token); a.status != 401 {
		t.Fatalf("the old token after rotation: %d, want 401", a.status)
	}
	if a := curl(t, "GET", base+api.PathDaemon, fresh); a.status != 200 {
		t.Fatalf("the new token: %d %s", a.status, a.body)
	}
}

// A follow of an app's log delivers a burst of lines to its last one,
// though inotify merges the writes into few events and the daemon reads
// in batches.
func TestTCPLogFollowBurst(t *testing.T) {
	e, base, token := newTCPEnv(t)
	gate := filepath.Join(t.TempDir(), "go")
	const n = 20000
	e.ok("start", "sh", "--name", "burst", "--", "-c", fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done; seq 1 %d; exec sleep 1000", gate, n))
	req, err := http.NewRequest("GET", base+api.TargetPath("burst")+"/logs?lines=0&follow=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("follow: %s", resp.Status)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var l struct{ Line string }
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				lines <- l.Line
			}
		}
	}()
	deadline := time.After(30 * time.Second)
	got := 0
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended after %d lines", got)
			}
			got++
			if l == strconv.Itoa(n) {
				if got != n {
					t.Errorf("%d lines before the last, want %d", got, n)
				}
				return
			}
		case <-deadline:
			t.Fatalf("only %d of %d lines followed in 30 s", got, n)
		}
	}
}
