package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/appspec"
)

// Runtime records let a new daemon take over from one that died or was
// replaced: one small JSON file per app in <runtime>/apps/ (tmpfs, never
// disk). A record holds the app's definition, whether it should run, and
// its process's PID and start time, which together name one process for
// the machine's uptime. When they are written is the supervisor's rule
// (daemon/records.go); this file is their format.

// RecordsDir is the directory of runtime records inside the runtime dir.
const RecordsDir = "apps"

const RecordVersion = 1

// MaxRecordSize is the largest record written or read: one app definition
// at its limit (api.MaxSpecSize, enforced when the app is started) and the
// few fields around it. Writer and reader share it, so a record that was
// written can always be read back.
const MaxRecordSize = api.MaxSpecSize + 4<<10

// Record is one app's runtime record.
type Record struct {
	Version int      `json:"version"`
	ID      int      `json:"id"`
	Spec    api.Spec `json:"spec"`
	// Want is "running", "stopped" or "errored".
	Want     string `json:"want"`
	PID      int    `json:"pid,omitempty"`
	Start    uint64 `json:"start,omitempty"` // clock ticks since boot
	Restarts int    `json:"restarts"`
	// Spawning is the token of the app's latest spawn, written before the
	// process exists (token.go): it tells the app's leader from leftovers
	// at takeover.
	Spawning string `json:"spawning,omitempty"`
	// UserStopped is set when a user stopped the app: its cron time
	// does not start it.
	UserStopped bool `json:"user_stopped,omitempty"`
	// SpecJSON, when set, is Spec already encoded, written instead of
	// encoding it again: an app's definition rarely changes between the
	// records of its restarts, and encoding it is most of a record's cost.
	SpecJSON json.RawMessage `json:"-"`
}

// MarshalJSON writes the record, with SpecJSON as its spec (the last
// member) when set.
func (r Record) MarshalJSON() ([]byte, error) {
	type plain Record
	if len(r.SpecJSON) == 0 {
		return json.Marshal(plain(r))
	}
	b, err := json.Marshal(struct {
		plain
		Spec *struct{} `json:"spec,omitempty"` // hides plain's
	}{plain: plain(r)})
	if err != nil {
		return nil, err
	}
	return api.AppendMember(b, "spec", r.SpecJSON), nil
}

const (
	WantRunning = "running"
	WantStopped = "stopped"
	WantErrored = "errored"
)

// Records reads and writes the runtime records of one daemon.
type Records struct{ Dir string }

func (r Records) Path(id int) string {
	return filepath.Join(r.Dir, strconv.Itoa(id)+".json")
}

// Write replaces the record of rec.ID: temp file and rename, so a reader
// (the next daemon) sees the old record or the new one, never half.
func (r Records) Write(rec Record) error {
	rec.Version = RecordVersion
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode runtime record: %w", err)
	}
	if len(data) > MaxRecordSize {
		return fmt.Errorf("write runtime record: %d bytes, more than the %d a record may hold", len(data), MaxRecordSize)
	}
	path := r.Path(rec.ID)
	tmp := path + ".tmp"
	if err := writeNew(tmp, data); err != nil {
		unix.Unlink(tmp)
		if errors.Is(err, unix.ENOSPC) && overwrite(path, data) == nil {
			return nil
		}
		return fmt.Errorf("write runtime record: %w", err)
	}
	if err := unix.Rename(tmp, path); err != nil {
		unix.Unlink(tmp)
		return fmt.Errorf("write runtime record %s: %w", path, err)
	}
	return nil
}

// writeNew writes data as the file at p, created or emptied, with plain
// system calls: a record is written on the crash-to-restart path, where
// os.WriteFile's poller registration and checks cost more than the write.
func writeNew(p string, data []byte) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err == nil && n == 0 {
			err = unix.EIO // no progress: do not spin
		}
		if err != nil {
			unix.Close(fd)
			return &os.PathError{Op: "write", Path: p, Err: err}
		}
		data = data[n:]
	}
	if err := unix.Close(fd); err != nil {
		return &os.PathError{Op: "close", Path: p, Err: err}
	}
	return nil
}

