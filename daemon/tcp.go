package daemon

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"opm/daemon/api"
	"opm/daemon/dashboard"
	"opm/daemon/wire"
	"opm/shm"
)

// The TCP listener (listen in config.toml) serves the API of the socket,
// the log stream of the dashboard (weblogs.go) and the dashboard itself
// (daemon/dashboard), to clients that send the bearer token of
// `opm token` ($OPM_HOME/token): "Authorization: Bearer <token>". The
// token file is read on each request — a read of a page in the page
// cache, never a timer — so that `opm token --rotate` takes effect at
// once. There is no TLS: a non-loopback address is warned about.

// tcpStopGrace bounds how long the TCP server waits for answers in flight
// when the daemon ends; streams (events, logs) are then cut.
const tcpStopGrace = time.Second

// checkListen checks listen of config.toml: "" or host:port, the host an
// IP address, "localhost" or empty (every address).
func checkListen(addr string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen %q is not host:port (e.g. listen = \"127.0.0.1:9615\"): %v", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("listen %q: the port must be a number from 0 to 65535 (e.g. listen = \"127.0.0.1:9615\")", addr)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return fmt.Errorf("listen %q: the host must be an IP address or localhost (e.g. listen = \"127.0.0.1:9615\")", addr)
	}
	return nil
}

// loopbackOnly reports whether addr listens on loopback addresses only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listenTCP binds cfg.Listen and makes sure the token exists. A failure
// leaves the daemon without TCP listener, with a note (daemon.log,
// `opm daemon status`): the apps are supervised all the same.
func listenTCP(cfg *Config, log *slog.Logger) net.Listener {
	if cfg.Listen == "" {
		return nil
	}
	if _, _, err := shm.Token(cfg.Home, cfg.RuntimeDir); err != nil {
		cfg.Notes = append(cfg.Notes, fmt.Sprintf("listen %s (config.toml): not listening, the token cannot be made: %v", cfg.Listen, err))
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		cfg.Notes = append(cfg.Notes, fmt.Sprintf("listen %s (config.toml): not listening: %v (choose a free address, then 'opm daemon restart')", cfg.Listen, err))
		return nil
	}
	if !loopbackOnly(cfg.Listen) {
		log.Warn("the TCP listener is not on a loopback address: its traffic, the token included, is not encrypted (no TLS); put it behind a TLS proxy or an SSH tunnel, or listen on 127.0.0.1", "event", "tcp-exposed", "listen", cfg.Listen)
	}
	log.Info("TCP listener ready", "event", "tcp-listening", "addr", ln.Addr().String())
	return ln
}

// serveTCP serves the API and the dashboard on ln until the returned
// stop is called; idle is called when its last connection ends.
func (srv *server) serveTCP(ln net.Listener, idle func()) (stop func()) {
	t := &tcpServer{srv: srv, limits: newLimiter()}
	mux := http.NewServeMux()
	for _, rt := range srv.routes() {
		mux.HandleFunc(rt.method+" "+rt.pattern, rt.handler)
	}
	mux.HandleFunc("GET "+pathAppLogs, srv.handleLogs)
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, api.Errorf(api.CodeNotFound, "no endpoint %s %s in this opm daemon (version %s)", r.Method, r.URL.Path, api.Version))
	})
	t.api = mux
	hs := &wire.Server{
		Handler: t,
		Check:   t.check,
		ErrorLog: func(msg string, args ...any) {
			srv.log.Warn("tcp api: "+msg, append([]any{"event", "api-error"}, args...)...)
		},
		ReadTimeout:  srv.cfg.APIReadTimeout,
		MaxBodyBytes: api.MaxRequestBytes,
		Idle:         idle,
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(newCapListener(ln, srv.cfg.APIMaxConnections)) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), tcpStopGrace)
		defer cancel()
		if hs.Shutdown(ctx) != nil {
			hs.Close()
		}
		if err := <-done; err != nil && !errors.Is(err, wire.ErrServerClosed) {
			srv.log.Error("TCP listener failed", "event", "daemon-error", "error", err)
		}
	}
}

// tcpServer checks the token of each request to the API.
type tcpServer struct {
	srv    *server
	api    http.Handler
	limits *limiter
}

// isAPI reports whether path is the API's (token needed) rather than the
// dashboard page's.
func isAPI(path string) bool {
	return path == "/v1" || strings.HasPrefix(path, "/v1/") || path == api.PathMetrics
}

