package logs

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/shm"
)

// millJob is the work a rotation leaves: compress its backup, then keep
// only the newest keep backups of path.
type millJob struct {
	path, backup string
	keep         int
	compress     bool
}

// mill does the slow part of rotations (gzip, removing old backups) on
// one goroutine, started at the first rotation and parked on a channel
// between them: a file is written on without waiting, and a daemon with
// many apps has one mill, not one per file.
type mill struct {
	log *slog.Logger

	once sync.Once
	mu   sync.Mutex
	jobs []millJob
	kick chan struct{}
	// idle is closed and replaced whenever the queue is done (Wait).
	idle chan struct{}
	busy bool
}

func (m *mill) add(j millJob) {
	m.once.Do(func() {
		m.kick = make(chan struct{}, 1)
		go m.run()
	})
	m.mu.Lock()
	m.jobs = append(m.jobs, j)
	m.busy = true
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *mill) run() {
	for range m.kick {
		for {
			m.mu.Lock()
			if len(m.jobs) == 0 {
				m.busy = false
				if m.idle != nil {
					close(m.idle)
					m.idle = nil
				}
				m.mu.Unlock()
				break
			}
			j := m.jobs[0]
			m.jobs = m.jobs[1:]
			m.mu.Unlock()
			if err := j.do(); err != nil && m.log != nil {
				m.log.Warn("log rotation left work undone", "event", "log-rotate-failed", "file", j.path, "error", err)
			}
		}
	}
}

// Wait returns once every job queued so far is done.
func (m *mill) Wait() {
	m.mu.Lock()
	if !m.busy {
		m.mu.Unlock()
		return
	}
	if m.idle == nil {
		m.idle = make(chan struct{})
	}
	idle := m.idle
	m.mu.Unlock()
	<-idle
}

func (j millJob) do() error {
	var errs []error
	if j.compress {
		errs = append(errs, compress(j.backup))
	}
	backups, err := api.Backups(j.path)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	// A backup compressed and its original both listed count once.
	seen := map[string]bool{}
	var distinct []string
	for i := len(backups) - 1; i >= 0; i-- {
		key := strings.TrimSuffix(backups[i], api.GzipSuffix)
		if !seen[key] {
			seen[key] = true
			distinct = append(distinct, key)
		}
	}
	if j.keep > 0 && len(distinct) > j.keep {
		for _, key := range distinct[j.keep:] {
			for _, p := range []string{key, key + api.GzipSuffix} {
				if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// compress gzips path into path.gz (written aside, then renamed) and
// removes path. A reader that has path open reads on to its end.
func compress(path string) (err error) {
	src, err := shm.OpenOwnedFile(path, unix.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed meanwhile (flush --all)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + api.GzipSuffix + ".tmp"
	_ = os.Remove(tmp)
	st, err := src.Stat()
	if err != nil {
		return err
	}
	// As readable as the log it holds (daemon.log is 0600).
	dst, err := shm.OpenOwnedFile(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, uint32(st.Mode().Perm()))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			dst.Close()
			os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(dst)
	if _, err := io.Copy(zw, src); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	if err := os.Rename(tmp, path+api.GzipSuffix); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	return os.Remove(path)
}
