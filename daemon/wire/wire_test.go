package wire

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serve starts a Server of h on a Unix socket in a temp dir and returns
// the socket's path; the server is closed when the test ends.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return sock
}

func send(t *testing.T, ctx context.Context, sock, method, path, body string) (*http.Response, error) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://opm"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	return Send(c, req)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, r.PathValue("name")+":"+string(b))
	})
	sock := serve(t, &Server{Handler: mux})
	resp, err := send(t, context.Background(), sock, "POST", "/echo/web", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); resp.StatusCode != http.StatusCreated || got != "web:hello" {
		t.Fatalf("got %d %q, want 201 %q", resp.StatusCode, got, "web:hello")
	}
	if resp.ContentLength != int64(len("web:hello")) || !resp.Close {
		t.Errorf("Content-Length %d, Connection close %v: want a length and close", resp.ContentLength, resp.Close)
	}
	resp, err = send(t, context.Background(), sock, "GET", "/nothing", "")
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: status %d, want 404", resp.StatusCode)
	}
}

// A stream (Flush) reaches the client as it is written, before the
// handler returns, and ends with the connection.
func TestStream(t *testing.T) {
	next := make(chan struct{})
	sock := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			io.WriteString(w, strings.Repeat("x", i+1)+"\n")
			w.(http.Flusher).Flush()
			<-next
		}
	})})
	resp, err := send(t, context.Background(), sock, "GET", "/", "")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != -1 {
		t.Fatalf("a stream has Content-Length %d", resp.ContentLength)
	}
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != strings.Repeat("x", i+1)+"\n" {
			t.Fatalf("line %d: %q, %v", i, line, err)
		}
		next <- struct{}{}
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the stream: %q, %v", rest, err)
	}
}

// The request's context ends when the client goes away.
func TestClientGoneCancels(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	sock := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		ended <- r.Context().Err()
	})})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := send(t, ctx, sock, "GET", "/", "")
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Send after cancel: %v, want context.Canceled", err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler's context: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's context did not end when the client closed")
	}
}

// A body larger than MaxBodyBytes reaches the handler cut at the cap
// plus one byte, so it can refuse it as too large.
func TestBodyCap(t *testing.T) {
	var got atomic.Int64
	sock := serve(t, &Server{MaxBodyBytes: 10, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(int64(len(b)))
	})})
	resp, err := send(t, context.Background(), sock, "POST", "/", strings.Repeat("y", 1000))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if got.Load() != 11 {
		t.Errorf("handler read %d bytes, want 11", got.Load())
	}
}

// Garbage gets a 400, a panic closes the connection and is logged, and
// the server goes on serving.
func TestBadRequestAndPanic(t *testing.T) {
	var logged atomic.Int32
	sock := serve(t, &Server{
		ErrorLog: func(string, ...any) { logged.Add(1) },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic("boom")
			}
			io.WriteString(w, "ok")
		}),
	})
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "NOT HTTP\r\n\r\n")
	b, _ := io.ReadAll(c)
	c.Close()
	if !strings.HasPrefix(string(b), "HTTP/1.1 400 ") {
		t.Errorf("garbage got %q, want a 400", b)
	}
	if _, err := send(t, context.Background(), sock, "GET", "/panic", ""); err == nil {
		t.Error("a handler's panic gave an answer")
	}
	if logged.Load() != 1 {
		t.Errorf("%d log lines for the panic, want 1", logged.Load())
	}
	resp, err := send(t, context.Background(), sock, "GET", "/", "")
	if err != nil || readAll(t, resp) != "ok" {
		t.Fatalf("after the panic: %v", err)
	}
}

// A client that never finishes its request is cut off at ReadTimeout.
func TestReadTimeout(t *testing.T) {
	sock := serve(t, &Server{ReadTimeout: 50 * time.Millisecond, Handler: http.NotFoundHandler()})
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("the server kept a stalled connection: %v", err)
	}
}

// Shutdown waits for the request being served, then Serve returns.
func TestShutdownWaits(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	answer := make(chan string, 1)
	go func() {
		resp, err := send(t, context.Background(), sock, "GET", "/", "")
		if err != nil {
			answer <- err.Error()
			return
		}
		answer <- readAll(t, resp)
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a request was served", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if got := <-answer; got != "done" {
		t.Errorf("the request served during Shutdown got %q", got)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

// curl, a client opm does not write, speaks to it as to any server,
// including the 100-continue it sends before a large body.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed: the test of a foreign client skips")
	}
	sock := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+strconv.Itoa(len(b)))
	})})
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "--unix-socket", sock, "-d", strings.Repeat("z", 2003), "http://opm/x").CombinedOutput()
	if err != nil || string(out) != "POST 2003" {
		t.Fatalf("curl: %q, %v", out, err)
	}
}

// A server that answers before it has read a large body (it is refused
// at the cap) and closes: the client gets that answer, not a broken pipe.
func TestEarlyAnswer(t *testing.T) {
	sock := serve(t, &Server{MaxBodyBytes: 10, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	})})
	resp, err := send(t, context.Background(), sock, "POST", "/", strings.Repeat("y", 16<<20))
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
}

// Idle is called when the last connection being served ends.
func TestIdle(t *testing.T) {
	idle := make(chan struct{}, 4)
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	s.Idle = func() { idle <- struct{}{} }
	sock := serve(t, s)
	for range 2 {
		resp, err := send(t, context.Background(), sock, "GET", "/", "")
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		select {
		case <-idle:
		case <-time.After(10 * time.Second):
			t.Fatal("Idle was not called after the request")
		}
		if n := s.Active(); n != 0 {
			t.Fatalf("%d connections active once idle", n)
		}
	}
}

// A request line or header beyond maxHeaderBytes is refused with 431,
// not read for ever.
func TestHeaderCap(t *testing.T) {
	sock := serve(t, &Server{Handler: http.NotFoundHandler()})
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		io.WriteString(c, "GET / HTTP/1.1\r\nX-Long: ")
		chunk := strings.Repeat("a", 64<<10)
		for range 2 * maxHeaderBytes / len(chunk) {
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}

// HEAD gets the head of the GET, its length, and no body, also when the
// handler flushes.
func TestHead(t *testing.T) {
	sock := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
		if r.URL.Path == "/flush" {
			w.(http.Flusher).Flush()
			io.WriteString(w, " world")
		}
	})})
	for _, path := range []string{"/", "/flush"} {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "HEAD "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		raw, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
		if body != "" || !strings.HasPrefix(head, "HTTP/1.1 200 ") {
			t.Errorf("HEAD %s: head %q, body %q; want 200 and no body", path, head, body)
		}
		if path == "/" && !strings.Contains(head, "Content-Length: 5") {
			t.Errorf("HEAD /: head %q lacks the GET's length", head)
		}
	}
}
