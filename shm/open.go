package shm

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"
)

// FlagName is the restore flag's file name inside the runtime directory.
const FlagName = "restore.flag"

// ErrRefused marks a page file that opm will not touch because it may have
// been planted (a symlink, another user's file, not a regular file). The
// error says what to remove.
var ErrRefused = errors.New("refused")

// OpenFlag maps the restore flag page in runtimeDir, creating it if absent.
// The directory must be private (see EnsureDir). A page of the wrong size,
// magic, version or mode is rebuilt (f.Rebuilt says why); a symlink or a
// file owned by someone else is refused with ErrRefused.
func OpenFlag(runtimeDir string) (*Flag, error) {
	m, rebuilt, err := mapPage(runtimeDir)
	if err != nil {
		return nil, err
	}
	f := &Flag{Rebuilt: rebuilt, dir: runtimeDir, path: filepath.Join(runtimeDir, FlagName)}
	f.cur.Store(m)
	return f, nil
}

// mapPage maps the page in runtimeDir as OpenFlag does; rebuilt says what
// was wrong with a page it rebuilt.
func mapPage(runtimeDir string) (m *mapping, rebuilt string, err error) {
	if err := CheckPrivateDir(runtimeDir); err != nil {
		return nil, "", err
	}
	path := filepath.Join(runtimeDir, FlagName)
	// A few rounds: another process may create, or rebuild, the page
	// between our steps; each round either maps a good page or repairs one.
	for range 5 {
		m, err := openPage(path)
		if err == nil {
			return m, rebuilt, nil
		}
		var bad *brokenPageError
		switch {
		case errors.As(err, &bad):
			if err := rebuildPage(path, bad.ino); err != nil {
				return nil, "", err
			}
			rebuilt = fmt.Sprintf("restore flag page %s was broken (%s); rebuilt it", path, bad.why)
		case errors.Is(err, os.ErrNotExist):
			if err := createPage(path); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, "", err
			}
		case errors.Is(err, errReplaced):
			// Replaced under us by a concurrent rebuild: open the new one.
		default:
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("open restore flag %s: it keeps changing under us (another process is rebuilding it?); try again", path)
}

// brokenPageError is a page file that is ours but unusable.
type brokenPageError struct {
	why string
	ino uint64
}

func (e *brokenPageError) Error() string { return e.why }

var errReplaced = errors.New("page file replaced while opening")

// openPage opens and maps an existing page, checking everything before the
// mapping is touched: a short file must never be mapped (a read past its
// end would raise SIGBUS).
func openPage(path string) (*mapping, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, os.ErrNotExist
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("restore flag %s is a symlink: %w (remove it; opm will create a fresh one)", path, ErrRefused)
	case errors.Is(err, unix.EISDIR):
		return nil, fmt.Errorf("restore flag %s is a directory: %w (remove it)", path, ErrRefused)
	case err != nil:
		return nil, fmt.Errorf("open restore flag %s: %w", path, err)
	}
	file := os.NewFile(uintptr(fd), path)
	ok := false
	defer func() {
		if !ok {
			file.Close()
		}
	}()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("stat restore flag %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("restore flag %s is not a regular file: %w (remove it)", path, ErrRefused)
	}
	if int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("restore flag %s belongs to uid %d, not to you: %w (remove it)", path, st.Uid, ErrRefused)
	}
	if st.Mode&0o077 != 0 {
		return nil, &brokenPageError{why: fmt.Sprintf("mode %04o, want 0600", st.Mode&0o777), ino: st.Ino}
	}
	if st.Size != PageSize {
		return nil, &brokenPageError{why: fmt.Sprintf("size %d bytes, want %d", st.Size, PageSize), ino: st.Ino}
	}
	mem, err := mmap.Map(file, mmap.RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("map restore flag %s: %w", path, err)
	}
	m := &mapping{file: file, mem: mem, page: mem, dev: st.Dev, ino: st.Ino}
	var herr error
	if !m.try(func() { _, herr = decodeHeader(mem) }) {
		herr = errors.New("shrank while being opened")
	}
	if herr != nil {
		mem.Unmap()
		return nil, &brokenPageError{why: herr.Error(), ino: st.Ino}
	}
	// A concurrent rebuild may have renamed a new page over the path after
	// we opened the old one; processes must all map the same page.
	var now unix.Stat_t
	if err := unix.Stat(path, &now); err != nil || now.Ino != st.Ino || now.Dev != st.Dev {
		mem.Unmap()
		return nil, errReplaced
	}
	ok = true
	return m, nil
}

// writeTemp writes a fresh page to a new file beside path, created with
// O_EXCL|O_NOFOLLOW and mode 0600, and returns its name.
func writeTemp(path string) (string, error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("create restore flag: %w", err)
	}
	tmp := fmt.Sprintf("%s.%d.%s.tmp", path, os.Getpid(), hex.EncodeToString(rnd[:]))
	fd, err := unix.Open(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", fmt.Errorf("create restore flag %s: %w", tmp, err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, werr := f.WriteAt(newPage(), 0)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write restore flag %s: %w", tmp, err)
	}
	return tmp, nil
}

// createPage publishes a fully written page at path with link(2), which
// fails if anything exists there: no reader ever sees a half-made page.
func createPage(path string) error {
	tmp, err := writeTemp(path)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return os.ErrExist
		}
		return fmt.Errorf("create restore flag %s: %w", path, err)
	}
	return nil
}

// rebuildPage replaces the broken page whose inode is ino. If the path no
// longer holds that inode, someone else repaired it first and nothing is
// done.
func rebuildPage(path string, ino uint64) error {
	tmp, err := writeTemp(path)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil || st.Ino != ino {
		return nil
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rebuild restore flag %s: %w", path, err)
	}
	return nil
}
