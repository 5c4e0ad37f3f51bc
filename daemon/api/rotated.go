package api

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// BackupTimeFormat is the time in a rotated log's name, in UTC, as
// lumberjack writes it: web-out-2026-11-27T10-00-00.000.log.
const BackupTimeFormat = "2006-01-02T15-04-05.000"

// GzipSuffix ends the name of a compressed rotated log.
const GzipSuffix = ".gz"

// BackupName is the name a log file at path gets when it is rotated at t.
func BackupName(path string, t time.Time) string {
	prefix, ext := backupParts(path)
	return prefix + t.UTC().Format(BackupTimeFormat) + ext
}

// backupParts splits path into what comes before and after the time in
// its backups' names.
func backupParts(path string) (prefix, ext string) {
	ext = filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-", ext
}

// BackupTime is the rotation time of the backup name of the log file at
// path, ok false when name is not one of its backups.
func BackupTime(path, name string) (t time.Time, ok bool) {
	prefix, ext := backupParts(filepath.Base(path))
	name = strings.TrimSuffix(name, GzipSuffix)
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ext) {
		return time.Time{}, false
	}
	t, err := time.Parse(BackupTimeFormat, name[len(prefix):len(name)-len(ext)])
	return t, err == nil
}

// Backups lists the rotated files of the log file at path, oldest first,
// compressed or not.
func Backups(path string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	type backup struct {
		path string
		t    time.Time
	}
	var bs []backup
	for _, e := range entries {
		if t, ok := BackupTime(path, e.Name()); ok && e.Type().IsRegular() {
			bs = append(bs, backup{filepath.Join(filepath.Dir(path), e.Name()), t})
		}
	}
	slices.SortStableFunc(bs, func(a, b backup) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.path
	}
	return out, nil
}
