package daemon

import (
	"errors"
	"net/http"
	"path/filepath"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/store"
	"opm/shm"
)

// saveReq asks the loop for the dump of the current table.
type saveReq struct {
	reply chan result
}

// dumpApps lists every app's definition and whether it should run.
func (s *Supervisor) dumpApps() []store.DumpApp {
	out := make([]store.DumpApp, 0, len(s.apps))
	for _, id := range s.allIDs() {
		a := s.apps[id]
		if a.removing {
			continue // being removed or scaled away: not saved
		}
		out = append(out, store.DumpApp{Spec: a.spec, Running: recordOf(a).Want != store.WantStopped, UserStopped: a.userStopped})
	}
	return out
}

// handleSave writes the dump. Saves are serialised; the file is replaced
// atomically, so a failed save leaves the previous dump intact.
func (srv *server) handleSave(w http.ResponseWriter, r *http.Request) {
	res, ok := srv.call(r.Context(), w, func(reply chan result) event { return saveReq{reply: reply} })
	if !ok {
		return
	}
	path := filepath.Join(srv.cfg.Home, api.DumpName)
	if !shm.Writable(srv.cfg.Home) {
		srv.log.Error("save failed: OPM_HOME is read-only", "event", "save-failed", "home", srv.cfg.Home)
		writeError(w, readOnlySaveError(srv.cfg.Home, path))
		return
	}
	srv.saveMu.Lock()
	err := store.WriteDump(path, store.Dump{Version: store.DumpVersion, SavedAt: srv.sup.now().UTC(), Apps: res.dump})
	srv.saveMu.Unlock()
	if errors.Is(err, unix.EROFS) {
		srv.log.Error("save failed: OPM_HOME is read-only", "event", "save-failed", "home", srv.cfg.Home, "error", err)
		writeError(w, readOnlySaveError(srv.cfg.Home, path))
		return
	}
	if err != nil {
		srv.log.Error("save failed", "event", "save-failed", "error", err)
		writeError(w, api.Errorf(api.CodeInternal, "cannot save: %v; the previous dump is intact (check free space and permissions of %s)", err, srv.cfg.Home))
		return
	}
	srv.log.Info("apps saved", "event", "saved", "apps", len(res.dump), "path", path)
	writeJSON(w, http.StatusOK, api.SaveResult{Path: path, Apps: len(res.dump)})
}

// readOnlySaveError is the answer to a save while OPM_HOME is read-only:
// nothing was written, the dump at path is as it was.
func readOnlySaveError(home, path string) error {
	return api.Errorf(api.CodeConflict, "OPM_HOME (%s) is read-only: the dump cannot be written; the saved dump (%s) is unchanged and 'opm restore' still uses it. To save, make OPM_HOME writable (e.g. 'mount -o remount,rw' of its file system) and run 'opm save' again, or save where the image is built", home, path)
}
