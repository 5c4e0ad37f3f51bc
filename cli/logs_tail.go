package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"opm/daemon/api"
)

// tailLog reads the last n lines of src's log. When the current file has
// fewer, the rest come from the newest rotated file, unless that one is
// compressed. With keep, the current file stays open for following and
// off is where following starts: after its last complete line (a line
// still being written is printed when it is finished). Without keep, a
// last line without newline is a line too. A missing log has no lines.
func tailLog(src *logSource, n int, keep bool) (lines [][]byte, fh *os.File, off int64, err error) {
	fh, err = os.Open(src.path)
	if errors.Is(err, os.ErrNotExist) {
		fh = nil
	} else if err != nil {
		return nil, nil, 0, fmt.Errorf("read log %s: %w", src.path, err)
	}
	defer func() {
		if fh != nil && (!keep || err != nil) {
			fh.Close()
			fh = nil
		}
	}()
	var cur os.FileInfo
	found := 0
	if fh != nil {
		if cur, err = fh.Stat(); err != nil {
			return nil, nil, 0, fmt.Errorf("read log %s: %w", src.path, err)
		}
		end := cur.Size()
		if keep {
			if end, err = afterLastNewline(fh, end); err != nil {
				return nil, nil, 0, fmt.Errorf("read log %s: %w", src.path, err)
			}
		}
		var start int64
		if start, found, err = tailStart(fh, end, n); err != nil {
			return nil, nil, 0, fmt.Errorf("read log %s: %w", src.path, err)
		}
		if lines, err = readLines(fh, start, end); err != nil {
			return nil, nil, 0, fmt.Errorf("read log %s: %w", src.path, err)
		}
		off = end
	}
	if found < n {
		older, err := rotatedTail(src.path, cur, n-found)
		if err != nil {
			return nil, nil, 0, err
		}
		lines = append(older, lines...)
	}
	return lines, fh, off, nil
}

// rotatedTail returns the last n lines of the newest rotated file of the
// log at path, none when it is compressed. cur is the current file as
// opened (nil when there is none): when it was rotated since, it is not
// read twice.
func rotatedTail(path string, cur os.FileInfo, n int) ([][]byte, error) {
	rotated, err := api.Backups(path) // oldest first
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the rotated files of %s: %w", path, err)
	}
	for _, r := range slices.Backward(rotated) {
		if strings.HasSuffix(r, api.GzipSuffix) {
			return nil, nil
		}
		fh, err := os.Open(r)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed since (opm flush --all, or the oldest of too many)
		}
		if err != nil {
			return nil, fmt.Errorf("read rotated log: %w", err)
		}
		defer fh.Close()
		fi, err := fh.Stat()
		if err != nil {
			return nil, fmt.Errorf("read rotated log %s: %w", r, err)
		}
		if cur != nil && os.SameFile(fi, cur) {
			continue // the current file, rotated while it was read
		}
		start, _, err := tailStart(fh, fi.Size(), n)
		if err != nil {
			return nil, fmt.Errorf("read rotated log %s: %w", r, err)
		}
		lines, err := readLines(fh, start, fi.Size())
		if err != nil {
			return nil, fmt.Errorf("read rotated log %s: %w", r, err)
		}
		return lines, nil
	}
	return nil, nil
}

// tailStart finds the offset of the last n lines among the first size
// bytes of r, reading backwards in blocks, and how many lines there are
// from there: n, or fewer when there are fewer.
func tailStart(r io.ReaderAt, size int64, n int) (int64, int, error) {
	if n <= 0 || size == 0 {
		return size, 0, nil
	}
	const block = 32 << 10
	buf := make([]byte, min(block, size))
	end := size
	seen := 0
	for end > 0 {
		start := max(0, end-int64(len(buf)))
		b := buf[:end-start]
		if _, err := r.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			// A final newline ends the last line; it does not start another.
			if b[i] != '\n' || start+int64(i) == size-1 {
				continue
			}
			seen++
			if seen == n {
				return start + int64(i) + 1, n, nil
			}
		}
		end = start
	}
	return 0, seen + 1, nil
}

// afterLastNewline returns the offset just after the last newline among
// the first size bytes of r, 0 when there is none.
func afterLastNewline(r io.ReaderAt, size int64) (int64, error) {
	const block = 32 << 10
	buf := make([]byte, min(block, size))
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		b := buf[:end-start]
		if _, err := r.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// readLines reads bytes start to end of r as lines, without their
// newlines; a last line without one is a line too.
func readLines(r io.ReaderAt, start, end int64) ([][]byte, error) {
	data := make([]byte, end-start)
	if _, err := r.ReadAt(data, start); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return splitLines(data), nil
}

// splitLines splits data into lines without their newlines.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lines = append(lines, data)
			break
		}
		lines = append(lines, data[:i])
		data = data[i+1:]
	}
	return lines
}

// tail is the last lines of one log.
type tail struct {
	src   *logSource
	lines [][]byte
}

// printTails prints the tails of several logs, merged as mergeTails
// does.
func printTails(p *logPrinter, tails []tail) {
	mergeTails(tails, func(src *logSource, line []byte) { p.print(src, line, time.Time{}) })
}

// mergeTails calls fn with each line of the tails of several logs. When
// lines carry stored timestamps they are merged in time order: a line
// without a time goes with the line before it in its log; lines of the
// same time keep the order of the logs. Without timestamps that is log
// after log.
func mergeTails(tails []tail, fn func(src *logSource, line []byte)) {
	type cursor struct {
		tail
		next int
		at   time.Time // the time of lines[next], or of the line before
	}
	advance := func(c *cursor) {
		if c.next < len(c.lines) {
			if t, _, ok := c.src.parseStamp(c.lines[c.next]); ok {
				c.at = t
			}
		}
	}
	var cs []*cursor
	for _, t := range tails {
		if len(t.lines) > 0 {
			c := &cursor{tail: t}
			advance(c)
			cs = append(cs, c)
		}
	}
	for len(cs) > 0 {
		best := 0
		for i, c := range cs {
			if c.at.Before(cs[best].at) {
				best = i
			}
		}
		c := cs[best]
		fn(c.src, c.lines[c.next])
		c.next++
		if c.next == len(c.lines) {
			cs = slices.Delete(cs, best, best+1)
			continue
		}
		advance(c)
	}
}
