package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/proc"
)

// NotifyName is the datagram socket, in the runtime dir, that apps with
// wait_ready send READY=1 to: the path in their NOTIFY_SOCKET, as systemd
// gives its Type=notify services, so that any sd_notify library works.
const NotifyName = "notify.sock"

// readyEvent: a process said READY=1.
type readyEvent struct {
	pid, session int
}

// readyTimeoutEvent: an app's listen_timeout passed.
type readyTimeoutEvent struct {
	id  int
	seq uint64
}

// notifier reads the notify socket. One goroutine, parked in the
// runtime's poller while nobody sends: no wake-ups.
type notifier struct {
	path string
	conn *net.UnixConn
}

// openNotifier binds the notify socket and starts reading it; each
// READY=1 from a process of the user's is posted as a readyEvent, with
// the sender's pid from its credentials (SCM_CREDENTIALS, set by the
// kernel: a process cannot claim another's pid).
func openNotifier(runtimeDir string, post func(event) bool, log *slog.Logger) (*notifier, error) {
	path := filepath.Join(runtimeDir, NotifyName)
	_ = os.Remove(path) // a previous daemon's; the runtime dir is ours
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
		})
		err = errors.Join(err, cerr)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket: credentials: %w", err)
	}
	n := &notifier{path: path, conn: conn}
	go n.read(post, log)
	return n, nil
}

func (n *notifier) read(post func(event) bool, log *slog.Logger) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	uid := uint32(os.Geteuid())
	for {
		nb, noob, _, _, err := n.conn.ReadMsgUnix(buf, oob)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			log.Warn("notify socket", "event", "notify-error", "error", err)
			continue
		}
		cred, ok := credentials(oob[:noob])
		if !ok || cred.Uid != uid && cred.Uid != 0 {
			continue // not a process of the user's (or root's)
		}
		if !hasLine(buf[:nb], "READY=1") {
			continue
		}
		pid := int(cred.Pid)
		session := 0
		if st, err := proc.ReadStat(pid); err == nil {
			session = st.Session
		}
		post(readyEvent{pid: pid, session: session})
	}
}

// credentials reads the sender's credentials from a message's control
// data.
func credentials(oob []byte) (*unix.Ucred, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, false
	}
	for _, m := range msgs {
		if cred, err := unix.ParseUnixCredentials(&m); err == nil {
			return cred, true
		}
	}
	return nil, false
}

// hasLine reports whether the notify message msg holds the line line.
func hasLine(msg []byte, line string) bool {
	for _, l := range bytes.Split(msg, []byte{'\n'}) {
		if string(bytes.TrimSpace(l)) == line {
			return true
		}
	}
	return false
}

func (n *notifier) close() {
	if n == nil {
		return
	}
	n.conn.Close()
	_ = os.Remove(n.path)
}

// awaitReady makes a freshly spawned app that waits for readiness
// launching until READY=1 or its listen_timeout.
func (s *Supervisor) awaitReady(a *app) {
	if !a.spec.WaitReady {
		return
	}
	if at, ok := s.earlyReady[a.pid]; ok {
		delete(s.earlyReady, a.pid)
		if s.now().Sub(at) <= earlyReadyKept {
			s.log.Info("app ready", "event", "ready", "app", a.label(), "pid", a.pid)
			return
		}
	}
	a.awaitingReady = true
	a.readySeq++
	a.readyTimer = s.after(a.spec.ListenTimeout(), readyTimeoutEvent{id: a.id, seq: a.readySeq})
}

// ready ends an app's wait for readiness.
func (a *app) ready() {
	a.awaitingReady = false
	a.readySeq++
	if a.readyTimer != nil {
		a.readyTimer.Stop()
		a.readyTimer = nil
	}
}

// onReady brings online the app whose process (or a process of whose
// session) said READY=1. A READY=1 that comes before the daemon knows
// the new process (a fast app: the spawn is reported after fork and
// exec) is kept a while for awaitReady.
func (s *Supervisor) onReady(ev readyEvent) {
	for _, a := range s.apps {
		if a.awaitingReady && a.state == Online && a.pid > 0 && (a.pid == ev.pid || a.pid == ev.session) {
			s.becameReady(a)
			return
		}
	}
	now := s.now()
	for pid, at := range s.earlyReady {
		if now.Sub(at) > earlyReadyKept {
			delete(s.earlyReady, pid)
		}
	}
	if len(s.earlyReady) >= earlyReadyMax {
		return
	}
	if s.earlyReady == nil {
		s.earlyReady = map[int]time.Time{}
	}
	s.earlyReady[ev.pid] = now
	if ev.session > 0 {
		s.earlyReady[ev.session] = now
	}
}

// A READY=1 no app waits for yet is kept earlyReadyKept, at most
// earlyReadyMax of them.
const (
	earlyReadyKept = time.Minute
	earlyReadyMax  = 1024
)

func (s *Supervisor) becameReady(a *app) {
	a.ready()
	s.touch(a)
	s.log.Info("app ready", "event", "ready", "app", a.label(), "pid", a.pid)
	s.newReady(a)
}

// onReadyTimeout takes an app that did not say it is ready within its
// listen_timeout as online, as PM2 does, and says so.
func (s *Supervisor) onReadyTimeout(ev readyTimeoutEvent) {
	a := s.apps[ev.id]
	if a == nil || !a.awaitingReady || ev.seq != a.readySeq {
		return
	}
	if r := a.retiring; r != nil && !r.terminating {
		// A reload's new process that is not ready in time is not
		// taken: it goes, the old one stays.
		a.ready()
		a.reloadWhy = "the new process did not say READY=1 within its listen_timeout"
		s.kill(a)
		return
	}
	a.ready()
	s.touch(a)
	s.log.Warn("app did not say READY=1 within its listen_timeout; taking it as online (opm expects sd_notify's READY=1 on $NOTIFY_SOCKET, not Node's process.send('ready'); raise --listen-timeout if it is slow)", "event", "ready-timeout", "app", a.label(), "pid", a.pid)
}
