package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The logs scenario's app and its prototype log relays are this binary,
// re-executed with one of these as the first argument (like floorArg).
const (
	// logWriterArg: `<marker> <duration> <gate> <countfile>`. The writer
	// creates <countfile>.ready, blocks opening the FIFO <gate> until the
	// harness opens its write end, then writes numbered lines to stdout
	// for <duration>, writes its count to <countfile> and stays alive
	// until SIGTERM or SIGINT, so that no supervisor restarts it.
	logWriterArg = "__log-writer"
	// logRelayArg: `<poll|block> <file>...`. File i gets what is read
	// from descriptor 3+i (a pipe), until SIGTERM.
	logRelayArg = "__log-relay"
)

// Every line is logLineLen bytes: "<marker> <seq, 10 digits> xxx...x\n".
// A writer writes logBatchLines lines per write(2): 4000 bytes, whole
// lines, within PIPE_BUF (4096) so that a write to a pipe is atomic.
const (
	logLineLen    = 100
	logBatchLines = 40
	logSeqDigits  = 10
)

// logLineTemplate returns one line of marker with a zero sequence
// number; putLogSeq fills in the number.
func logLineTemplate(marker string) ([]byte, error) {
	head := len(marker) + 1 + logSeqDigits + 1
	if head+1 > logLineLen || strings.ContainsAny(marker, " \n") || marker == "" {
		return nil, fmt.Errorf("log line marker %q: empty, has a space or newline, or too long", marker)
	}
	l := make([]byte, logLineLen)
	copy(l, marker)
	l[len(marker)] = ' '
	for i := len(marker) + 1; i < head-1; i++ {
		l[i] = '0'
	}
	l[head-1] = ' '
	for i := head; i < logLineLen-1; i++ {
		l[i] = 'x'
	}
	l[logLineLen-1] = '\n'
	return l, nil
}

// putLogSeq writes seq into line (made by logLineTemplate for marker).
func putLogSeq(line []byte, marker string, seq uint64) {
	d := line[len(marker)+1 : len(marker)+1+logSeqDigits]
	for i := logSeqDigits - 1; i >= 0; i-- {
		d[i] = byte('0' + seq%10)
		seq /= 10
	}
}

// parseLogLine returns the sequence number of line (without its
// newline) when it is one of marker's lines, byte for byte.
func parseLogLine(line []byte, marker string) (uint64, bool) {
	head := len(marker) + 1 + logSeqDigits + 1
	if len(line) != logLineLen-1 || string(line[:len(marker)]) != marker || line[len(marker)] != ' ' || line[head-1] != ' ' {
		return 0, false
	}
	var seq uint64
	for _, c := range line[len(marker)+1 : head-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		seq = seq*10 + uint64(c-'0')
	}
	for _, c := range line[head:] {
		if c != 'x' {
			return 0, false
		}
	}
	return seq, true
}

// logCount is what a writer reports in its count file: the lines it
// wrote whole, and the bytes of a line it could write only in part.
type logCount struct {
	Lines   int64
	Partial int64
}

func (c logCount) String() string { return fmt.Sprintf("%d %d\n", c.Lines, c.Partial) }

func parseLogCount(b []byte) (logCount, error) {
	var c logCount
	if _, err := fmt.Sscanf(string(b), "%d %d\n", &c.Lines, &c.Partial); err != nil {
		return c, fmt.Errorf("count file %q: %w", b, err)
	}
	return c, nil
}

// runLogWriter is the writer app; it never returns.
func runLogWriter(args []string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "log writer:", err)
		os.Exit(2)
	}
	if len(args) != 4 {
		fail(fmt.Errorf("want <marker> <duration> <gate> <countfile>"))
	}
	marker, gate, countFile := args[0], args[2], args[3]
	d, err := time.ParseDuration(args[1])
	if err != nil {
		fail(err)
	}
	line, err := logLineTemplate(marker)
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(countFile+".ready", nil, 0o600); err != nil {
		fail(err)
	}
	g, err := os.OpenFile(gate, os.O_RDONLY, 0) // blocks until the harness opens the gate
	if err != nil {
		fail(err)
	}
	g.Close()
	// From here on a stop request ends the writer at once, without a
	// count; once the count is written it waits for one.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)

	batch := make([]byte, 0, logLineLen*logBatchLines)
	for range logBatchLines {
		batch = append(batch, line...)
	}
	var c logCount
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		select {
		case <-term:
			os.Exit(0)
		default:
		}
		for i := range logBatchLines {
			putLogSeq(batch[i*logLineLen:], marker, uint64(c.Lines)+uint64(i))
		}
		n, err := writeAll(1, batch)
		c.Lines += int64(n / logLineLen)
		if err != nil {
			c.Partial = int64(n % logLineLen)
			fmt.Fprintln(os.Stderr, "log writer: write:", err)
			break
		}
	}
	tmp := countFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(c.String()), 0o600); err != nil {
		fail(err)
	}
	if err := os.Rename(tmp, countFile); err != nil {
		fail(err)
	}
	<-term
	os.Exit(0)
}

// writeAll writes b to fd, retrying short writes and EINTR.
func writeAll(fd int, b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := unix.Write(fd, b[done:])
		if n > 0 {
			done += n
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// runLogRelay is a prototype log relay; it never returns. In poll mode
// its pipes are non-blocking and read through the Go runtime's poller (a
// goroutine per pipe, few threads: a daemon that creates its pipes with
// os.Pipe reads them this way); in block mode each read blocks its thread
// (a tiny per-app relay).
func runLogRelay(args []string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "log relay:", err)
		os.Exit(2)
	}
	if len(args) < 2 || (args[0] != "poll" && args[0] != "block") {
		fail(fmt.Errorf("want <poll|block> and one file per pipe"))
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	for i, path := range args[1:] {
		fd := 3 + i
		if args[0] == "poll" {
			if err := unix.SetNonblock(fd, true); err != nil {
				fail(err)
			}
		}
		in := os.NewFile(uintptr(fd), "pipe")
		out, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fail(err)
		}
		go func() {
			if err := relay(in, out); err != nil {
				fail(fmt.Errorf("%s: %w", filepath.Base(path), err))
			}
		}()
	}
	<-term
	os.Exit(0)
}

// relay copies in to out through a 64 KiB buffer, one read and one
// write at a time, until EOF.
func relay(in io.Reader, out io.Writer) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
