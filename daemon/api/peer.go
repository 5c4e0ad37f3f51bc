package api

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// PeerError is a server on the daemon's socket that runs as another user:
// not this user's daemon. Nothing was sent to it.
type PeerError struct {
	Socket string
	// UID is the server's user; Want the caller's.
	UID, Want int
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("refused the server at %s: it runs as uid %d, not as you (uid %d), so it is not your opm daemon, and opm sent it nothing (someone may be impersonating the daemon: remove %s as root or as uid %d, or set OPM_RUNTIME_DIR to a private directory of your own)", e.Socket, e.UID, e.Want, e.Socket, e.UID)
}

// checkServer checks, before anything is sent on c, that the process at
// the other end runs as this process's effective user.
func checkServer(c net.Conn, socket string) error {
	uid, err := PeerUID(c)
	if err != nil {
		return fmt.Errorf("check who answers at %s: %w", socket, err)
	}
	if want := os.Geteuid(); uid != want {
		return &PeerError{Socket: socket, UID: uid, Want: want}
	}
	return nil
}

// PeerUID returns the uid of the process at the other end of the Unix
// socket connection c, as the kernel recorded it (SO_PEERCRED): the
// server's when c was dialled, the client's when it was accepted.
func PeerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, errors.New("not a Unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, fmt.Errorf("read peer credentials: %w", serr)
	}
	return int(cred.Uid), nil
}
