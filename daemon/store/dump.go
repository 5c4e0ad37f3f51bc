package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/shm"
)

// The dump ($OPM_HOME/dump.json) is the saved app list: each app's full
// definition and whether it was running — never PIDs or other runtime
// state. Only `opm save` writes it.

// DumpVersion is the dump schema version this daemon reads and writes.
const DumpVersion = 1

// Dump is the dump's schema.
type Dump struct {
	Version int       `json:"version"`
	SavedAt time.Time `json:"saved_at"`
	Apps    []DumpApp `json:"apps"`
}

// DumpApp is one saved app.
type DumpApp struct {
	Spec    api.Spec `json:"spec"`
	Running bool     `json:"running"`
	// UserStopped: a user stopped the app (its cron time does not
	// start it).
	UserStopped bool `json:"user_stopped,omitempty"`
}

// WriteDump replaces path atomically: a temp file in the same directory,
// fsynced, renamed over path, and the directory fsynced. On any failure
// the previous dump is left as it was.
func WriteDump(path string, d Dump) error {
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("encode dump: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file for dump in %s: %w", dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write dump %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync dump %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close dump %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace dump %s: %w", path, err)
	}
	ok = true
	df, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer df.Close()
	if err := df.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// ErrNoDump reports that there is no dump to restore.
var ErrNoDump = errors.New("no dump")

// ReadDump reads and checks the dump at path. The file must be the
// user's own and writable by nobody else (shm.OpenOwned): a dump names
// programs the daemon runs.
func ReadDump(path string) (Dump, error) {
	var d Dump
	data, err := readOwned(path)
	if errors.Is(err, os.ErrNotExist) {
		return d, ErrNoDump
	}
	if err != nil {
		return d, fmt.Errorf("read dump: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		return d, fmt.Errorf("not a valid dump: %w", err)
	}
	if dec.More() {
		return d, errors.New("not a valid dump: data after the JSON document")
	}
	if d.Version != DumpVersion {
		return d, fmt.Errorf("dump version %d is not one this opm reads (it reads version %d)", d.Version, DumpVersion)
	}
	return d, nil
}

// readOwned reads the whole file at path through shm.OpenOwned.
func readOwned(path string) ([]byte, error) {
	f, err := shm.OpenOwnedFile(path, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// SetAside copies a dump that cannot be read next to it, as
// <path>.corrupt-<hash of its content>, leaving the original untouched.
// One copy is kept per distinct content: failing again on the same dump
// writes nothing.
func SetAside(path string) (string, error) {
	data, err := readOwned(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	dst := path + ".corrupt-" + hex.EncodeToString(sum[:6])
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if errors.Is(err, os.ErrExist) {
		return dst, nil
	}
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	return dst, f.Close()
}

// RemoveStaleTemps removes the temp files of saves cut short (a daemon
// killed while saving) and returns their names. The daemon calls it as it
// starts, holding the daemon lock, so no save is in progress.
func RemoveStaleTemps(home string) []string {
	tmps, _ := filepath.Glob(filepath.Join(home, api.DumpName+".tmp-*"))
	var removed []string
	for _, p := range tmps {
		if err := os.Remove(p); err == nil {
			removed = append(removed, p)
		}
	}
	return removed
}