// overwrite writes data over the existing record at path, in place: on a
// full tmpfs, rewriting pages a file already has needs no new one, so a
// record that shrinks or keeps its size (an app stopped, an app that
// exited) can still be written. It is not atomic; a daemon killed half-way
// leaves a record the next one refuses as corrupt, and finds the app by
// its token instead (token.go). A reader stops at the end of the JSON
// value, so stale bytes after it, should the truncate not happen, do not
// matter.
func overwrite(path string, data []byte) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, err := unix.Pwrite(fd, data, 0); err != nil {
		return err
	}
	return unix.Ftruncate(fd, int64(len(data)))
}

func (r Records) Remove(id int) error {
	if err := os.Remove(r.Path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove runtime record: %w", err)
	}
	return nil
}

// BadRecord is a record file that cannot be used.
type BadRecord struct {
	Path string
	Err  error
}

// ReadAll returns the valid records, in id order, and the files it could
// not use.
func (r Records) ReadAll() ([]Record, []BadRecord, error) {
	ents, err := os.ReadDir(r.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read runtime records: %w", err)
	}
	var recs []Record
	var bad []BadRecord
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(r.Dir, name)
		if name == nextIDName {
			continue
		}
		if strings.HasSuffix(name, ".tmp") {
			continue // a write cut short; the next write replaces it
		}
		id, err := strconv.Atoi(strings.TrimSuffix(name, ".json"))
		if !strings.HasSuffix(name, ".json") || err != nil || id < 0 {
			bad = append(bad, BadRecord{Path: path, Err: errors.New("not a record file name")})
			continue
		}
		rec, err := readRecord(path)
		if err == nil && rec.ID != id {
			err = fmt.Errorf("record names id %d", rec.ID)
		}
		if err != nil {
			bad = append(bad, BadRecord{Path: path, Err: err})
			continue
		}
		recs = append(recs, rec)
	}
	// ReadDir sorts by name; order by id.
	for i := 1; i < len(recs); i++ {
		for j := i; j > 0 && recs[j].ID < recs[j-1].ID; j-- {
			recs[j], recs[j-1] = recs[j-1], recs[j]
		}
	}
	return recs, bad, nil
}

func readRecord(path string) (Record, error) {
	var rec Record
	f, err := os.Open(path)
	if err != nil {
		return rec, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return rec, err
	}
	if !st.Mode().IsRegular() || st.Size() > MaxRecordSize {
		return rec, fmt.Errorf("not a regular file of at most %d bytes", MaxRecordSize)
	}
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, fmt.Errorf("decode: %w", err)
	}
	if rec.Version != RecordVersion {
		return rec, fmt.Errorf("unknown record version %d", rec.Version)
	}
	switch rec.Want {
	case WantRunning, WantStopped, WantErrored:
	default:
		return rec, fmt.Errorf("unknown wanted state %q", rec.Want)
	}
	if err := appspec.Check(rec.Spec); err != nil {
		return rec, err
	}
	if rec.PID < 0 {
		return rec, fmt.Errorf("bad pid %d", rec.PID)
	}
	return rec, nil
}

// nextIDName keeps the next app id, so that ids stay unique across
// daemons even after the highest one was removed.
const nextIDName = "next-id"

// ReadNextID returns the next app id recorded, 0 when none is.
func (r Records) ReadNextID() int {
	b, err := os.ReadFile(filepath.Join(r.Dir, nextIDName))
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// WriteNextID records the next app id.
func (r Records) WriteNextID(n int) error {
	path := filepath.Join(r.Dir, nextIDName)
	err := os.WriteFile(path+".tmp", []byte(strconv.Itoa(n)), 0o600)
	if err == nil {
		err = os.Rename(path+".tmp", path)
	}
	if err != nil {
		return fmt.Errorf("record the next app id: %w", err)
	}
	return nil
}

// RemoveFile removes a file of the records directory (a record that
// cannot be used); one that is gone already is no error.
func (r Records) RemoveFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// Clear removes every record, and the next id.
func (r Records) Clear() error {
	ents, err := os.ReadDir(r.Dir)
	if err != nil {
		return fmt.Errorf("clear runtime records: %w", err)
	}
	var errs []error
	for _, e := range ents {
		errs = append(errs, r.RemoveFile(filepath.Join(r.Dir, e.Name())))
	}
	return errors.Join(errs...)
}
