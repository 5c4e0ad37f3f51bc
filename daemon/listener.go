package daemon

import (
	"net"
	"sync"
)

// capListener serves at most a fixed number of connections at once; more
// wait in the socket's backlog, costing the daemon no descriptor. Its
// connections stay *net.UnixConn underneath (peerConn), so that the peer's
// credentials can be read from them — which a generic limiting wrapper
// would hide.
type capListener struct {
	*net.UnixListener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newCapListener(l *net.UnixListener, n int) *capListener {
	return &capListener{UnixListener: l, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *capListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.AcceptUnix()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &peerConn{UnixConn: c, free: func() { <-l.slots }}, nil
}

// Close stops accepting; a blocked Accept returns.
func (l *capListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.UnixListener.Close()
}

// peerConn is a served connection; closing it frees its slot, once.
type peerConn struct {
	*net.UnixConn
	once sync.Once
	free func()
}

func (c *peerConn) Close() error {
	err := c.UnixConn.Close()
	c.once.Do(c.free)
	return err
}
