package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LogSettings are an app's log settings, PM2's keys and meanings. Zero
// values mean the daemon's default (config.toml's log_max_size,
// log_max_files, log_compress; files under OPM_HOME/logs; no timestamps).
type LogSettings struct {
	// OutFile, ErrorFile and LogFile are where stdout, stderr and both
	// together (PM2's combined log) go; relative paths are from the app's
	// working directory, DevNull discards.
	OutFile   string `json:"out_file,omitempty"`
	ErrorFile string `json:"error_file,omitempty"`
	LogFile   string `json:"log_file,omitempty"`
	// Time prefixes each line with the time it was logged, in
	// LogDateFormat (PM2's format tokens; DefaultLogDateFormat when
	// empty). A LogDateFormat alone turns timestamps on, as in PM2.
	Time          bool   `json:"time,omitempty"`
	LogDateFormat string `json:"log_date_format,omitempty"`
	// MergeLogs gives every instance of the app the same files instead
	// of one per instance (PM2's merge_logs).
	MergeLogs bool `json:"merge_logs,omitempty"`
	// LogMaxSize is the size in bytes at which a log file is rotated;
	// LogMaxFiles how many rotated files are kept; LogCompress gzips
	// rotated files (nil: the config's choice).
	LogMaxSize  int64 `json:"log_max_size,omitempty"`
	LogMaxFiles int   `json:"log_max_files,omitempty"`
	LogCompress *bool `json:"log_compress,omitempty"`
}

// LogStats counts what became of an app's output.
type LogStats struct {
	// LinesLost counts lines that could not be written to their file
	// (disk full, file not writable) and were dropped.
	LinesLost int64 `json:"lines_lost,omitempty"`
	// LastError is the last write error, and LastErrorAt when it
	// happened.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Rotations counts the files rotated since the daemon started.
	Rotations int64 `json:"rotations,omitempty"`
}

// DevNull is the log path that discards.
const DevNull = "/dev/null"

// DefaultLogDateFormat is the timestamp PM2's --time writes.
const DefaultLogDateFormat = "YYYY-MM-DDTHH:mm:ss"

// Log limits: a rotated log is at least MinLogSize and at most
// MaxLogSize; at most MaxLogFiles rotated files are kept.
const (
	MinLogSize  = 1 << 10
	MaxLogSize  = 1 << 40
	MaxLogFiles = 10000
)

// ParseSize reads a size as PM2 writes them: a number of bytes with an
// optional unit K, M or G (powers of 1024; "KB", "MB", "GB" and lower
// case too): "500K", "10M", "1G", "4096".
func ParseSize(s string) (int64, error) { return parseSize(s, MaxLogSize) }

func parseSize(s string, limit int64) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "B")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > limit/mult {
		return 0, fmt.Errorf("invalid size %q: write a number of bytes with K, M or G, e.g. 500K, 10M, 1G", s)
	}
	return n * mult, nil
}

// FormatSize writes n bytes the way ParseSize reads them, with the
// largest unit that divides it.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// CheckLogSize refuses a rotation size out of range.
func CheckLogSize(n int64) error {
	if n < MinLogSize || n > MaxLogSize {
		return fmt.Errorf("must be between %s and %s, got %s", FormatSize(MinLogSize), FormatSize(MaxLogSize), FormatSize(n))
	}
	return nil
}

// CheckLogFiles refuses a count of rotated files out of range.
func CheckLogFiles(n int) error {
	if n < 1 || n > MaxLogFiles {
		return rangeError(strconv.Itoa(n), "1", strconv.Itoa(MaxLogFiles))
	}
	return nil
}

// Timestamped says whether lines get a timestamp.
func (l LogSettings) Timestamped() bool { return l.Time || l.LogDateFormat != "" }

// DateLayout is the Go time layout of the app's timestamps ("" when
// lines get none).
func (l LogSettings) DateLayout() string {
	if !l.Timestamped() {
		return ""
	}
	f := l.LogDateFormat
	if f == "" {
		f = DefaultLogDateFormat
	}
	layout, err := DateLayout(f)
	if err != nil {
		return "" // refused at start: CheckLogSettings
	}
	return layout
}

// TimestampSep ends a line's timestamp, as PM2 writes it.
const TimestampSep = ": "

