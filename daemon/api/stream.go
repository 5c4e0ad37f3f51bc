package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"opm/daemon/wire"
)

// Stream sends a GET of path with header and returns the answer's body
// as it comes (GET PathEvents): the caller reads it until it ends (the
// daemon went away) or ctx does, and closes it. A non-2xx answer is
// returned as *Error.
func (c *Client) Stream(ctx context.Context, path string, header http.Header) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://opm"+path, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	conn, err := c.dial(ctx)
	if err != nil {
		var pe *PeerError
		if errors.As(err, &pe) {
			return nil, pe
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &NotListening{fmt.Errorf("%w at %s: %v (start it with 'opm daemon start')", ErrUnreachable, c.Socket, err)}
	}
	resp, err := wire.Send(conn, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, c.Socket, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, MaxRequestBytes))
		var e Error
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e = Error{Code: CodeInternal, Message: fmt.Sprintf("daemon answered %s: %s", resp.Status, bytes.TrimSpace(data))}
		}
		return nil, &e
	}
	return resp.Body, nil
}
