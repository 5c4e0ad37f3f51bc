package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"opm/daemon/wire"
)

// Client talks to one daemon over its Unix socket. Every command uses the
// one constructor, NewClient.
type Client struct {
	Socket string
}

// NewClient returns a client for the daemon listening on socket. Every
// connection it makes is checked before a byte is sent on it: the process
// that answers must run as this process's user (SO_PEERCRED), or the
// request fails with a *PeerError. A request carries the user's
// environment; it must never reach someone else's server.
func NewClient(socket string) *Client {
	return &Client{Socket: socket}
}

// dial connects to the daemon and checks who answers.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return nil, err
	}
	if err := checkServer(conn, c.Socket); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// ErrUnreachable wraps failures to connect to the daemon's socket.
var ErrUnreachable = errors.New("cannot reach the opm daemon")

// Do sends a request with an optional JSON body and decodes a JSON answer
// into out (when non-nil). A non-2xx answer is returned as *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://opm"+path, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := readBody(resp)
	if err != nil {
		return fmt.Errorf("read answer from the daemon: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return answerError(resp, data)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		// Kept as it came, less the newline that ends it: the daemon
		// wrote it with json.Marshal, and checking a large listing
		// costs its reader more than the rest. Only an answer without a
		// length (a large one, sent until the connection closes) is
		// checked: it may have been cut.
		data = bytes.TrimSpace(data)
		if resp.ContentLength < 0 && !json.Valid(data) {
			return fmt.Errorf("decode answer from the daemon: incomplete JSON (%d bytes)", len(data))
		}
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer from the daemon: %w", err)
	}
	return nil
}

// send dials the daemon and sends req. A failure is a *PeerError, ctx's
// error, or wraps ErrUnreachable.
func (c *Client) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	conn, err := c.dial(ctx)
	if err == nil {
		var resp *http.Response
		if resp, err = wire.Send(conn, req); err == nil {
			return resp, nil
		}
	}
	var pe *PeerError
	if errors.As(err, &pe) {
		return nil, pe
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("%w at %s: %v (start it with 'opm daemon start')", ErrUnreachable, c.Socket, err)
}

// answerError is the error of a non-2xx answer whose body is data.
func answerError(resp *http.Response, data []byte) *Error {
	var e Error
	if json.Unmarshal(data, &e) != nil || e.Message == "" {
		e = Error{Code: CodeInternal, Message: fmt.Sprintf("daemon answered %s: %s", resp.Status, bytes.TrimSpace(data))}
	}
	return &e
}

// readBody reads an answer's body, into a buffer of its length when the
// answer says it (the daemon says it up to wire.MaxBuffered).
func readBody(resp *http.Response) ([]byte, error) {
	if resp.ContentLength <= 0 || resp.ContentLength > wire.MaxBuffered {
		return io.ReadAll(resp.Body)
	}
	data := make([]byte, resp.ContentLength)
	_, err := io.ReadFull(resp.Body, data)
	return data, err
}

// Ping reports whether a daemon answers on the socket.
func (c *Client) Ping(ctx context.Context) (DaemonStatus, error) {
	var st DaemonStatus
	err := c.Do(ctx, http.MethodGet, PathDaemon, nil, &st)
	return st, err
}
