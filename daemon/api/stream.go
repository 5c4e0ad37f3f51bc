package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
	resp, err := c.send(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, MaxRequestBytes))
		return nil, answerError(resp, data)
	}
	return resp.Body, nil
}
