package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"opm/daemon/api"
)

// listen binds the daemon's socket, mode 0600. The caller holds the daemon
// lock, so a socket already at path is a dead daemon's and is removed;
// anything else at path is left alone and reported.
func listen(path string) (*net.UnixListener, error) {
	if err := api.CheckSocketPath(path); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("bind socket: %s exists and is not a socket (move it away)", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("check socket path %s: %w", path, err)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "unix", path)
	if err != nil {
		return nil, fmt.Errorf("bind socket %s: %w", path, err)
	}
	ul := l.(*net.UnixListener)
	// Close must not unlink: the path may be a newer daemon's by then.
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		ul.Close()
		return nil, fmt.Errorf("chmod socket %s: %w", path, err)
	}
	return ul, nil
}

// peerUID returns the uid of the process at the other end of c, a
// connection the daemon accepted (see api.PeerUID).
func peerUID(c net.Conn) (int, error) {
	if pc, ok := c.(*peerConn); ok {
		c = pc.UnixConn
	}
	return api.PeerUID(c)
}
