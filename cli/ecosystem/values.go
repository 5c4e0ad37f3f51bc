package ecosystem

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-shellwords"

	"opm/daemon/api"
)

// The readers of an app's values: each takes what PM2 takes for its key
// and names the type it wants when the value is not one.

// text is a string value.
func (a *appReader) text(f field) (string, bool) {
	if f.val.kind != kindString {
		return "", false
	}
	return f.val.text, true
}

// boolean is true or false.
func (a *appReader) boolean(f field) (bool, error) {
	if f.val.kind != kindBool {
		return false, a.wrong(f, "true or false")
	}
	return f.val.text == "true", nil
}

// words reads arguments: a string split into words as a shell splits
// them (quotes and backslashes, no expansion of variables or commands),
// or a list whose strings, numbers and booleans are one word each.
func (a *appReader) words(f field) ([]string, error) {
	const want = "arguments (a string, or a list of strings)"
	switch f.val.kind {
	case kindString:
		p := shellwords.NewParser()
		words, err := p.Parse(f.val.text)
		if err != nil {
			return nil, a.fault(f, fmt.Sprintf("cannot split %s into words (a quote left open, or a bare '(' or ')'); fix the quoting, or write the arguments as a list", f.val.describe()))
		}
		if p.Position >= 0 {
			op := string([]rune(f.val.text)[p.Position])
			return nil, a.fault(f, fmt.Sprintf("%s holds %q, which only a shell understands; quote it, or write the arguments as a list", f.val.describe(), op))
		}
		if len(words) == 0 {
			return nil, nil
		}
		return words, nil
	case kindNumber, kindBool:
		return []string{f.val.text}, nil
	case kindList:
		words := make([]string, 0, len(f.val.items))
		for _, it := range f.val.items {
			w, ok := it.scalarText()
			if !ok {
				return nil, a.fault(f, fmt.Sprintf("want %s, got %s in the list", want, it.describe()))
			}
			words = append(words, w)
		}
		if len(words) == 0 {
			return nil, nil
		}
		return words, nil
	}
	return nil, a.wrong(f, want)
}

// wholeNumber reads a whole number written as one (5, 5.0, 5e3).
func wholeNumber(text string) (int64, bool) {
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n, true
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || v != math.Trunc(v) || math.Abs(v) > 1<<53 {
		return 0, false
	}
	return int64(v), true
}

// whole is a whole number, or a string holding one (as a JavaScript file
// passes what it reads from process.env).
func (a *appReader) whole(f field) (int64, error) {
	if f.val.kind == kindNumber || f.val.kind == kindString {
		if n, ok := wholeNumber(strings.TrimSpace(f.val.text)); ok {
			return n, nil
		}
	}
	return 0, a.wrong(f, "a whole number")
}

// millis is a duration in milliseconds: a number, as PM2 takes it, or a
// string, either a number or a duration with its unit ("10s", "2m",
// "1h30m", "500ms").
func (a *appReader) millis(f field) (int64, error) {
	const want = `milliseconds (a whole number) or a duration such as "10s"`
	var ms int64
	switch f.val.kind {
	case kindNumber, kindString:
		text := strings.TrimSpace(f.val.text)
		if n, ok := wholeNumber(text); ok {
			ms = n
			break
		}
		d, err := time.ParseDuration(text)
		if f.val.kind != kindString || err != nil {
			return 0, a.wrong(f, want)
		}
		if d%time.Millisecond != 0 {
			return 0, a.fault(f, fmt.Sprintf("want whole milliseconds, got %s", f.val.describe()))
		}
		ms = d.Milliseconds()
	default:
		return 0, a.wrong(f, want)
	}
	if ms < 0 {
		return 0, a.fault(f, fmt.Sprintf("cannot be negative, got %s", f.val.describe()))
	}
	return ms, nil
}

// setting is one of the per-app durations in milliseconds; zero is the
// daemon's default.
func (a *appReader) setting(f field) (int64, error) {
	ms, err := a.millis(f)
	if err != nil || ms == 0 {
		return 0, err
	}
	if err := api.CheckSettingMs(ms); err != nil {
		return 0, a.fault(f, err.Error())
	}
	return ms, nil
}

