package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/spec"
)

// Runtime records let a new daemon take over from one that died or was
// replaced: one small JSON file per app in <runtime>/apps/ (tmpfs, never
// disk), written by the supervisor goroutine whenever the app's state
// changed — on spawn, exit, stop — and never while idle. A record holds
// the app's definition, whether it should run, and its process's PID and
// start time, which together name one process for the machine's uptime.

// RecordsDir is the directory of runtime records inside the runtime dir.
const RecordsDir = "apps"

const recordVersion = 1

// maxRecordSize is the largest record written or read: one app definition
// at its limit (api.MaxSpecSize, enforced when the app is started) and the
// few fields around it. Writer and reader share it, so a record that was
// written can always be read back.
const maxRecordSize = api.MaxSpecSize + 4<<10

// record is one app's runtime record.
type record struct {
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
}

const (
	wantRunning = "running"
	wantStopped = "stopped"
	wantErrored = "errored"
)

// records reads and writes the runtime records of one daemon.
type records struct{ dir string }

func (r records) path(id int) string {
	return filepath.Join(r.dir, strconv.Itoa(id)+".json")
}

// write replaces the record of rec.ID: temp file and rename, so a reader
// (the next daemon) sees the old record or the new one, never half.
func (r records) write(rec record) error {
	rec.Version = recordVersion
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode runtime record: %w", err)
	}
	if len(data) > maxRecordSize {
		return fmt.Errorf("write runtime record: %d bytes, more than the %d a record may hold", len(data), maxRecordSize)
	}
	path := r.path(rec.ID)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		os.Remove(tmp)
		if errors.Is(err, unix.ENOSPC) && overwrite(path, data) == nil {
			return nil
		}
		return fmt.Errorf("write runtime record: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write runtime record: %w", err)
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

func (r records) remove(id int) error {
	if err := os.Remove(r.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove runtime record: %w", err)
	}
	return nil
}

// badRecord is a record file that cannot be used.
type badRecord struct {
	path string
	err  error
}

// readAll returns the valid records, in id order, and the files it could
// not use.
func (r records) readAll() ([]record, []badRecord, error) {
	ents, err := os.ReadDir(r.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read runtime records: %w", err)
	}
	var recs []record
	var bad []badRecord
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(r.dir, name)
		if name == nextIDName {
			continue
		}
		if strings.HasSuffix(name, ".tmp") {
			continue // a write cut short; the next write replaces it
		}
		id, err := strconv.Atoi(strings.TrimSuffix(name, ".json"))
		if !strings.HasSuffix(name, ".json") || err != nil || id < 0 {
			bad = append(bad, badRecord{path, errors.New("not a record file name")})
			continue
		}
		rec, err := readRecord(path)
		if err == nil && rec.ID != id {
			err = fmt.Errorf("record names id %d", rec.ID)
		}
		if err != nil {
			bad = append(bad, badRecord{path, err})
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

func readRecord(path string) (record, error) {
	var rec record
	f, err := os.Open(path)
	if err != nil {
		return rec, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return rec, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxRecordSize {
		return rec, fmt.Errorf("not a regular file of at most %d bytes", maxRecordSize)
	}
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, fmt.Errorf("decode: %w", err)
	}
	if rec.Version != recordVersion {
		return rec, fmt.Errorf("unknown record version %d", rec.Version)
	}
	switch rec.Want {
	case wantRunning, wantStopped, wantErrored:
	default:
		return rec, fmt.Errorf("unknown wanted state %q", rec.Want)
	}
	if err := spec.Check(rec.Spec); err != nil {
		return rec, err
	}
	if rec.PID < 0 {
		return rec, fmt.Errorf("bad pid %d", rec.PID)
	}
	return rec, nil
}

// recordOf is the record describing a now.
func recordOf(a *app) record {
	rec := record{ID: a.id, Spec: a.spec, Restarts: a.restarts, Want: wantRunning}
	switch {
	case a.state == Stopped, a.state == Stopping && !a.restartAfterStop:
		rec.Want = wantStopped
	case a.state == Errored:
		rec.Want = wantErrored
	}
	if a.running() && a.proc != nil {
		rec.PID, rec.Start = a.pid, a.proc.StartTicks()
	}
	rec.Spawning = a.spawnToken
	return rec
}

// saveRecord writes a's record, if the daemon keeps records. A failure is
// returned, and the record stays due, so that the next event tries again
// (a record must never keep saying "running" for an app that stopped):
// before a spawn it fails the start (launch); after any other change the
// app runs on, and a later takeover finds its process by its token
// (token.go). The first failure of a run of them is logged.
func (s *Supervisor) saveRecord(a *app) error {
	a.dirty = false
	if s.records == nil {
		return nil
	}
	err := s.records.write(recordOf(a))
	if err == nil {
		s.recordFailure = ""
		if a.recordFailing {
			a.recordFailing = false
			s.log.Info("runtime record written again", "event", "record-written", "app", a.spec.Name, "pid", a.pid)
		}
		return nil
	}
	a.dirty = true
	s.recordFailure = fmt.Sprintf("%s: %v", s.now().Format(time.RFC3339), err)
	if !a.recordFailing {
		a.recordFailing = true
		s.log.Error("cannot write runtime record", "event", "record-failed", "app", a.spec.Name, "pid", a.pid, "error", err)
	}
	return fmt.Errorf("write its runtime record in %s: %w (free space there, or set OPM_RUNTIME_DIR)", s.records.dir, err)
}

// flushRecords writes the records of the apps changed by the last event,
// and the next id if it moved.
func (s *Supervisor) flushRecords() {
	for _, a := range s.apps {
		if a.dirty {
			_ = s.saveRecord(a)
		}
	}
	if s.nextIDDirty {
		s.nextIDDirty = false
		s.writeNextID()
	}
}

// dropRecord removes a forgotten app's record.
func (s *Supervisor) dropRecord(a *app) {
	if s.records == nil {
		return
	}
	if err := s.records.remove(a.id); err != nil {
		s.log.Error("cannot remove runtime record", "event", "record-failed", "app", a.spec.Name, "pid", 0, "error", err)
	}
}

// nextIDName keeps the next app id, so that ids stay unique across
// daemons even after the highest one was removed.
const nextIDName = "next-id"

func (s *Supervisor) readNextID() int {
	if s.records == nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(s.records.dir, nextIDName))
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// writeNextID records s.nextID, after events that registered apps.
func (s *Supervisor) writeNextID() {
	if s.records == nil {
		return
	}
	path := filepath.Join(s.records.dir, nextIDName)
	err := os.WriteFile(path+".tmp", []byte(strconv.Itoa(s.nextID)), 0o600)
	if err == nil {
		err = os.Rename(path+".tmp", path)
	}
	if err != nil {
		s.log.Error("cannot record the next app id", "event", "record-failed", "error", err)
	}
}

func (s *Supervisor) removeFile(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Error("cannot remove file", "event", "record-failed", "path", path, "error", err)
	}
}

// clearRecords removes every runtime record, once the daemon has stopped
// all its apps and is about to exit.
func (s *Supervisor) clearRecords() {
	if s.records == nil {
		return
	}
	for _, a := range s.apps {
		a.dirty = false
	}
	ents, err := os.ReadDir(s.records.dir)
	if err != nil {
		s.log.Error("cannot clear runtime records", "event", "record-failed", "error", err)
		return
	}
	for _, e := range ents {
		s.removeFile(filepath.Join(s.records.dir, e.Name()))
	}
}