func (t *tcpServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isAPI(r.URL.Path) {
		// The page holds no data: it asks for the token.
		dashboard.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	t.api.ServeHTTP(w, r) // its token was checked (check)
}

// check admits a request to the API only with the token, from its header,
// before its body is read. A right token always passes: nobody can lock
// its holder out. A request without a token is refused and not counted
// (a web page the owner visits can send those); wrong tokens are counted
// per address, and an address that sent too many is refused for a while
// (429) before its token is even compared — guessing a 256-bit token is
// hopeless anyway; this keeps a guesser from costing the daemon more
// than a refusal.
func (t *tcpServer) check(w http.ResponseWriter, r *http.Request) bool {
	if !isAPI(r.URL.Path) {
		return true
	}
	w.Header().Set("Cache-Control", "no-store")
	got, ok := bearer(r)
	if !ok {
		refuse(w, "no token")
		return false
	}
	want, path, err := shm.ReadToken(t.srv.cfg.Home, t.srv.cfg.RuntimeDir)
	if err != nil {
		t.srv.log.Warn("the TCP listener cannot read its token", "event", "tcp-token-error", "error", err)
		writeError(w, api.Errorf(api.CodeUnauthorized, "the daemon cannot read its token %s (run 'opm token' on its machine to make one): %v", path, err))
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
		t.limits.ok(host)
		return true
	}
	now := time.Now()
	if wait, blocked := t.limits.blocked(host, now); blocked {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, api.Errorf(api.CodeRateLimited, "too many requests with a wrong token from %s: try again in %d s (the token is printed by 'opm token' on the daemon's machine)", host, secs))
		return false
	}
	if blocked := t.limits.fail(host, now); blocked > 0 {
		t.srv.log.Warn("wrong tokens on the TCP listener: address refused for a while", "event", "tcp-blocked", "addr", host, "for", blocked)
	}
	refuse(w, "a wrong token")
	return false
}

// bearer is the token of the request's Authorization header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// refuse answers a request without the right token (what: "no token",
// "a wrong token") with 401 and how to send it.
func refuse(w http.ResponseWriter, what string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="opm"`)
	writeError(w, api.Errorf(api.CodeUnauthorized, "%s: send the token that 'opm token' prints, as the header 'Authorization: Bearer <token>'", what))
}

// Failed attempts are limited per remote address: the first freeFailures
// are answered 401; after them the address is refused (429) for
// firstBlock, doubling with each further failure up to maxBlock. A right
// token forgets the address. At most maxTracked addresses are kept: when
// full, those whose block ended long ago go first, then the oldest.
const (
	freeFailures = 5
	firstBlock   = time.Second
	maxBlock     = 5 * time.Minute
	forgetAfter  = 2 * maxBlock
	maxTracked   = 4096
)

type limiter struct {
	mu sync.Mutex
	m  map[string]*strikes
}

type strikes struct {
	fails int
	last  time.Time // the last failure
	until time.Time // refused until then
}

func newLimiter() *limiter { return &limiter{m: map[string]*strikes{}} }

// blocked reports whether host is refused at now, and for how long.
func (l *limiter) blocked(host string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.m[host]
	if s == nil || !now.Before(s.until) {
		return 0, false
	}
	return s.until.Sub(now), true
}

// fail counts a failed attempt of host; it returns how long host is now
// refused, or 0.
func (l *limiter) fail(host string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.m[host]
	if s == nil {
		if len(l.m) >= maxTracked {
			l.evict(now)
		}
		s = &strikes{}
		l.m[host] = s
	}
	if now.Sub(s.last) > forgetAfter {
		s.fails = 0
	}
	s.fails++
	s.last = now
	if s.fails < freeFailures {
		return 0
	}
	d := min(firstBlock<<min(s.fails-freeFailures, 20), maxBlock)
	s.until = now.Add(d)
	return d
}

// ok forgets host's failures.
func (l *limiter) ok(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, host)
}

// evict makes room for one more address; l.mu is held.
func (l *limiter) evict(now time.Time) {
	var oldest string
	var at time.Time
	for h, s := range l.m {
		if now.Sub(s.last) > forgetAfter && !now.Before(s.until) {
			delete(l.m, h)
			continue
		}
		if oldest == "" || s.last.Before(at) {
			oldest, at = h, s.last
		}
	}
	if len(l.m) >= maxTracked {
		delete(l.m, oldest)
	}
}
