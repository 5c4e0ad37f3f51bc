package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// tailStart finds where the last n lines of a log begin, whether or not
// the log ends with a newline, and whether or not it has n lines, and
// says how many lines it found.
func TestTailStart(t *testing.T) {
	tail := func(data string, n int) (string, int) {
		t.Helper()
		start, found, err := tailStart(strings.NewReader(data), int64(len(data)), n)
		if err != nil {
			t.Fatal(err)
		}
		return data[start:], found
	}
	for _, c := range []struct {
		data  string
		n     int
		want  string
		found int
	}{
		{"a\nb\nc\n", 2, "b\nc\n", 2},
		{"a\nb\nc", 2, "b\nc", 2},
		{"a\n", 2, "a\n", 1},
		{"\n", 2, "\n", 1},
		{"", 2, "", 0},
		{"a\nb\nc\n", 5, "a\nb\nc\n", 3},
		{"a\nb\nc\n", 3, "a\nb\nc\n", 3},
		{"a\nb\nc\n", 0, "", 0},
	} {
		if got, found := tail(c.data, c.n); got != c.want || found != c.found {
			t.Errorf("the last %d lines of %q are %q (%d lines), want %q (%d)", c.n, c.data, got, found, c.want, c.found)
		}
	}
}

// writeFile writes a file for a test, failing it on error.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// joinLines is lines as one string, one a line.
func joinLines(lines [][]byte) string {
	var b strings.Builder
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// --lines N takes what the current file lacks from the newest rotated
// file, and only from it; not when it is compressed; and it tells the
// rotated files of web-out.log from the logs of other apps.
func TestTailAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	cur := filepath.Join(dir, "web-out.log")
	writeFile(t, cur, "c1\nc2\n")
	writeFile(t, filepath.Join(dir, "web-out-2026-11-27T09-00-00.000.log"), "old1\nold2\n")
	writeFile(t, filepath.Join(dir, "web-out-2026-11-27T10-00-00.000.log"), "r1\nr2\nr3\n")
	// Not rotated files of web-out.log: another app's logs.
	writeFile(t, filepath.Join(dir, "web-out-out.log"), "other\n")
	writeFile(t, filepath.Join(dir, "web-out-2-out.log"), "other\n")
	src := newLogSource("web", "out", cur, "")
	tailOf := func(n int) string {
		t.Helper()
		lines, fh, _, err := tailLog(src, n, false)
		if err != nil {
			t.Fatal(err)
		}
		if fh != nil {
			t.Error("tailLog without keep left the file open")
		}
		return joinLines(lines)
	}
	for n, want := range map[int]string{
		0:   "",
		1:   "c2\n",
		2:   "c1\nc2\n",
		4:   "r2\nr3\nc1\nc2\n",
		100: "r1\nr2\nr3\nc1\nc2\n",
	} {
		if got := tailOf(n); got != want {
			t.Errorf("--lines %d: %q, want %q", n, got, want)
		}
	}

	// The current file gone (rotated, its successor not created yet): the
	// lines come from the newest rotated file, and only from it.
	if err := os.Rename(cur, filepath.Join(dir, "web-out-2026-11-27T11-00-00.000.log")); err != nil {
		t.Fatal(err)
	}
	if got := tailOf(3); got != "c1\nc2\n" {
		t.Errorf("--lines 3 with no current file: %q, want the lines of the newest rotated file", got)
	}

	// A newer compressed rotated file: nothing is taken from older ones.
	writeFile(t, cur, "n1\n")
	writeFile(t, filepath.Join(dir, "web-out-2026-11-27T12-00-00.000.log.gz"), "not gzip, not read")
	if got := tailOf(3); got != "n1\n" {
		t.Errorf("--lines 3 with the newest rotated file compressed: %q, want only the current file", got)
	}
}

// When following, the tail stops before a line still being written; the
// follow prints it whole once it is.
func TestTailKeepStopsAtLastNewline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a-out.log")
	writeFile(t, path, "one\ntwo\nunfini")
	lines, fh, off, err := tailLog(newLogSource("a", "out", path, ""), 5, true)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if got := joinLines(lines); got != "one\ntwo\n" || off != int64(len("one\ntwo\n")) {
		t.Errorf("tail %q up to %d, want the two complete lines up to %d", got, off, len("one\ntwo\n"))
	}
}

