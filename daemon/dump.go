package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"opm/daemon/api"
)

// The dump ($OPM_HOME/dump.json) is the saved app list: each app's full
// definition and whether it was running — never PIDs or other runtime
// state. Only `opm save` writes it.

// DumpVersion is the dump schema version this daemon reads and writes.
const DumpVersion = 1

// dumpFile is the dump's schema.
type dumpFile struct {
	Version int       `json:"version"`
	SavedAt time.Time `json:"saved_at"`
	Apps    []dumpApp `json:"apps"`
}

// dumpApp is one saved app.
type dumpApp struct {
	Spec    api.Spec `json:"spec"`
	Running bool     `json:"running"`
}

// writeDump replaces path atomically: a temp file in the same directory,
// fsynced, renamed over path, and the directory fsynced. On any failure
// the previous dump is left as it was.
func writeDump(path string, d dumpFile) error {
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

// errNoDump reports that there is no dump to restore.
var errNoDump = errors.New("no dump")

// readDump reads and checks the dump at path.
func readDump(path string) (dumpFile, error) {
	var d dumpFile
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return d, errNoDump
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

// setAside copies a dump that cannot be read next to it, as
// <path>.corrupt-<time>, leaving the original untouched.
func setAside(path string, now time.Time) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	dst := path + ".corrupt-" + now.UTC().Format("20060102T150405.000000000Z")
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
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
