package shm

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Nothing is trusted because of where it lies: opm's home, its logs
// directory, the dump and the runtime directory are checked on the object
// itself (owner, mode, type; symlinks are not followed where the object is
// opened) before anything is read from or written to them. The checks are
// those ssh makes of ~/.ssh.

// CheckHome checks that home, opm's home directory, can be trusted, and
// returns its real path (symlinks resolved), which every later use must
// take: a symlink along the way could be swapped after the check, the real
// path cannot. The real path is a directory owned by the caller and not
// writable by group or others, and every directory above it is owned by
// the caller or root and not writable by others unless sticky (as /tmp
// is), so that nobody else can swap it for another. It refuses, with a
// message that says how to fix it; it changes nothing.
func CheckHome(home string) (string, error) {
	return checkOwnedTree(home, "OPM_HOME", "OPM_HOME", "set OPM_HOME to a directory of your own")
}

// checkOwnedTree checks the directory path as CheckHome checks OPM_HOME
// and returns its real path; what names it in errors ("OPM_HOME", "the
// log directory"), key the setting that chose it, fix how to choose
// another.
func checkOwnedTree(path, what, key, fix string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("check %s %s: %w", what, path, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(real, &st); err != nil {
		return "", fmt.Errorf("check %s %s: %w", what, path, err)
	}
	euid := os.Geteuid()
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return "", fmt.Errorf("%s %s is not a directory (%s)", what, path, fix)
	case int(st.Uid) != euid:
		return "", fmt.Errorf("%s %s belongs to uid %d, not to you (uid %d); opm refuses it, as ssh refuses another user's ~/.ssh (run opm as uid %d, or %s; with sudo, drop -E or use -H)", what, path, st.Uid, euid, st.Uid, fix)
	case st.Mode&0o022 != 0:
		return "", fmt.Errorf("%s %s has mode %04o: other users may write to it; opm refuses it (run 'chmod go-w %s')", what, path, st.Mode&0o7777, real)
	}
	for dir := filepath.Dir(real); ; dir = filepath.Dir(dir) {
		if err := unix.Lstat(dir, &st); err != nil {
			return "", fmt.Errorf("check %s, above %s %s: %w", dir, what, path, err)
		}
		if st.Uid != 0 && int(st.Uid) != euid {
			return "", fmt.Errorf("%s, above %s %s, belongs to uid %d, who could replace it; opm refuses it (set %s to a directory under one of your own)", dir, what, path, st.Uid, key)
		}
		if replaceable(&st) {
			return "", fmt.Errorf("%s, above %s %s, may be written by anyone (mode %04o), who could replace it; opm refuses it (run 'chmod o-w %s', or set %s elsewhere)", dir, what, path, st.Mode&0o7777, dir, key)
		}
		if dir == "/" {
			return real, nil
		}
	}
}

// replaceable reports whether anyone may rename or remove the entries of
// the directory whose status is st: it is writable by others and not
// sticky.
func replaceable(st *unix.Stat_t) bool {
	return st.Mode&0o002 != 0 && st.Mode&unix.S_ISVTX == 0
}

// CheckPrivateDir checks that dir is a private directory of the caller: a
// real directory, not a symlink, owned by the caller, with no group or
// other permissions. Anything else is refused with an error that says how
// to fix it; nothing is changed behind the user's back.
func CheckPrivateDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("check directory %s: %w", dir, err)
	}
	return privateDirError(dir, &st)
}

// privateDirError says what is wrong with the directory dir whose status
// is st, or nil when it is a private directory of the caller.
func privateDirError(dir string, st *unix.Stat_t) error {
	if err := foreignDirError(dir, st); err != nil {
		return err
	}
	if st.Mode&0o077 != 0 {
		return &dirError{dir: dir, why: fmt.Sprintf("has mode %04o and is open to other users", st.Mode&0o7777), fix: fmt.Sprintf("run 'chmod 700 %s'", dir)}
	}
	return nil
}

// ownedDirError says what is wrong with the directory dir whose status is
// st, or nil when it is a real directory of the caller that nobody else
// may write to.
func ownedDirError(dir string, st *unix.Stat_t) error {
	if err := foreignDirError(dir, st); err != nil {
		return err
	}
	if st.Mode&0o022 != 0 {
		return &dirError{dir: dir, why: fmt.Sprintf("has mode %04o: other users may write to it", st.Mode&0o7777), fix: fmt.Sprintf("run 'chmod go-w %s'", dir)}
	}
	return nil
}

// foreignDirError says why dir, whose status is st, is not a real
// directory of the caller's, or nil when it is one.
func foreignDirError(dir string, st *unix.Stat_t) error {
	euid := os.Geteuid()
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return &dirError{dir: dir, why: "is a symlink", fix: "remove it, or point opm elsewhere"}
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return &dirError{dir: dir, why: "is not a directory", fix: "remove it, or point opm elsewhere"}
	case int(st.Uid) != euid:
		return &dirError{dir: dir, why: fmt.Sprintf("belongs to uid %d, not to you (uid %d)", st.Uid, euid), fix: "remove it, or point opm elsewhere", foreign: true}
	}
	return nil
}

