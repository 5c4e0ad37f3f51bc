package daemon

import (
	"net"
	"sync"
)

// capListener serves at most a fixed number of connections at once; more
// wait in the listener's backlog, costing the daemon no descriptor. A
// connection on the socket stays *net.UnixConn underneath (peerConn), so
// that the peer's credentials can be read from it — which a generic
// limiting wrapper would hide; one over TCP is a slotConn.
type capListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newCapListener(l net.Listener, n int) *capListener {
	return &capListener{Listener: l, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *capListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	free := sync.OnceFunc(func() { <-l.slots })
	if uc, ok := c.(*net.UnixConn); ok {
		return &peerConn{UnixConn: uc, free: free}, nil
	}
	return &slotConn{Conn: c, free: free}, nil
}

// Close stops accepting; a blocked Accept returns.
func (l *capListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// peerConn is a served connection on the socket; closing it frees its
// slot, once.
type peerConn struct {
	*net.UnixConn
	free func()
}

func (c *peerConn) Close() error {
	err := c.UnixConn.Close()
	c.free()
	return err
}

// slotConn is a served connection over TCP; closing it frees its slot,
// once.
type slotConn struct {
	net.Conn
	free func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.free()
	return err
}
