package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"time"

	"opm/daemon/api"
)

// logSource is one log file of one app that `opm logs` prints.
type logSource struct {
	app string // the app's name, as stored
	// label is what a printed line starts with: the app's name, or for
	// the files of one instance of several, its label ("web:1"); and
	// instance is then its instance id.
	label    string
	instance *int
	stream   string // "out" or "err"
	path     string
	// layout is the Go layout of the timestamp each stored line starts
	// with ("" when the app logs without timestamps).
	layout string
	// dated says whether layout holds a whole date: only then is a
	// stored timestamp a time (a time of day alone is not).
	dated bool
}

// newLogSource describes the log at path of an app whose lines carry
// timestamps in layout ("" for none).
func newLogSource(app, stream, path, layout string) *logSource {
	return &logSource{app: app, label: app, stream: stream, path: path, layout: layout, dated: layoutHasDate(layout)}
}

// layoutHasDate reports whether the Go layout writes the year, month and
// day, so that a time parsed with it is a moment and not a time of day.
// The dates compared fall on the same weekday, so that a weekday alone
// does not count as a date.
func layoutHasDate(layout string) bool {
	if layout == "" {
		return false
	}
	base := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC) // a Saturday
	for _, other := range []time.Time{
		time.Date(2007, 2, 3, 4, 5, 6, 0, time.UTC),  // another year, a Saturday
		time.Date(2001, 3, 3, 4, 5, 6, 0, time.UTC),  // another month, a Saturday
		time.Date(2001, 2, 10, 4, 5, 6, 0, time.UTC), // another day, a Saturday
	} {
		if base.Format(layout) == other.Format(layout) {
			return false
		}
	}
	return true
}

// maxStampLen bounds how far into a line its stored timestamp may end.
const maxStampLen = 128

// parseStamp splits a stored line into the time its stored timestamp
// says, in local time unless the timestamp has a zone, and the message
// after it. A line that does not start with a timestamp in the source's
// layout (written before timestamps were turned on, or a layout without
// a date) has no known time and is its own message.
func (s *logSource) parseStamp(line []byte) (time.Time, []byte, bool) {
	if !s.dated {
		return time.Time{}, line, false
	}
	head := line[:min(len(line), maxStampLen+len(api.TimestampSep))]
	// The layout may write ": " itself: try each separator in turn.
	for from := 0; ; {
		i := bytes.Index(head[from:], []byte(api.TimestampSep))
		if i < 0 {
			return time.Time{}, line, false
		}
		end := from + i
		if t, err := time.ParseInLocation(s.layout, string(line[:end]), time.Local); err == nil {
			return t, line[end+len(api.TimestampSep):], true
		}
		from = end + 1
	}
}

// logOptions are the flags that shape each printed line.
type logOptions struct {
	raw       bool // lines exactly as stored, no prefix
	json      bool // one JSON object a line
	timestamp bool // each line's time in front
}

// logPrinter prints lines of logs: out lines on out, err lines on errw
// (JSON all on out), buffered until flush.
type logPrinter struct {
	opts      logOptions
	out, errw *bufio.Writer
	err       error // the first write error
}

func newLogPrinter(opts logOptions, out, errw io.Writer) *logPrinter {
	return &logPrinter{opts: opts, out: bufio.NewWriterSize(out, 32<<10), errw: bufio.NewWriterSize(errw, 32<<10)}
}

// jsonLogLine is the shape of one line with --json.
type jsonLogLine struct {
	App      string `json:"app"`
	Instance *int   `json:"instance,omitempty"`
	Stream   string `json:"stream"`
	Time     string `json:"time,omitempty"`
	Message  string `json:"message"`
}

// jsonTimeLayout is RFC 3339 with milliseconds, always written.
const jsonTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// timestampLayout is the time --timestamp writes in front of a line.
const timestampLayout = "2006-01-02T15:04:05"

// lineTime is the time of a stored line: its stored timestamp when it
// has one, else read, the time opm read it when following (zero when
// unknown); and the line's message without the stored timestamp.
func (s *logSource) lineTime(line []byte, read time.Time) (time.Time, []byte) {
	t, msg, ok := s.parseStamp(line)
	if !ok {
		return read, line
	}
	return t, msg
}

// print prints one stored line (without its newline) of src. read is
// when opm read it, zero for lines of the tail.
func (p *logPrinter) print(src *logSource, line []byte, read time.Time) {
	w := p.out
	if src.stream == "err" && !p.opts.json {
		w = p.errw
	}
	switch {
	case p.opts.raw:
		w.Write(line)
		w.WriteByte('\n')
	case p.opts.json:
		t, msg := src.lineTime(line, read)
		rec := jsonLogLine{App: src.app, Instance: src.instance, Stream: src.stream, Message: string(msg)}
		if !t.IsZero() {
			rec.Time = t.Format(jsonTimeLayout)
		}
		data, err := json.Marshal(rec)
		if err != nil { // cannot happen: strings only
			p.setErr(err)
			return
		}
		w.Write(escapeJSON(data))
		w.WriteByte('\n')
	default:
		w.WriteString(Escape(src.label))
		w.WriteString(" | ")
		msg := line
		if p.opts.timestamp {
			var t time.Time
			t, msg = src.lineTime(line, read)
			if !t.IsZero() {
				w.WriteString(t.Format(timestampLayout))
				w.WriteByte(' ')
			}
		}
		w.WriteString(escapeLogText(string(msg)))
		w.WriteByte('\n')
	}
}

func (p *logPrinter) setErr(err error) {
	if p.err == nil {
		p.err = err
	}
}

// flush writes out what is buffered and returns the first error.
func (p *logPrinter) flush() error {
	if err := p.out.Flush(); err != nil {
		p.setErr(err)
	}
	if err := p.errw.Flush(); err != nil {
		p.setErr(err)
	}
	return p.err
}

// escapeLogText is Escape for the text of a log line, but for tabs: they
// cannot move to another line or act on the terminal, and stack traces
// and tables are indented with them.
func escapeLogText(s string) string {
	if !strings.Contains(s, "\t") {
		return Escape(s)
	}
	parts := strings.Split(s, "\t")
	for i, p := range parts {
		parts[i] = Escape(p)
	}
	return strings.Join(parts, "\t")
}