// dirError is a directory that opm refuses: what is wrong with it, and
// how to fix that.
type dirError struct {
	dir, why, fix string
	// foreign is set when the directory belongs to someone else.
	foreign bool
}

func (e *dirError) Error() string {
	return fmt.Sprintf("%s %s; opm refuses it (%s)", e.dir, e.why, e.fix)
}

// EnsureOwnedDir creates dir (mode 0700) when it does not exist and checks
// that it is a real directory of the caller (not a symlink) that nobody
// else may write to; group or others may read it. Only the last element
// is created: its parent must exist.
func EnsureOwnedDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("check directory %s: %w", dir, err)
	}
	return ownedDirError(dir, &st)
}

// EnsurePrivateDir creates dir (mode 0700) when it does not exist and
// checks that it is a private directory of the caller (CheckPrivateDir).
// Only the last element is created: its parent must exist.
func EnsurePrivateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	return CheckPrivateDir(dir)
}

// OpenOwned opens the file at path without following a symlink in its last
// element (O_NOFOLLOW, close-on-exec) and checks the opened file: a
// regular file owned by the caller, not writable by group or others, and
// not hard-linked elsewhere. flag and perm are as for open(2); O_CREAT
// creates the file with perm. It returns the raw descriptor.
func OpenOwned(path string, flag int, perm uint32) (int, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, perm)
		if err != unix.EINTR {
			break
		}
	}
	if errors.Is(err, unix.ELOOP) {
		return -1, fmt.Errorf("%s is a symlink; opm refuses to follow it (remove it)", path)
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := CheckOwnedFD(fd, path); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// EUID is this process's effective uid, asked of the kernel once: opm
// never changes it, and the files a restart opens are checked with it.
var EUID = sync.OnceValue(os.Geteuid)

// OpenOwnedFile is OpenOwned returning an *os.File.
func OpenOwnedFile(path string, flag int, perm uint32) (*os.File, error) {
	fd, err := OpenOwned(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// CheckOwnedFD checks the open file fd (found at path) as OpenOwned does.
func CheckOwnedFD(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	return CheckOwnedStat(&st, path)
}

// CheckOwnedStat checks the stat of a file (found at path) as OpenOwned
// checks the file it opens: a regular file of this user's, that no other
// user may write, with one link.
func CheckOwnedStat(st *unix.Stat_t, path string) error {
	euid := EUID()
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s is not a regular file; opm refuses it (remove it)", path)
	case int(st.Uid) != euid:
		return fmt.Errorf("%s belongs to uid %d, not to you (uid %d); opm refuses it (remove it)", path, st.Uid, euid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s has mode %04o: other users may write to it; opm refuses it (run 'chmod go-w %s')", path, st.Mode&0o7777, path)
	case st.Nlink > 1:
		return fmt.Errorf("%s has %d hard links; opm refuses a file that is also elsewhere (remove it)", path, st.Nlink)
	}
	return nil
}

// SecretName is the file in OPM_HOME that holds this home's secret.
const SecretName = "secret"

// secretSize is the secret's length in bytes.
const secretSize = 32

// Secret returns this home's secret: 32 random bytes kept in
// <home>/secret (mode 0600, created once). It makes names that other users
// cannot predict or forge: a runtime directory nobody can squat, and the
// token that marks an app's processes. home must have passed CheckHome.
func Secret(home string) ([]byte, error) {
	path := filepath.Join(home, SecretName)
	for range 3 {
		b, err := readSecret(path)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if err := createSecret(path); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("read the secret %s: it keeps changing; try again", path)
}

func readSecret(path string) ([]byte, error) {
	f, err := OpenOwnedFile(path, unix.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, os.ErrNotExist
		}
		return nil, fmt.Errorf("read the secret: %w", err)
	}
	defer f.Close()
	b := make([]byte, secretSize+1)
	n, err := io.ReadFull(f, b)
	if n == secretSize && errors.Is(err, io.ErrUnexpectedEOF) {
		return b[:n], nil
	}
	return nil, fmt.Errorf("the secret %s is %d bytes, want %d (remove it; opm makes a new one)", path, n, secretSize)
}

// createSecret writes a new secret to a temp file and renames it into
// place unless one is there already (RENAME_NOREPLACE), so that a reader
// never sees half of one.
func createSecret(path string) error {
	b := make([]byte, secretSize)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("create the secret: %w", err)
	}
	if err := placeFile(path, b, false); err != nil {
		return fmt.Errorf("create the secret %s: %w", path, err)
	}
	return nil
}

// placeFile writes b to path whole, through a temporary file renamed to
// it: a reader sees no file or the old one, or the new one, never part of
// one. Unless replace, a file already there stays, and the error is
// os.ErrExist.
func placeFile(path string, b []byte, replace bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(b)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return err
	}
	if replace {
		return os.Rename(tmp.Name(), path)
	}
	err = unix.Renameat2(unix.AT_FDCWD, tmp.Name(), unix.AT_FDCWD, path, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		return os.ErrExist
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp.Name(), New: path, Err: err}
	}
	return nil
}
