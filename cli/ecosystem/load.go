package ecosystem

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"opm/daemon/api"
)

// Formats, in File.Format and for Export.
const (
	FormatJS   = "js"
	FormatJSON = "json"
	FormatYAML = "yaml"
	FormatTOML = "toml"
)

// maxFileBytes caps an ecosystem file (and node's answer for one).
const maxFileBytes = 16 << 20

// Options say how to read an ecosystem file.
type Options struct {
	// Env is --env NAME: each app's env_NAME applies over its env.
	Env string
	// Only is --only a,b: these apps only, in file order; a name the
	// file does not define is an error. The other apps are checked all
	// the same: a file with a broken app is not used.
	Only []string
	// Environ is the caller's environment ("K=V"), os.Environ() if nil:
	// each app's environment is Environ, then its env, then its
	// env_NAME, later values winning. A JavaScript file is evaluated
	// with it too.
	Environ []string
	// NodeTimeout bounds the evaluation of a JavaScript file
	// (DefaultNodeTimeout if zero).
	NodeTimeout time.Duration
}

// File is an ecosystem file, read.
type File struct {
	// Path is the file as the caller named it.
	Path string
	// Format is FormatJS, FormatJSON, FormatYAML or FormatTOML.
	Format string
	// Apps are the file's apps (those of Options.Only), in file order.
	Apps []App
	// Warnings are what the user should know but that does not stop
	// the file: unknown keys, keys opm keeps but does not act on yet,
	// PM2 defaults applied. One per key per file, naming the apps.
	Warnings []string
}

// App is one app of an ecosystem file.
type App struct {
	Name string
	// Request starts the app as the file defines it. Its Cwd and Dir are
	// absolute; Update and Stopped are the caller's to set.
	Request api.StartRequest
	// Env is the file's own variables for the app: its env, then the
	// env_NAME of Options.Env. Request.Env is them over the caller's
	// environment; an app that exists already takes them over its saved
	// one.
	Env []string
	// Line is where the app is defined in the file, 0 if unknown.
	Line int
	// Stopped is set for an app of a PM2 dump (LoadPM2Dump) that PM2
	// had stopped: it is to be registered, not started.
	Stopped bool
}

// IsFile reports whether path names an ecosystem file by its name:
// *.config.js, *.config.cjs, *.config.mjs, *.json, *.yaml, *.yml or
// *.toml. Such a file is a configuration, never an app to run.
func IsFile(path string) bool {
	return formatOf(path) != ""
}

// formatOf is the format a file's name says, "" for none.
func formatOf(path string) string {
	name := strings.ToLower(filepath.Base(path))
	for _, ext := range []string{".config.js", ".config.cjs", ".config.mjs"} {
		if strings.HasSuffix(name, ext) && len(name) > len(ext) {
			return FormatJS
		}
	}
	switch filepath.Ext(name) {
	case ".json":
		return FormatJSON
	case ".yaml", ".yml":
		return FormatYAML
	case ".toml":
		return FormatTOML
	}
	return ""
}

// Load reads the ecosystem file at path into start requests, one per app.
// A file that cannot be used (missing, unreadable, not parseable, a value
// of the wrong type, two apps of one name, an unknown --only name) is an
// *Error, and no app is returned.
func Load(path string, o Options) (*File, error) {
	l := &loader{file: path, o: o, format: formatOf(path)}
	if l.format == "" {
		return nil, l.fail(0, "not an ecosystem file: its name must end in .config.js, .config.cjs, .config.mjs, .json, .yaml, .yml or .toml", nil)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, l.fail(0, "cannot find its directory", err)
	}
	l.dir = filepath.Dir(abs)
	var root *node
	if l.format == FormatJS {
		root, err = l.evalJS(abs)
	} else {
		var data []byte
		if data, err = l.read(); err == nil {
			root, err = l.parse(data)
		}
	}
	if err != nil {
		return nil, err
	}
	return l.load(root)
}

// load reads the apps of a parsed file.
func (l *loader) load(root *node) (*File, error) {
	apps, err := l.apps(root)
	if err != nil {
		return nil, err
	}
	apps, err = l.only(apps)
	if err != nil {
		return nil, err
	}
	f := &File{Path: l.file, Format: l.format, Warnings: l.warnings(apps)}
	for _, a := range apps {
		f.Apps = append(f.Apps, a.App)
	}
	return f, nil
}

// loader reads one file.
type loader struct {
	file   string // as the caller named it
	format string
	dir    string // the file's directory, absolute
	o      Options
	// fileNotes are warnings about the file as a whole.
	fileNotes []note
}

// fail is an *Error about the file, at line.
func (l *loader) fail(line int, msg string, err error) *Error {
	return &Error{File: l.file, Line: line, Msg: msg, Err: err}
}

// pm2 reports whether the file is in one of PM2's formats, whose apps
// get PM2's defaults.
func (l *loader) pm2() bool { return l.format != FormatTOML }

// environ is the caller's environment.
func (l *loader) environ() []string {
	if l.o.Environ != nil {
		return l.o.Environ
	}
	return os.Environ()
}

// parse parses a JSON, YAML or TOML file.
func (l *loader) parse(data []byte) (*node, error) {
	var root *node
	var err error
	switch l.format {
	case FormatJSON:
		root, err = parseJSON(data, true)
	case FormatYAML:
		root, err = parseYAML(data)
	case FormatTOML:
		root, err = parseTOML(data)
	}
	var pe *posError
	if errors.As(err, &pe) {
		msg := pe.msg
		if l.format == FormatJSON && looksLikeJS(data, msg) {
			msg += " (PM2 reads .json files as JavaScript; opm reads them as JSON: remove comments and trailing commas, or rename the file to .config.js)"
		}
		return nil, l.fail(pe.line, msg, pe.err)
	}
	return root, err
}