// CheckLogSettings reports what is wrong with an app's log settings, the
// key first.
func CheckLogSettings(l LogSettings) error {
	if l.LogDateFormat != "" {
		if _, err := DateLayout(l.LogDateFormat); err != nil {
			return fmt.Errorf("log_date_format: %w", err)
		}
	}
	if l.LogMaxSize != 0 {
		if err := CheckLogSize(l.LogMaxSize); err != nil {
			return fmt.Errorf("log_max_size %w", err)
		}
	}
	if l.LogMaxFiles != 0 {
		if err := CheckLogFiles(l.LogMaxFiles); err != nil {
			return fmt.Errorf("log_max_files %w", err)
		}
	}
	for _, p := range []struct{ key, path string }{
		{"out_file", l.OutFile}, {"error_file", l.ErrorFile}, {"log_file", l.LogFile},
	} {
		if strings.ContainsRune(p.path, 0) {
			return fmt.Errorf("%s: a path cannot hold a NUL byte", p.key)
		}
	}
	return nil
}

// dateTokens maps PM2's (moment.js) date tokens to Go layout elements,
// longest first so that "YYYY" wins over "YY".
var dateTokens = []struct{ pm2, goLayout string }{
	{"YYYY", "2006"}, {"YY", "06"},
	{"MMMM", "January"}, {"MMM", "Jan"}, {"MM", "01"}, {"M", "1"},
	{"DD", "02"}, {"D", "2"},
	{"dddd", "Monday"}, {"ddd", "Mon"},
	{"HH", "15"},
	{"hh", "03"}, {"h", "3"},
	{"mm", "04"}, {"m", "4"},
	{"ss", "05"}, {"s", "5"},
	{"SSS", "000"}, {"SS", "00"}, {"S", "0"},
	{"A", "PM"}, {"a", "pm"},
	{"ZZ", "-0700"}, {"Z", "-07:00"},
}

// DateLayout maps a PM2 log_date_format ("YYYY-MM-DD HH:mm:ss Z") to a Go
// time layout. Text in [brackets] is literal, as in moment.js. A token Go
// cannot write (H, unpadded hours; X, epoch seconds; ...) or literal text
// Go would read as part of a date (digits, "Jan", "PM") is an error that
// says what to use instead.
func DateLayout(f string) (string, error) {
	if f == "" {
		return "", fmt.Errorf("empty date format: use e.g. %s", DefaultLogDateFormat)
	}
	var b strings.Builder
	var literal strings.Builder
	flush := func() error {
		lit := literal.String()
		literal.Reset()
		if lit == "" {
			return nil
		}
		// Go layouts have no escape: literal text must format as itself.
		t1 := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
		t2 := time.Date(2012, 11, 22, 17, 18, 19, 20, time.FixedZone("X", 3600))
		if t1.Format(lit) != lit || t2.Format(lit) != lit {
			return fmt.Errorf("date format %q: the text %q cannot be written literally (digits and words like Jan, Mon, PM, MST are read as dates)", f, lit)
		}
		b.WriteString(lit)
		return nil
	}
	for i := 0; i < len(f); {
		if f[i] == '[' {
			end := strings.IndexByte(f[i:], ']')
			if end < 0 {
				return "", fmt.Errorf("date format %q: [ without ]", f)
			}
			literal.WriteString(f[i+1 : i+end])
			i += end + 1
			continue
		}
		matched := false
		for _, t := range dateTokens {
			if !strings.HasPrefix(f[i:], t.pm2) {
				continue
			}
			if err := flush(); err != nil {
				return "", err
			}
			g := t.goLayout
			if strings.HasPrefix(t.pm2, "S") {
				// Go writes fractions only right after seconds and a dot.
				out := b.String()
				if !strings.HasSuffix(out, "05.") && !strings.HasSuffix(out, "05,") {
					return "", fmt.Errorf("date format %q: fractions of a second (%s) must follow seconds and a dot, as in ss.SSS", f, t.pm2)
				}
			}
			b.WriteString(g)
			i += len(t.pm2)
			matched = true
			break
		}
		if matched {
			continue
		}
		c := f[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			if c != 'T' {
				return "", fmt.Errorf("date format %q: %q is not a date token opm can write (use YYYY MM DD HH hh mm ss SSS A Z, [text] for text)", f, string(c))
			}
		}
		literal.WriteByte(c)
		i++
	}
	if err := flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}
