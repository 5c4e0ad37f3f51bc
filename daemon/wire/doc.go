// Package wire carries opm's HTTP/1.1 API over a socket: a Server that
// serves an http.Handler, and Send, a client round trip. Both use
// net/http's own message reader and writer (http.ReadRequest,
// Request.Write, http.ReadResponse, Header.Write) but neither http.Server
// nor http.Transport: those link TLS, X.509 and HTTP/2 into every binary
// that uses them (2.3 MB of opm's 12 MB, with their start-up and resident
// pages), and opm's API needs none of it.
//
// One request per connection: every answer says "Connection: close", so
// a connection's end is its request's end. That keeps the server small
// and exact: a request's context is cancelled when its client goes away
// (a background read sees the close once the body has been read), and an
// answer that streams (Flush) needs no chunking — its body ends where the
// connection does. On a Unix socket a connection costs microseconds; the
// CLI sends one or two requests a command.
//
// Files:
//
//	server.go   Server: accept, read one request, serve it, answer, close
//	writer.go   the ResponseWriter: buffered with a Content-Length, or streamed
//	client.go   Send: one request on a new connection, its answer read
package wire
