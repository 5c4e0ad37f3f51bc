package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"opm/daemon/api"
	"opm/shm"
)

// Deadlines for reaching the daemon.
const (
	// A daemon that does not listen refuses at once; these bound a daemon
	// that listens but is slow, e.g. on a loaded CI machine.
	pingTimeout  = 10 * time.Second // one probe
	startTimeout = 30 * time.Second // spawning a daemon until it answers
	// defaultRequestTimeout bounds an ordinary request; $OPM_TIMEOUT
	// changes it.
	defaultRequestTimeout = 60 * time.Second
)

// paths are where this user's opm lives, resolved once per command.
type paths struct {
	home    string
	runtime string
	socket  string
	// note says why runtime is a fallback, when it is one.
	note string
}

// conn resolves opm's directories and holds the one client every command
// uses to talk to the daemon.
type conn struct {
	once   sync.Once
	paths  paths
	err    error
	client *api.Client
	// warnings receives a line when this command started a daemon whose
	// runtime dir is a fallback.
	warnings io.Writer
	// noSpawn makes ensure fail instead of starting a daemon when none
	// answers: `opm run`, whose daemon runs in its own process and must
	// never get a background one beside it.
	noSpawn bool
}

// resolve finds OPM_HOME and the runtime directory and builds the client.
// The runtime directory is checked before anything connects to it — a
// directory of the caller's, mode 0700, not a symlink — and created when
// missing; a default taken by another user is replaced by a fallback (see
// shm.ResolveRuntimeDir, which the daemon uses too).
func (c *conn) resolve() (paths, *api.Client, error) {
	c.once.Do(func() {
		home, err := shm.Home()
		if err != nil {
			c.err = err
			return
		}
		rt, err := shm.ResolveRuntimeDir(home)
		if err != nil {
			c.err = err
			return
		}
		sock := api.SocketPath(rt.Dir)
		if err := api.CheckSocketPath(sock); err != nil {
			c.err = err
			return
		}
		c.paths = paths{home: home, runtime: rt.Dir, socket: sock, note: rt.Note}
		c.client = api.NewClient(sock)
	})
	return c.paths, c.client, c.err
}

// running returns a client when a daemon answers, without starting one.
// The error wraps api.ErrUnreachable when no daemon listens.
func (c *conn) running(ctx context.Context) (*api.Client, api.DaemonStatus, error) {
	_, cl, err := c.resolve()
	if err != nil {
		return nil, api.DaemonStatus{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	st, err := cl.Ping(pctx)
	return cl, st, err
}

// ensure returns a client for a running daemon, starting one when none
// answers (unless noSpawn). Concurrent commands may all start one: the
// daemon's lock lets one win, and the others are told "running" and
// connect to the winner.
func (c *conn) ensure(ctx context.Context) (*api.Client, error) {
	cl, _, _, err := c.ensureStatus(ctx)
	return cl, err
}

// ensureStatus is ensure that also returns the daemon's status and
// whether this call started it.
func (c *conn) ensureStatus(ctx context.Context) (*api.Client, api.DaemonStatus, bool, error) {
	cl, st, err := c.running(ctx)
	if err == nil {
		return cl, st, false, nil
	}
	if !errors.Is(err, api.ErrUnreachable) {
		return nil, st, false, explain(err)
	}
	p, _, _ := c.resolve()
	if c.noSpawn {
		return nil, st, false, fmt.Errorf("%w at %s: no daemon answers, and this command starts none (see %s)", api.ErrUnreachable, p.socket, shm.PlannedLogs(p.home).DaemonLog)
	}
	if err := checkSocketAccess(p.socket); err != nil {
		return nil, st, false, err
	}
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		started, err := spawnDaemon(sctx, p)
		if err != nil {
			return nil, st, false, err
		}
		if started && p.note != "" && c.warnings != nil {
			fmt.Fprintf(c.warnings, "opm: warning: %s\n", p.note)
		}
		// A daemon that lost the lock to another waits for that one to
		// answer; but the holder may be a daemon dying (killed, its
		// threads still exiting): then the next spawn takes over.
		wait := startTimeout
		if !started {
			wait = rivalAnswerTimeout
		}
		wctx, wcancel := context.WithTimeout(sctx, wait)
		st, err = waitAnswer(wctx, cl)
		wcancel()
		if err == nil {
			return cl, st, started, nil
		}
		if started || sctx.Err() != nil {
			return nil, st, false, fmt.Errorf("the opm daemon started but does not answer at %s: %w (see %s)", p.socket, err, shm.PlannedLogs(p.home).DaemonLog)
		}
	}
}

// rivalAnswerTimeout is how long a command waits for the daemon that
// holds the lock to answer before it starts one again.
const rivalAnswerTimeout = 2 * time.Second

// checkSocketAccess tells a socket we may not use (another user's daemon)
// from one where no daemon listens, so that the former is reported
// instead of starting a second daemon.
func checkSocketAccess(socket string) error {
	conn, err := net.Dial("unix", socket)
	if err == nil {
		conn.Close()
		return nil
	}
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("%w at %s: permission denied; it belongs to another user (run opm as that user, or set OPM_HOME and OPM_RUNTIME_DIR to directories of your own)", api.ErrUnreachable, socket)
	}
	return nil
}

// waitAnswer pings the daemon until it answers or ctx ends, backing off
// from 2 ms to 50 ms between attempts: the daemon holding the lock may
// still be binding its socket.
func waitAnswer(ctx context.Context, cl *api.Client) (api.DaemonStatus, error) {
	delay := 2 * time.Millisecond
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return api.DaemonStatus{}, ctx.Err()
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		st, err := cl.Ping(pctx)
		cancel()
		if err == nil {
			return st, nil
		}
		if !errors.Is(err, api.ErrUnreachable) {
			return st, err
		}
		t.Reset(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}