// signal is a signal's name or number, in its canonical spelling.
func (a *appReader) signal(f field) (string, error) {
	if f.val.kind != kindString && f.val.kind != kindNumber {
		return "", a.wrong(f, `a signal (a name such as "SIGINT", or its number)`)
	}
	sig, err := api.ParseSignal(f.val.text)
	if err != nil {
		return "", a.fault(f, err.Error())
	}
	return api.SignalString(sig), nil
}

// exitCodes is an exit code or a list of them.
func (a *appReader) exitCodes(f field) ([]int, error) {
	const want = "an exit code (0 to 255) or a list of them"
	items := []*node{f.val}
	if f.val.kind == kindList {
		items = f.val.items
	}
	codes := make([]int, 0, len(items))
	for _, it := range items {
		var n int64
		ok := it.kind == kindNumber || it.kind == kindString
		if ok {
			n, ok = wholeNumber(strings.TrimSpace(it.text))
		}
		switch {
		case !ok && f.val.kind == kindList:
			return nil, a.fault(f, fmt.Sprintf("want %s, got %s in the list", want, it.describe()))
		case !ok:
			return nil, a.wrong(f, want)
		}
		if err := api.CheckExitCode(int(n)); err != nil {
			return nil, a.fault(f, "an exit code "+err.Error())
		}
		codes = append(codes, int(n))
	}
	if len(codes) == 0 {
		return nil, nil
	}
	return codes, nil
}

// env reads a map of environment variables into "K=V" entries, in file
// order. Values may be strings, numbers or booleans (PM2 passes them as
// written); null is the empty string.
func (a *appReader) env(f field) ([]string, error) {
	if f.val.kind != kindMap {
		return nil, a.wrong(f, "a map of variables (NAME: value)")
	}
	vars := make([]string, 0, len(f.val.fields))
	for _, v := range f.val.fields {
		sub := field{key: f.key + "." + v.key, line: v.line, val: v.val}
		switch {
		case v.key == "":
			return nil, a.fault(sub, "a variable needs a name")
		case strings.ContainsAny(v.key, "=\x00"):
			return nil, a.fault(sub, "a variable's name cannot hold '=' or a NUL byte")
		}
		value, ok := v.val.scalarText()
		switch {
		case v.val.kind == kindNull:
			value = ""
		case !ok:
			return nil, a.wrong(sub, "a string, number or boolean")
		case strings.ContainsRune(value, 0):
			return nil, a.fault(sub, "a value cannot hold a NUL byte")
		}
		vars = append(vars, v.key+"="+value)
	}
	return vars, nil
}

// logSetting reads one of PM2's log keys into l. Paths stay as written:
// a relative one is from the app's working directory.
func (a *appReader) logSetting(f field, l *api.LogSettings) error {
	var err error
	switch f.key {
	case "out_file", "error_file", "log_file":
		p, ok := a.text(f)
		if !ok || p == "" {
			return a.wrong(f, "a file path (a string; /dev/null discards)")
		}
		switch f.key {
		case "out_file":
			l.OutFile = p
		case "error_file":
			l.ErrorFile = p
		default:
			l.LogFile = p
		}
	case "time":
		l.Time, err = a.boolean(f)
	case "merge_logs", "combine_logs":
		l.MergeLogs, err = a.boolean(f)
	case "log_date_format":
		s, ok := a.text(f)
		if !ok {
			return a.wrong(f, "a date format (a string such as YYYY-MM-DD HH:mm:ss)")
		}
		if _, derr := api.DateLayout(s); derr != nil {
			return a.fault(f, derr.Error())
		}
		l.LogDateFormat = s
	case "log_max_size":
		var n int64
		if s, ok := a.text(f); ok {
			n, err = api.ParseSize(s)
			if err != nil {
				return a.fault(f, err.Error())
			}
		} else if n, err = a.whole(f); err != nil {
			return a.wrong(f, "a size (500K, 10M, 1G, or a number of bytes)")
		}
		if cerr := api.CheckLogSize(n); cerr != nil {
			return a.fault(f, cerr.Error())
		}
		l.LogMaxSize = n
	case "log_max_files":
		var n int64
		if n, err = a.whole(f); err == nil {
			if n < 1 || n > api.MaxLogFiles {
				return a.fault(f, fmt.Sprintf("must be between 1 and %d, got %d", api.MaxLogFiles, n))
			}
			l.LogMaxFiles = int(n)
		}
	case "log_compress":
		var b bool
		if b, err = a.boolean(f); err == nil {
			l.LogCompress = &b
		}
	}
	return err
}

