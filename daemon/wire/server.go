package wire

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxHeaderBytes caps a request's line and header.
const maxHeaderBytes = 1 << 20

// ErrServerClosed is what Serve returns once Shutdown or Close was called.
var ErrServerClosed = errors.New("wire: server closed")

// Server serves one request per connection with Handler. Its zero value
// needs a Handler; the other fields are optional.
type Server struct {
	Handler http.Handler
	// ConnContext derives each connection's base context, e.g. with the
	// peer's credentials.
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// ReadTimeout bounds reading a request, header and body, from the
	// connection's start. Zero means no limit.
	ReadTimeout time.Duration
	// MaxBodyBytes caps the body read before the handler runs: it sees
	// at most MaxBodyBytes+1 bytes, so it can tell a body that is too
	// large from one that fits. Zero means 1 MiB.
	MaxBodyBytes int64
	// ErrorLog reports what went wrong with a connection: a handler's
	// panic, an accept that failed. Nil discards it.
	ErrorLog func(msg string, args ...any)
	// Idle, when set, is called each time the last connection being
	// served ends (not when the server closes); Busy each time a first
	// one begins.
	Idle func()
	Busy func()
	// Check, when set, sees each request's line and header before its
	// body is read; to refuse the request it answers on w and returns
	// false (the handler is not called).
	Check func(w http.ResponseWriter, r *http.Request) bool

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	closing bool
	closed  chan struct{} // closed by Shutdown and Close
	drained chan struct{} // closed when closing and no connection is left
}

// Serve accepts connections on ln until Shutdown or Close, and serves
// each in a goroutine of its own. It returns ErrServerClosed after those,
// or the listener's error. Accept failures for want of a resource
// (descriptors, buffers) are retried after a pause of up to a second,
// as http.Server does.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.init()
	s.ln = ln
	s.mu.Unlock()
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if !retryable(err) {
				return err
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.logf("accept failed; retrying", "error", err, "retry_in", pause)
			select {
			case <-time.After(pause):
			case <-s.closed:
				return ErrServerClosed
			}
			continue
		}
		pause = 0
		if !s.track(c) {
			c.Close()
			return ErrServerClosed
		}
		go s.serve(c)
	}
}

// retryable reports whether an accept failed for want of a resource that
// may come back.
func retryable(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// init makes the maps and channels; s.mu is held.
func (s *Server) init() {
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
		s.closed = make(chan struct{})
		s.drained = make(chan struct{})
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// track registers c, unless the server is closing.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	s.conns[c] = struct{}{}
	first := len(s.conns) == 1
	s.mu.Unlock()
	if first && s.Busy != nil {
		s.Busy()
	}
	return true
}

// untrack closes c and forgets it.
func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	idle := len(s.conns) == 0
	if s.closing && idle {
		closeOnce(s.drained)
	}
	closing := s.closing
	s.mu.Unlock()
	if idle && !closing && s.Idle != nil {
		s.Idle()
	}
}

// Active is the number of connections being served.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// beginClose stops accepting; it returns the connections still open.
func (s *Server) beginClose() []net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.closing = true
	closeOnce(s.closed)
	if s.ln != nil {
		s.ln.Close()
	}
	if len(s.conns) == 0 {
		closeOnce(s.drained)
	}
	open := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		open = append(open, c)
	}
	return open
}

// Shutdown stops accepting and waits for the connections being served to
// end, or for ctx: then it returns ctx's error and leaves them open (call
// Close).
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting and closes every connection.
func (s *Server) Close() error {
	for _, c := range s.beginClose() {
		c.Close()
	}
	return nil
}

func (s *Server) logf(msg string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog(msg, args...)
	}
}

// serve reads one request from c, serves it and answers.
func (s *Server) serve(c net.Conn) {
	defer s.untrack(c)
	ctx := context.Background()
	if s.ConnContext != nil {
		ctx = s.ConnContext(ctx, c)
	}
	if s.ReadTimeout > 0 {
		c.SetReadDeadline(time.Now().Add(s.ReadTimeout))
	}
	// The request line and header may take maxHeaderBytes (as
	// http.Server's default); the body has its own cap below.
	lr := &io.LimitedReader{R: c, N: maxHeaderBytes}
	br := bufio.NewReader(lr)
	bw := bufio.NewWriter(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		switch {
		case lr.N <= 0:
			answerPlain(bw, http.StatusRequestHeaderFieldsTooLarge, "request header too large")
		case !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isTimeout(err):
			answerPlain(bw, http.StatusBadRequest, "malformed HTTP request: "+err.Error())
		}
		return
	}
	lr.N = math.MaxInt64
	if req.ProtoMajor != 1 {
		answerPlain(bw, http.StatusHTTPVersionNotSupported, "this server speaks HTTP/1.x only")
		return
	}
	req.RemoteAddr = c.RemoteAddr().String()
	if s.Check != nil {
		// Before a byte of the body is read (or a 100 Continue sent):
		// a request refused on its header costs no memory for its body.
		w := &response{bw: bw, req: req, header: http.Header{}}
		if !s.Check(w, req.WithContext(ctx)) {
			w.finish()
			return
		}
	}
	if strings.EqualFold(req.Header.Get("Expect"), "100-continue") && req.ContentLength != 0 {
		bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if bw.Flush() != nil {
			return
		}
	}
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		if !isTimeout(err) {
			answerPlain(bw, http.StatusBadRequest, "malformed request body: "+err.Error())
		}
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	c.SetReadDeadline(time.Time{})

	// Nothing more may come on this connection: whatever the client does
	// next — close it, or die — ends the request's context.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer cancel()
		var b [512]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				return
			}
		}
	}()
	req = req.WithContext(ctx)
	w := &response{bw: bw, req: req, header: http.Header{}}
	if !s.run(w, req) {
		return
	}
	w.finish()
}

// run calls the handler; a panic is logged and leaves the connection to
// be closed without an answer (or with the half already streamed).
func (s *Server) run(w *response, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v == http.ErrAbortHandler {
				return
			}
			s.logf("panic serving a request", "method", req.Method, "path", req.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	s.Handler.ServeHTTP(w, req)
	return true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// answerPlain writes a whole plain-text answer.
func answerPlain(bw *bufio.Writer, status int, msg string) {
	w := &response{bw: bw, header: http.Header{}}
	w.header.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
	w.finish()
}