// looksLikeJS reports whether a JSON file that does not parse looks
// written for PM2, which reads .json files as JavaScript: it has comment
// lines, or the parser stopped at a trailing comma.
func looksLikeJS(data []byte, msg string) bool {
	if strings.Contains(msg, "invalid character ']'") || strings.Contains(msg, "invalid character '}'") {
		return true
	}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "//") || strings.HasPrefix(line, "/*") {
			return true
		}
	}
	return false
}

// read reads the file, refusing what is no regular file or too large.
func (l *loader) read() ([]byte, error) {
	f, err := os.Open(l.file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, l.fail(0, fmt.Sprintf("cannot read it: %v (check the path)", err), err)
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, l.fail(0, "cannot read it", err)
	case st.IsDir():
		return nil, l.fail(0, "is a directory, not an ecosystem file", nil)
	case !st.Mode().IsRegular():
		return nil, l.fail(0, "is not a regular file", nil)
	case st.Size() > maxFileBytes:
		return nil, l.fail(0, fmt.Sprintf("is %d bytes, more than the %d an ecosystem file may hold", st.Size(), maxFileBytes), nil)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, l.fail(0, "cannot read it", err)
	}
	if len(data) > maxFileBytes {
		return nil, l.fail(0, fmt.Sprintf("holds more than the %d bytes an ecosystem file may hold", maxFileBytes), nil)
	}
	return data, nil
}

// apps reads the file's apps: PM2's {apps: [...]}, a bare list of apps,
// or (as PM2 allows) one app's map.
func (l *loader) apps(root *node) ([]*decoded, error) {
	list := root
	switch root.kind {
	case kindList:
	case kindMap:
		if !root.has("apps") && root.has("script") {
			list = &node{kind: kindList, items: []*node{root}} // one app, as PM2 allows
			break
		}
		var apps *field
		for i := range root.fields {
			f := &root.fields[i]
			switch f.key {
			case "apps":
				apps = f
			case "deploy":
				l.fileNotes = append(l.fileNotes, note{kind: noteDeploy, key: f.key, line: f.line})
			default:
				l.fileNotes = append(l.fileNotes, note{kind: noteUnknownTop, key: f.key, line: f.line})
			}
		}
		switch {
		case apps != nil && apps.val.kind == kindList:
			list = apps.val
		case apps != nil:
			return nil, &Error{File: l.file, Line: apps.line, Key: "apps", Msg: "want a list of apps, got " + apps.val.describe()}
		default:
			return nil, l.fail(root.line, "no apps: "+l.appsHint(), nil)
		}
	default:
		return nil, l.fail(root.line, "want a map with an apps list, got "+root.describe()+": "+l.appsHint(), nil)
	}
	if len(list.items) == 0 {
		return nil, l.fail(list.line, "the apps list is empty: "+l.appsHint(), nil)
	}
	var apps []*decoded
	byName := map[string]*decoded{}
	for i, n := range list.items {
		a, err := l.decode(i+1, n)
		if err != nil {
			return nil, err
		}
		if first, dup := byName[a.Name]; dup {
			return nil, &Error{File: l.file, Line: a.Line, App: a.Name, Msg: "defined twice, " + twice(first, a) + "; give each app its own name"}
		}
		byName[a.Name] = a
		apps = append(apps, a)
	}
	return apps, nil
}

// twice says where the two apps of one name are.
func twice(a, b *decoded) string {
	if a.Line > 0 && b.Line > 0 {
		return fmt.Sprintf("on lines %d and %d", a.Line, b.Line)
	}
	return fmt.Sprintf("as apps #%d and #%d", a.index, b.index)
}

// appsHint says how a file lists its apps, in its format.
func (l *loader) appsHint() string {
	switch l.format {
	case FormatTOML:
		return "write each app as an [[apps]] table with at least a script"
	case FormatYAML:
		return "write apps: followed by a list of apps, each with at least a script"
	case FormatJS:
		return "export { apps: [...] }, each app with at least a script"
	}
	return `write {"apps": [...]}, each app with at least a script`
}

// has reports whether a map has key.
func (n *node) has(key string) bool {
	for _, f := range n.fields {
		if f.key == key {
			return true
		}
	}
	return false
}

// only keeps the apps Options.Only names, in file order.
func (l *loader) only(apps []*decoded) ([]*decoded, error) {
	if len(l.o.Only) == 0 {
		return apps, nil
	}
	want := map[string]bool{}
	for _, name := range l.o.Only {
		if name = strings.TrimSpace(name); name != "" {
			want[name] = true
		}
	}
	if len(want) == 0 {
		return apps, nil
	}
	var kept []*decoded
	var names []string
	for _, a := range apps {
		names = append(names, fmt.Sprintf("%q", a.Name))
		if want[a.Name] {
			kept = append(kept, a)
			delete(want, a.Name)
		}
	}
	for _, name := range l.o.Only {
		if want[strings.TrimSpace(name)] {
			return nil, &Error{File: l.file, App: strings.TrimSpace(name), Msg: "not in the file (--only); it defines " + strings.Join(names, ", ")}
		}
	}
	return kept, nil
}
