package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// ReadEvents reads the server-sent events of PathEvents from r until it
// ends, calling fn with each event and its JSON as the daemon sent it. It
// returns the largest id (Event.Seq) read: the one to send back as
// LastEventIDHeader to go on where the stream stopped. Comments (keep-
// alives) and fields other than data are skipped; a stream ended by the
// cancellation of its request's context is no error.
func ReadEvents(r io.Reader, fn func(ev Event, data []byte)) (uint64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var last uint64
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(data) == 0 {
				continue
			}
			var ev Event
			if err := json.Unmarshal(data, &ev); err != nil {
				return last, fmt.Errorf("undecodable event from the daemon: %v", err)
			}
			last = max(last, ev.Seq)
			fn(ev, data)
			data = nil
		case line[0] == ':': // a comment: keep-alive
		default:
			if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
				data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
			}
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return last, err
	}
	return last, nil
}
