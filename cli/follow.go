package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// follow prints what is appended to files from offsets on, until ctx ends.
// It waits on inotify events for the logs' directories, so it notices new,
// truncated (flushed) and rotated files without polling.
func follow(ctx context.Context, files []logFile, offsets []int64) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch logs: %w", err)
	}
	defer w.Close()
	byPath := map[string][]int{}
	for i, f := range files {
		byPath[f.path] = append(byPath[f.path], i)
		dir := filepath.Dir(f.path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("watch logs: %w", err)
		}
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("watch logs in %s: %w", dir, err)
		}
	}
	partial := make([][]byte, len(files))
	readNew := func(i int) error {
		f := files[i]
		fh, err := os.Open(f.path)
		if errors.Is(err, os.ErrNotExist) {
			offsets[i] = 0
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		defer fh.Close()
		fi, err := fh.Stat()
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		if fi.Size() < offsets[i] {
			// Flushed or rotated: start again from the beginning.
			offsets[i], partial[i] = 0, nil
		}
		data, err := io.ReadAll(io.NewSectionReader(fh, offsets[i], fi.Size()-offsets[i]))
		if err != nil {
			return fmt.Errorf("read log %s: %w", f.path, err)
		}
		offsets[i] += int64(len(data))
		partial[i] = writePrefixed(f, append(partial[i], data...))
		return nil
	}
	// Catch up with what was written between the tail and the watch.
	for i := range files {
		if err := readNew(i); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.Errors:
			return fmt.Errorf("watch logs: %w", err)
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			for _, i := range byPath[ev.Name] {
				if err := readNew(i); err != nil {
					return err
				}
			}
		}
	}
}