// Stored timestamps are read with the app's layout, in local time unless
// they name a zone; a line without one, or with only a time of day, has
// no known time and is its own message.
func TestParseStamp(t *testing.T) {
	layout := func(f string) string {
		t.Helper()
		l, err := api.DateLayout(f)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, c := range []struct {
		format, line string
		want         time.Time // zero: unknown
		msg          string
	}{
		{api.DefaultLogDateFormat, "2026-11-27T10:00:00: hello: world", time.Date(2026, 11, 27, 10, 0, 0, 0, time.Local), "hello: world"},
		{api.DefaultLogDateFormat, "2026-11-27T10:00:00: ", time.Date(2026, 11, 27, 10, 0, 0, 0, time.Local), ""},
		{api.DefaultLogDateFormat, "written before --time: hello", time.Time{}, "written before --time: hello"},
		{api.DefaultLogDateFormat, "2026-11-27T10:00:00 no separator", time.Time{}, "2026-11-27T10:00:00 no separator"},
		// The layout writes the separator itself.
		{"YYYY-MM-DD[: ]HH:mm:ss.SSS", "2026-11-27: 10:00:00.250: hi", time.Date(2026, 11, 27, 10, 0, 0, 250e6, time.Local), "hi"},
		{"YYYY-MM-DD HH:mm:ss Z", "2026-11-27 10:00:00 +05:30: zoned", time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC), "zoned"},
		// A time of day alone is no time.
		{"HH:mm:ss", "10:00:00: hello", time.Time{}, "10:00:00: hello"},
	} {
		src := newLogSource("a", "out", "/x", layout(c.format))
		got, msg, ok := src.parseStamp([]byte(c.line))
		if ok != !c.want.IsZero() || !got.Equal(c.want) || string(msg) != c.msg {
			t.Errorf("%s: %q read as time %v (%v) message %q; want %v message %q", c.format, c.line, got, ok, msg, c.want, c.msg)
		}
	}
	// Without timestamps, nothing is taken for one.
	src := newLogSource("a", "out", "/x", "")
	if _, msg, ok := src.parseStamp([]byte("2026-11-27T10:00:00: hello")); ok || string(msg) != "2026-11-27T10:00:00: hello" {
		t.Errorf("an app without timestamps: message %q", msg)
	}
}

// printed prints lines with opts and returns what went to standard
// output and standard error.
func printed(opts logOptions, do func(p *logPrinter)) (string, string) {
	var out, errw bytes.Buffer
	p := newLogPrinter(opts, &out, &errw)
	do(p)
	p.flush()
	return out.String(), errw.String()
}

