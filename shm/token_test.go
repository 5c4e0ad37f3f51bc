package shm

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestToken(t *testing.T) {
	home, rt := t.TempDir(), t.TempDir()
	if _, _, err := ReadToken(home, rt); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadToken of a home without one: %v, want fs.ErrNotExist", err)
	}
	tok, path, err := Token(home, rt)
	if err != nil || len(tok) != 64 || path != filepath.Join(home, TokenName) {
		t.Fatalf("Token: %q %s %v", tok, path, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the token file: %v %v, want mode 0600", st.Mode(), err)
	}
	if again, _, err := Token(home, rt); err != nil || again != tok {
		t.Fatalf("Token again: %q %v, want %q", again, err, tok)
	}
	fresh, _, err := RotateToken(home, rt)
	if err != nil || fresh == tok {
		t.Fatalf("RotateToken: %q %v", fresh, err)
	}
	if got, _, err := ReadToken(home, rt); err != nil || got != fresh {
		t.Fatalf("ReadToken after rotation: %q %v, want %q", got, err, fresh)
	}
	// Others may not read it; a short one is no token.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadToken(home, rt); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("ReadToken of a 0640 file: %v, want a refusal that says chmod 600", err)
	}
	if err := os.WriteFile(path, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadToken(home, rt); err == nil || !strings.Contains(err.Error(), "opm token --rotate") {
		t.Fatalf("ReadToken of a short token: %v, want a refusal that says what to run", err)
	}
}