// watchSetting reads PM2's watch keys and max_memory_restart into s.
func (a *appReader) watchSetting(f field, s *api.Settings) error {
	var err error
	switch f.key {
	case "watch":
		// true, false, or the paths to watch.
		if f.val.kind == kindBool {
			s.Watch, err = a.boolean(f)
			return err
		}
		var paths []string
		if paths, err = a.words(f); err != nil {
			return a.wrong(f, "true, false, or the paths to watch (a string or a list)")
		}
		s.Watch, s.WatchPaths = len(paths) > 0, paths
	case "ignore_watch":
		if f.val.kind == kindString {
			s.IgnoreWatch = strings.Fields(f.val.text)
			return nil
		}
		if s.IgnoreWatch, err = a.words(f); err != nil {
			return a.wrong(f, "glob patterns (a string or a list)")
		}
	case "watch_delay":
		s.WatchDelayMs, err = a.setting(f)
	case "max_memory_restart":
		var n int64
		if text, ok := a.text(f); ok {
			if n, err = api.ParseMemory(text); err != nil {
				return a.fault(f, err.Error())
			}
		} else if n, err = a.whole(f); err != nil {
			return a.wrong(f, `a size ("200M", "1G", or a number of bytes)`)
		} else if cerr := api.CheckMemoryLimit(n); cerr != nil {
			return a.fault(f, cerr.Error())
		}
		s.MaxMemoryRestart = n
	}
	return err
}

// instances is PM2's instances: a number of processes, "max" (or 0) for
// one per CPU, -1 for one less than the CPUs; a string holding a number
// too (as a JavaScript file passes what it reads from process.env).
func (a *appReader) instances(f field) (int, error) {
	const want = `a number of processes, or "max" for one per CPU`
	if f.val.kind != kindNumber && f.val.kind != kindString {
		return 0, a.wrong(f, want)
	}
	text := strings.ToLower(strings.TrimSpace(f.val.text))
	if text != "max" {
		n, ok := wholeNumber(text)
		if !ok || strings.HasPrefix(text, "+") {
			return 0, a.wrong(f, want)
		}
		if n < -1 || n > api.MaxInstances {
			return 0, a.fault(f, fmt.Sprintf("want 1 to %d processes, \"max\" (or 0) for one per CPU, or -1 for one less than the CPUs; got %s", api.MaxInstances, f.val.describe()))
		}
		text = strconv.FormatInt(n, 10)
	}
	n, err := api.ParseInstances(text, 0)
	if err != nil {
		return 0, a.fault(f, err.Error())
	}
	return n, nil
}

// envName is the name of an environment variable (increment_var,
// instance_var).
func (a *appReader) envName(f field) (string, error) {
	s, ok := a.text(f)
	if !ok {
		return "", a.wrong(f, `the name of an environment variable (a string such as "PORT")`)
	}
	if api.CheckEnvName(f.key, s) != nil {
		return "", a.fault(f, fmt.Sprintf("%s is not the name of an environment variable (no '=', no NUL byte, no spaces around it)", f.val.describe()))
	}
	return s, nil
}

// keep checks the value of one of pendingKeys and keeps it in
// Settings.Pending as the file wrote it.
func (a *appReader) keep(f field) error {
	switch f.key {
	case "exec_mode":
		// opm runs each instance as a process of its own, which is
		// PM2's fork mode. "cluster" is not refused (a PM2 file is
		// read as it is) but noted: instances then do not share their
		// port through Node's cluster module.
		const want = `"fork" or "cluster"`
		mode, ok := a.text(f)
		if !ok {
			return a.wrong(f, want)
		}
		switch strings.TrimSuffix(mode, "_mode") {
		case "fork":
		case "cluster":
			a.d.notes = append(a.d.notes, note{kind: noteCluster, key: f.key, line: f.line})
		default:
			return a.wrong(f, want)
		}
	}
	req := &a.d.Request
	if req.Pending == nil {
		req.Pending = map[string]json.RawMessage{}
	}
	req.Pending[f.key] = f.val.json()
	return nil
}