// --json prints one object a line, out and err lines alike on standard
// output, with exactly the keys app, stream, time and message: time from
// the stored timestamp (RFC 3339 with milliseconds), or when a followed
// line was read, left out when unknown; the message without the stored
// timestamp.
func TestLogJSONLine(t *testing.T) {
	stamped := newLogSource("web\x1b", "err", "/x", "2006-01-02T15:04:05")
	plain := newLogSource("api", "out", "/y", "")
	read := time.Date(2026, 11, 27, 11, 0, 0, 123456789, time.Local)
	out, errOut := printed(logOptions{json: true}, func(p *logPrinter) {
		p.print(stamped, []byte("2026-11-27T10:00:00: hello \u202e"), time.Time{})
		p.print(plain, []byte("no time"), time.Time{})
		p.print(plain, []byte("followed"), read)
	})
	if errOut != "" {
		t.Errorf("--json wrote to standard error: %q", errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 JSON lines, got:\n%s", out)
	}
	want := []map[string]string{
		{"app": "web\x1b", "stream": "err", "time": time.Date(2026, 11, 27, 10, 0, 0, 0, time.Local).Format("2006-01-02T15:04:05.000Z07:00"), "message": "hello \u202e"},
		{"app": "api", "stream": "out", "message": "no time"},
		{"app": "api", "stream": "out", "time": read.Format("2006-01-02T15:04:05.000Z07:00"), "message": "followed"},
	}
	for i, l := range lines {
		var got map[string]string
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d is not a JSON object of strings: %v\n%s", i, err, l)
		}
		if !equalMaps(got, want[i]) {
			t.Errorf("line %d = %v, want %v", i, got, want[i])
		}
		if tm, ok := got["time"]; ok {
			if _, err := time.Parse(time.RFC3339, tm); err != nil || !strings.Contains(tm, ".") {
				t.Errorf("time %q is not RFC 3339 with fractional seconds", tm)
			}
		}
		if strings.ContainsAny(l, "\x1b\u202e") {
			t.Errorf("line %d carries an unprintable character raw: %q", i, l)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Lines start with their app's name; unprintable characters are escaped
// but tabs; --raw prints lines as stored; --timestamp puts each line's
// time in front instead of its stored timestamp, and nothing when it is
// unknown.
func TestLogLineText(t *testing.T) {
	stamped := newLogSource("web", "out", "/x", "2006-01-02T15:04:05")
	errs := newLogSource("web", "err", "/y", "")
	line := []byte("2026-11-27T10:00:00: a\tb\x1b[2Jc")
	out, errOut := printed(logOptions{}, func(p *logPrinter) {
		p.print(stamped, line, time.Time{})
		p.print(errs, []byte("oops"), time.Time{})
	})
	if want := "web | 2026-11-27T10:00:00: a\tb\\x1b[2Jc\n"; out != want {
		t.Errorf("default: %q, want %q", out, want)
	}
	if errOut != "web | oops\n" {
		t.Errorf("err line: %q on standard error, want %q", errOut, "web | oops\n")
	}
	if out, _ := printed(logOptions{raw: true}, func(p *logPrinter) { p.print(stamped, line, time.Time{}) }); out != string(line)+"\n" {
		t.Errorf("--raw: %q, want the line as stored", out)
	}
	read := time.Date(2026, 11, 27, 12, 30, 0, 0, time.Local)
	out, errOut = printed(logOptions{timestamp: true}, func(p *logPrinter) {
		p.print(stamped, []byte("2026-11-27T10:00:00: hello"), time.Time{})
		p.print(errs, []byte("unknown"), time.Time{})
		p.print(errs, []byte("followed"), read)
	})
	if want := "web | 2026-11-27T10:00:00 hello\n"; out != want {
		t.Errorf("--timestamp: %q, want %q", out, want)
	}
	if want := "web | unknown\nweb | 2026-11-27T12:30:00 followed\n"; errOut != want {
		t.Errorf("--timestamp: %q, want %q", errOut, want)
	}
}

// The tails of several logs are merged in time order when they carry
// timestamps, and come log after log when they do not.
func TestPrintTails(t *testing.T) {
	layout := "2006-01-02T15:04:05"
	a := newLogSource("a", "out", "/a", layout)
	b := newLogSource("b", "out", "/b", layout)
	lines := func(s ...string) [][]byte {
		var out [][]byte
		for _, l := range s {
			out = append(out, []byte(l))
		}
		return out
	}
	out, _ := printed(logOptions{raw: true}, func(p *logPrinter) {
		printTails(p, []tail{
			{a, lines("2026-01-01T10:00:01: a1", "a1 continued", "2026-01-01T10:00:03: a3")},
			{b, lines("2026-01-01T10:00:02: b2", "2026-01-01T10:00:03: b3")},
		})
	})
	want := "2026-01-01T10:00:01: a1\na1 continued\n2026-01-01T10:00:02: b2\n2026-01-01T10:00:03: a3\n2026-01-01T10:00:03: b3\n"
	if out != want {
		t.Errorf("merged:\n%s\nwant:\n%s", out, want)
	}
	c := newLogSource("c", "out", "/c", "")
	d := newLogSource("d", "out", "/d", "")
	out, _ = printed(logOptions{raw: true}, func(p *logPrinter) {
		printTails(p, []tail{{c, lines("c1", "c2")}, {d, lines("d1")}})
	})
	if out != "c1\nc2\nd1\n" {
		t.Errorf("without timestamps: %q, want log after log", out)
	}
}

// appendTo appends data to the open file f.
func appendTo(t *testing.T, f *os.File, data string) {
	t.Helper()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

// A followed log that is rotated (renamed away, a new file created at its
// path) is read to its end through the open descriptor, even what is
// written to it after the rename, and then the new file from its start;
// a flushed (truncated) log is read again from its start. Every line is
// printed once, in order.
func TestFollowAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web-out.log")
	old, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	appendTo(t, old, "1\n2\n")

	src := newLogSource("web", "out", path, "")
	lines, fh, off, err := tailLog(src, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	var out testkit.SyncBuffer
	p := newLogPrinter(logOptions{raw: true}, &out, &out)
	printTails(p, []tail{{src, lines}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- follow(ctx, p, []*followed{{src: src, fh: fh, off: off}}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("follow: %v", err)
		}
	}()

	printedUpTo := func(last string) []string {
		t.Helper()
		var got []string
		testkit.WaitFor(t, "line "+last+" to be printed", 10*time.Second, func() bool {
			got = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			return slices.Contains(got, last)
		})
		return got
	}
	printedUpTo("2")
	appendTo(t, old, "3\n4")
	appendTo(t, old, "\n")
	printedUpTo("4")

	// Rotation: written before the rename, after it through the old
	// descriptor, then into the new file.
	appendTo(t, old, "5\n")
	if err := os.Rename(path, filepath.Join(dir, "web-out-2026-11-27T10-00-00.000.log")); err != nil {
		t.Fatal(err)
	}
	appendTo(t, old, "6\n")
	cur, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	appendTo(t, cur, "7\n8\n")
	printedUpTo("8")

	// Flush: the file is emptied and written again from its start.
	if err := cur.Truncate(0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, cur, "9\n")
	got := printedUpTo("9")
	if want := []string{"2", "3", "4", "5", "6", "7", "8", "9"}; !slices.Equal(got, want) {
		t.Errorf("followed lines %q, want %q, each once", got, want)
	}
}
