package shm

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// TokenName is the file that holds the bearer token of the daemon's TCP
// listener (listen in config.toml): in OPM_HOME, or in the runtime dir
// when OPM_HOME is read-only and holds none.
const TokenName = "token"

// tokenBytes is how many random bytes a token has; it is written as hex.
const tokenBytes = 32

// minTokenLen is the shortest token accepted from the file.
const minTokenLen = 32

// TokenPath is where the token of home lives: <home>/token when it is
// there or home can be written to, else <runtimeDir>/token.
func TokenPath(home, runtimeDir string) string {
	p := filepath.Join(home, TokenName)
	if _, err := os.Lstat(p); err == nil || Writable(home) {
		return p
	}
	return filepath.Join(runtimeDir, TokenName)
}

// ReadToken reads the token of home; fs.ErrNotExist when there is none
// yet. The file must be the caller's, mode 0600 (no one else may read
// it), one link, not a symlink.
func ReadToken(home, runtimeDir string) (token, path string, err error) {
	path = TokenPath(home, runtimeDir)
	f, err := OpenOwnedFile(path, unix.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return "", path, fs.ErrNotExist
		}
		return "", path, fmt.Errorf("read the token: %w", err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", path, fmt.Errorf("read the token %s: %w", path, err)
	}
	if st.Mode&0o077 != 0 {
		return "", path, fmt.Errorf("the token %s has mode %04o: other users may read it (run 'chmod 600 %s', then 'opm token --rotate')", path, st.Mode&0o7777, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", path, fmt.Errorf("read the token %s: %w", path, err)
	}
	token = strings.TrimSpace(string(b))
	if len(token) < minTokenLen || strings.ContainsAny(token, " \t\r\n") {
		return "", path, fmt.Errorf("the token %s is not a token of at least %d characters on one line (run 'opm token --rotate' for a new one)", path, minTokenLen)
	}
	return token, path, nil
}

// Token returns the token of home, making one (32 random bytes, as hex,
// mode 0600) when there is none. runtimeDir must be a private directory
// (EnsurePrivateDir).
func Token(home, runtimeDir string) (token, path string, err error) {
	for range 3 {
		token, path, err = ReadToken(home, runtimeDir)
		if !errors.Is(err, fs.ErrNotExist) {
			return token, path, err
		}
		tok, err := newToken()
		if err != nil {
			return "", path, err
		}
		if err := placeFile(path, []byte(tok+"\n"), false); err != nil && !errors.Is(err, os.ErrExist) {
			return "", path, fmt.Errorf("create the token: %w", err)
		}
	}
	return "", path, fmt.Errorf("read the token %s: it keeps changing; try again", path)
}

// RotateToken replaces the token of home with a new one, at once
// (renamed over the old file: a reader sees one or the other, whole).
func RotateToken(home, runtimeDir string) (token, path string, err error) {
	path = TokenPath(home, runtimeDir)
	token, err = newToken()
	if err != nil {
		return "", path, err
	}
	if err := placeFile(path, []byte(token+"\n"), true); err != nil {
		return "", path, fmt.Errorf("rotate the token %s: %w", path, err)
	}
	return token, path, nil
}

func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
