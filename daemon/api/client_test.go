package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

// serveOnce answers one request on a Unix socket with the raw HTTP
// answer, then closes; it returns the socket's path.
func serveOnce(t *testing.T, answer string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, answer)
	}()
	return sock
}

// A raw answer is the daemon's JSON without the newline that ends it; one
// sent without a length, until the connection closed, is refused when
// it was cut.
func TestRawAnswer(t *testing.T) {
	for _, c := range []struct {
		name, answer, want string
		fails              bool
	}{
		{"with a length", "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n[{\"id\":1}]\n", `[{"id":1}]`, false},
		{"until close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[{\"id\":1}]\n", `[{"id":1}]`, false},
		{"cut, until close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[{\"id\":1},{\"id\"", "", true},
		{"cut, with a length", "HTTP/1.1 200 OK\r\nContent-Length: 40\r\nConnection: close\r\n\r\n[{\"id\":1}]", "", true},
	} {
		var raw json.RawMessage
		err := NewClient(serveOnce(t, c.answer)).Do(context.Background(), http.MethodGet, PathApps, nil, &raw)
		switch {
		case c.fails && err == nil:
			t.Errorf("%s: accepted %q", c.name, raw)
		case !c.fails && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case !c.fails && string(raw) != c.want:
			t.Errorf("%s: raw answer %q, want %q", c.name, raw, c.want)
		}
	}
}
