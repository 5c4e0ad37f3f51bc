package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// isAppLog reports whether file (a base name) is one of app name's stdout
// logs: the live "<name>-out.log" or a rotated one, such as opm's
// "<name>-out-<time>.log[.gz]" or pm2-logrotate's
// "<name>-out__<time>.log[.gz]". live tells which.
func isAppLog(file, name string) (ok, live bool) {
	rest, ok := strings.CutPrefix(file, name+"-out")
	if !ok || !(strings.HasSuffix(rest, ".log") || strings.HasSuffix(rest, ".log.gz")) {
		return false, false
	}
	if rest == ".log" {
		return true, true
	}
	// A rotated file's infix starts with a separator: "log1-out-…" and
	// "log1-out__…", never "log1-outer.log".
	return rest[0] == '-' || rest[0] == '_', false
}

// logFileSize is a log file's uncompressed size: its size, or for a .gz
// file the size its gzip trailer records (ISIZE, modulo 4 GiB; garbage
// while the file is being written: only the full count is exact).
func logFileSize(path string, size int64) (int64, error) {
	if !strings.HasSuffix(path, ".gz") {
		return size, nil
	}
	if size < 18 { // header and trailer
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var b [4]byte
	if _, err := f.ReadAt(b[:], size-4); err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint32(b[:])), nil
}

// logSnapshot is one look at a logs directory: per app, the uncompressed
// bytes of its stdout logs, and a signature of every file's name and
// size that changes whenever any of them does.
type logSnapshot struct {
	bytes []int64
	sig   string
}

// snapshotLogs looks at dir for apps names.
func snapshotLogs(dir string, names []string) (logSnapshot, error) {
	s := logSnapshot{bytes: make([]int64, len(names))}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	var sig strings.Builder
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			continue // rotated away meanwhile
		}
		fmt.Fprintf(&sig, "%s %d\n", e.Name(), info.Size())
		for i, n := range names {
			if ok, _ := isAppLog(e.Name(), n); ok {
				sz, err := logFileSize(filepath.Join(dir, e.Name()), info.Size())
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					return s, err
				}
				s.bytes[i] += sz
			}
		}
	}
	s.sig = sig.String()
	return s, nil
}

// logTally is what one app's log files hold, measured against the lines
// its writer reports.
type logTally struct {
	// Files and Rotated count the app's stdout log files, all and
	// rotated ones.
	Files, Rotated int
	// Bytes is their uncompressed size; Lines their newline-terminated
	// lines.
	Bytes, Lines int64
	// Distinct counts the writer's lines found at least once,
	// Duplicates the extra copies; Lost = written - Distinct.
	Distinct, Duplicates, Lost int64
	// Malformed counts lines that are not one of the writer's lines
	// (torn, mixed or unknown numbers), with a final piece without a
	// newline.
	Malformed int64
}

func (t *logTally) add(o logTally) {
	t.Files += o.Files
	t.Rotated += o.Rotated
	t.Bytes += o.Bytes
	t.Lines += o.Lines
	t.Distinct += o.Distinct
	t.Duplicates += o.Duplicates
	t.Lost += o.Lost
	t.Malformed += o.Malformed
}

// tallyAppLogs reads every stdout log of app name in dir (gunzipping
// .gz files) and checks each line against the written lines 0..written-1
// of marker.
func tallyAppLogs(dir, name, marker string, written int64) (logTally, error) {
	var t logTally
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return t, err
	}
	seen := make([]uint64, (written+63)/64)
	for _, e := range ents {
		ok, live := isAppLog(e.Name(), name)
		if !ok {
			continue
		}
		t.Files++
		if !live {
			t.Rotated++
		}
		if err := tallyFile(filepath.Join(dir, e.Name()), marker, written, seen, &t); err != nil {
			return t, err
		}
	}
	t.Lost = written - t.Distinct
	return t, nil
}

// tallyFile adds the lines of one file to t; seen marks the sequence
// numbers found so far.
func tallyFile(path, marker string, written int64, seen []uint64, t *logTally) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		defer z.Close()
		r = z
	}
	if err := tallyLines(r, marker, written, seen, t); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return nil
}

// tallyLines checks the lines of r.
func tallyLines(r io.Reader, marker string, written int64, seen []uint64, t *logTally) error {
	br := bufio.NewReaderSize(r, 1<<20)
	long := false // in a line longer than the buffer
	for {
		line, err := br.ReadSlice('\n')
		t.Bytes += int64(len(line))
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			long = true
			continue
		case err == io.EOF:
			if long || len(line) > 0 {
				t.Malformed++ // no newline
			}
			return nil
		case err != nil:
			return err
		}
		t.Lines++
		if long {
			long = false
			t.Malformed++
			continue
		}
		seq, ok := parseLogLine(line[:len(line)-1], marker)
		if !ok || seq >= uint64(written) {
			t.Malformed++
			continue
		}
		w, bit := seq/64, uint64(1)<<(seq%64)
		if seen[w]&bit != 0 {
			t.Duplicates++
			continue
		}
		seen[w] |= bit
		t.Distinct++
	}
}
