package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	ucli "github.com/urfave/cli/v2"
)

func (a *App) logsCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "logs",
		Usage:     "print the last lines of apps' logs; --follow keeps printing new ones",
		ArgsUsage: "[<target>]",
		Description: `Prints the last lines of each app's out and err logs (stdout and stderr),
out lines on standard output and err lines on standard error. With several
apps, each line starts with the app's name. The target defaults to all apps.`,
		Flags: []ucli.Flag{
			&ucli.IntFlag{Name: "lines", Aliases: []string{"n"}, Value: 15, Usage: "print the last `N` lines of each log"},
			&ucli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines until interrupted"},
		},
		Action: a.logs,
	}
}

// logFile is one log of one app, as logs prints and follows it.
type logFile struct {
	path   string
	prefix string
	out    io.Writer
}

func (a *App) logs(c *ucli.Context) error {
	target := "all"
	if c.Args().Len() > 0 {
		t, err := targetArg(c)
		if err != nil {
			return err
		}
		target = t
	}
	n := c.Int("lines")
	if n < 0 {
		return usageErrorf("invalid --lines %d: use 0 or more", n)
	}
	apps, err := a.apps(c.Context, target)
	if err != nil {
		return err
	}
	if len(apps) == 0 {
		return fmt.Errorf("no apps, so no logs (start one with 'opm start')")
	}
	var files []logFile
	for _, app := range apps {
		prefix := ""
		if len(apps) > 1 {
			prefix = Escape(app.Name) + " | "
		}
		files = append(files,
			logFile{path: app.Spec.OutLog, prefix: prefix, out: a.out()},
			logFile{path: app.Spec.ErrLog, prefix: prefix, out: a.errOut()})
	}
	offsets := make([]int64, len(files))
	for i, f := range files {
		off, err := printTail(f, n)
		if err != nil {
			return err
		}
		offsets[i] = off
	}
	if !c.Bool("follow") {
		return nil
	}
	return follow(c.Context, files, offsets)
}

// printTail prints the last n lines of f and returns the size it read up
// to, where following starts. A missing log has printed nothing yet.
func printTail(f logFile, n int) (int64, error) {
	fh, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read log: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return 0, fmt.Errorf("read log: %w", err)
	}
	size := fi.Size()
	if n == 0 {
		return size, nil
	}
	start, err := tailStart(fh, size, n)
	if err != nil {
		return 0, fmt.Errorf("read log %s: %w", f.path, err)
	}
	if _, err := fh.Seek(start, io.SeekStart); err != nil {
		return 0, fmt.Errorf("read log %s: %w", f.path, err)
	}
	if err := copyLines(f, io.LimitReader(fh, size-start)); err != nil {
		return 0, err
	}
	return size, nil
}

// tailStart finds the offset of the n-th line from the end of a file of
// the given size, reading backwards in blocks.
func tailStart(r io.ReaderAt, size int64, n int) (int64, error) {
	const block = 32 << 10
	buf := make([]byte, block)
	end := size
	seen := 0
	for end > 0 {
		start := max(0, end-block)
		b := buf[:end-start]
		if _, err := r.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			// A final newline ends the last line; it does not start another.
			if b[i] != '\n' || start+int64(i) == size-1 {
				continue
			}
			seen++
			if seen == n {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// copyLines writes r to f's output, each line with f's prefix.
func copyLines(f logFile, r io.Reader) error {
	if f.prefix == "" {
		_, err := io.Copy(f.out, r)
		return err
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(f.out, "%s%s\n", f.prefix, sc.Bytes())
	}
	return sc.Err()
}

// writePrefixed writes complete lines of data with f's prefix and returns
// the bytes of an unfinished last line, kept until its newline arrives.
func writePrefixed(f logFile, data []byte) []byte {
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return data
		}
		fmt.Fprintf(f.out, "%s%s\n", f.prefix, data[:i])
		data = data[i+1:]
	}
}
