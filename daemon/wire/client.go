package wire

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
)

// Send writes req on c, a connection of its own, and reads the answer.
// The answer's body reads from c; closing it closes c. When req's context
// ends first, c is closed and Send (or a read of the body) returns the
// context's error.
func Send(c net.Conn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	req.Close = true
	bw := bufio.NewWriter(c)
	werr := req.Write(bw)
	if werr == nil {
		werr = bw.Flush()
	}
	// A server may answer before it has read the whole request (one too
	// large, say) and close: the write then fails, and the answer is
	// what the caller wants to see. (A write that failed otherwise leaves
	// the server waiting for the rest, until its read timeout.)
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		if werr != nil {
			err = fmt.Errorf("%w (read: %v)", werr, err)
		}
		return fail(err)
	}
	resp.Body = &body{ReadCloser: resp.Body, ctx: ctx, close: func() { stop(); c.Close() }}
	return resp, nil
}

// body is an answer's body: reading it after the context ended gives the
// context's error; closing it closes the connection.
type body struct {
	io.ReadCloser
	ctx   context.Context
	close func()
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.ctx.Err() != nil {
		err = b.ctx.Err()
	}
	return n, err
}

func (b *body) Close() error {
	err := b.ReadCloser.Close()
	b.close()
	return err
}
