package wire

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"time"
)

// MaxBuffered is how much of an answer is held to send it with a
// Content-Length (an API answer is encoded whole before it is written);
// a longer one is streamed, as if flushed.
const MaxBuffered = 16 << 20

// response is the http.ResponseWriter of one request. It holds the body
// until the handler returns, to send it with a Content-Length, unless the
// handler flushes (a stream) or the body outgrows MaxBuffered: then the
// head goes out without a length and the body follows as it is written,
// ended by the connection's close.
type response struct {
	bw     *bufio.Writer
	req    *http.Request // nil for the server's own error answers
	header http.Header
	status int
	// streaming: the head is sent; writes go straight to bw.
	streaming bool
	buf       bytes.Buffer
	err       error
}

var _ http.Flusher = (*response)(nil)

func (w *response) Header() http.Header { return w.header }

// WriteHeader fixes the status; later calls, and informational (1xx)
// ones, which this writer does not send, are ignored.
func (w *response) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
}

func (w *response) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.err != nil {
		return 0, w.err
	}
	if !w.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	if !w.streaming {
		w.buf.Write(p)
		if w.buf.Len() > MaxBuffered {
			w.startStream()
		}
		return len(p), w.err
	}
	if !w.sendsBody() {
		return len(p), nil // HEAD
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Flush sends the head and what the body holds so far.
func (w *response) Flush() {
	w.WriteHeader(http.StatusOK)
	if !w.streaming {
		w.startStream()
	}
	if err := w.bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

func (w *response) startStream() {
	w.streaming = true
	w.writeHead(-1)
	if w.buf.Len() > 0 && w.sendsBody() {
		if _, err := w.bw.Write(w.buf.Bytes()); err != nil && w.err == nil {
			w.err = err
		}
		w.buf.Reset()
	}
}

// finish sends what is left once the handler has returned.
func (w *response) finish() {
	w.WriteHeader(http.StatusOK)
	if !w.streaming {
		w.writeHead(w.buf.Len())
		if w.buf.Len() > 0 && w.sendsBody() {
			w.bw.Write(w.buf.Bytes())
		}
	}
	w.bw.Flush()
}

// bodyAllowed reports whether the status may have a body (RFC 9110).
func (w *response) bodyAllowed() bool {
	s := w.status
	return !(s >= 100 && s < 200) && s != http.StatusNoContent && s != http.StatusNotModified
}

// sendsBody: not for HEAD, whose answer describes the GET's body.
func (w *response) sendsBody() bool {
	return w.bodyAllowed() && (w.req == nil || w.req.Method != http.MethodHead)
}

// writeHead writes the status line and the header; length is the body's,
// or -1 for a stream ended by the connection's close.
func (w *response) writeHead(length int) {
	h := w.header
	if length >= 0 && w.bodyAllowed() {
		h.Set("Content-Length", strconv.Itoa(length))
	}
	if h.Get("Content-Type") == "" && w.buf.Len() > 0 {
		h.Set("Content-Type", http.DetectContentType(w.buf.Bytes()))
	}
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	w.bw.WriteString("HTTP/1.1 " + strconv.Itoa(w.status) + " " + http.StatusText(w.status) + "\r\n")
	if err := h.Write(w.bw); err != nil && w.err == nil {
		w.err = err
	}
	w.bw.WriteString("\r\n")
}
