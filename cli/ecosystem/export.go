package ecosystem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"

	"opm/daemon/api"
)

// Export writes apps (as the daemon reports them: a row per instance, of
// which one app is written, with its instances) as an ecosystem file in
// format (FormatYAML, FormatJSON or FormatTOML) that Load reads back to
// the same apps: the same program and arguments once the daemon resolves
// them from any directory, working directory, environment (the app's
// whole environment, so that the caller's, which Load puts under it,
// changes nothing the app had), restart policy, limits and settings, and
// the PM2 keys opm keeps, under their names. The kill signal is always
// written, so that a PM2 format does not default it to SIGINT. The output
// is the same for the same apps (keys in a fixed order, variables
// sorted).
func Export(apps []api.App, format string) ([]byte, error) {
	switch {
	case format != FormatYAML && format != FormatJSON && format != FormatTOML:
		return nil, fmt.Errorf("export: unknown format %q (use %s, %s or %s)", format, FormatYAML, FormatJSON, FormatTOML)
	case len(apps) == 0:
		return nil, errors.New("export: no apps to write (an ecosystem file needs at least one)")
	}
	doc := make([]any, 0, len(apps))
	for _, a := range ByApp(apps) {
		fields, err := exportFields(a.Spec, format)
		if err != nil {
			return nil, fmt.Errorf("export app %q: %w", a.Spec.Name, err)
		}
		doc = append(doc, record(fields))
	}
	root := record([]kv{{"apps", doc}})
	switch format {
	case FormatYAML:
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(root); err != nil {
			return nil, fmt.Errorf("encode YAML: %w", err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("encode YAML: %w", err)
		}
		return b.Bytes(), nil
	case FormatJSON:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(root); err != nil {
			return nil, fmt.Errorf("encode JSON: %w", err)
		}
		return b.Bytes(), nil
	case FormatTOML:
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(root); err != nil {
			return nil, fmt.Errorf("encode TOML: %w", err)
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("export: unknown format %q", format)
}

// ByApp is one row per app of apps, as the daemon lists them (a row per
// instance): the row of each app's lowest instance, whose definition is
// the app's, in the order the apps first come, with the app's instance
// count in its Spec.Instances.
func ByApp(apps []api.App) []api.App {
	var out []api.App
	at := map[string]int{}
	for _, a := range apps {
		if a.Spec.Instances <= 1 && a.Instances > 1 {
			a.Spec.Instances = a.Instances
		}
		i, seen := at[a.Spec.Name]
		switch {
		case !seen:
			at[a.Spec.Name] = len(out)
			out = append(out, a)
		case a.Spec.Instance < out[i].Spec.Instance:
			out[i] = a
		}
	}
	return out
}

// kv is one key of an exported app and its value.
type kv struct {
	key string
	val any
}

// exportFields are the keys of an app's definition, in the order a
// reader expects (name and script first, the environment last).
func exportFields(s api.Spec, format string) ([]kv, error) {
	script, err := exportScript(s)
	if err != nil {
		return nil, err
	}
	f := []kv{{"name", s.Name}, {"script", script}}
	if len(s.Args) > 0 {
		f = append(f, kv{"args", s.Args})
	}
	switch {
	case s.Interpreter != "":
		f = append(f, kv{"interpreter", s.Interpreter})
	case runsItself(s):
		// Started without an interpreter although its extension could
		// have chosen one: say so, or a reader would choose it.
		f = append(f, kv{"interpreter", "none"})
	}
	if len(s.InterpreterArgs) > 0 {
		f = append(f, kv{"interpreter_args", s.InterpreterArgs})
	}
	if s.Cwd != "" {
		f = append(f, kv{"cwd", s.Cwd})
	}
	if s.Instances > 1 {
		f = append(f, kv{"instances", s.Instances})
	}
	if s.IncrementVar != "" {
		f = append(f, kv{"increment_var", s.IncrementVar})
	}
	if s.InstanceVar != "" {
		f = append(f, kv{"instance_var", s.InstanceVar})
	}
	if s.Restart != "" {
		f = append(f, kv{"restart", s.Restart})
	}
	f = append(f, kv{"max_restarts", s.MaxRestarts})
	if s.KillTimeoutMs != 0 {
		f = append(f, kv{"kill_timeout", s.KillTimeoutMs})
	}
	signal := s.KillSignal
	if signal == "" {
		signal = "SIGTERM" // opm's default, written so that PM2's is not taken
	}
	f = append(f, kv{"kill_signal", signal})
	for _, ms := range []kv{
		{"restart_delay", s.RestartDelayMs},
		{"exp_backoff_restart_delay", s.ExpBackoffRestartDelayMs},
		{"min_uptime", s.MinUptimeMs},
	} {
		if ms.val.(int64) != 0 {
			f = append(f, ms)
		}
	}
	if len(s.StopExitCodes) > 0 {
		f = append(f, kv{"stop_exit_codes", s.StopExitCodes})
	}
	if s.CronRestart != "" {
		f = append(f, kv{"cron_restart", s.CronRestart})
	}
	switch {
	case len(s.WatchPaths) > 0:
		f = append(f, kv{"watch", s.WatchPaths})
	case s.Watch:
		f = append(f, kv{"watch", true})
	}
	if len(s.IgnoreWatch) > 0 {
		f = append(f, kv{"ignore_watch", s.IgnoreWatch})
	}
	if s.WatchDelayMs != 0 {
		f = append(f, kv{"watch_delay", s.WatchDelayMs})
	}
	if s.WaitReady {
		f = append(f, kv{"wait_ready", true})
	}
	if s.ListenTimeoutMs != 0 {
		f = append(f, kv{"listen_timeout", s.ListenTimeoutMs})
	}
	if s.MaxMemoryRestart != 0 {
		f = append(f, kv{"max_memory_restart", api.FormatSize(s.MaxMemoryRestart)})
	}
	f = append(f, exportLogFields(s.LogSettings)...)
	for _, k := range api.HookKeys {
		if v := s.Hooks.For(k.Event); v != "" {
			f = append(f, kv{k.Key, v})
		}
	}
	if s.WebhookFormat != "" {
		f = append(f, kv{"webhook_format", s.WebhookFormat})
	}
	pending := make([]string, 0, len(s.Pending))
	for k := range CurrentPending(s.Pending) {
		pending = append(pending, k)
	}
	slices.Sort(pending)
	for _, k := range pending {
		if !keyName().MatchString(k) {
			return nil, fmt.Errorf("cannot write its kept setting %q: not a key name", k)
		}
		v, err := pendingValue(s.Pending[k], format)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if v != nil && !slices.ContainsFunc(f, func(x kv) bool { return x.key == k }) {
			f = append(f, kv{k, v})
		}
	}
	// The instance id variables are the daemon's to set, for each
	// instance: not the app's.
	instanceVar := s.InstanceVarName()
	env := map[string]string{}
	for _, e := range s.Env {
		if k, v, ok := strings.Cut(e, "="); ok && k != "" && k != api.InstanceEnv && k != instanceVar {
			env[k] = v
		}
	}
	f = append(f, kv{"env", env})
	return f, checkText(f)
}

// exportLogFields are the log settings the app sets, PM2's keys; what it
// leaves to the daemon's config is left out.
func exportLogFields(l api.LogSettings) []kv {
	var f []kv
	for _, p := range []kv{{"out_file", l.OutFile}, {"error_file", l.ErrorFile}, {"log_file", l.LogFile}, {"log_date_format", l.LogDateFormat}} {
		if p.val.(string) != "" {
			f = append(f, p)
		}
	}
	if l.Time {
		f = append(f, kv{"time", true})
	}
	if l.MergeLogs {
		f = append(f, kv{"merge_logs", true})
	}
	if l.LogMaxSize != 0 {
		f = append(f, kv{"log_max_size", api.FormatSize(l.LogMaxSize)})
	}
	if l.LogMaxFiles != 0 {
		f = append(f, kv{"log_max_files", l.LogMaxFiles})
	}
	if l.LogCompress != nil {
		f = append(f, kv{"log_compress", *l.LogCompress})
	}
	return f
}

// keyName is what a kept PM2 key looks like (compiled when first used:
// most commands never do).
var keyName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_]*$`) })

// exportScript is the app's command as a reader resolves it the same
// way. A reader finds a relative program from the app's cwd (Load sets
// Dir to it), so a path the daemon found from another directory (the
// caller's, Spec.Dir) is made absolute. A shell line runs from the cwd
// whatever the caller's directory was, and a bare program name is looked
// up in PATH; both stay as typed.
func exportScript(s api.Spec) (string, error) {
	line := strings.TrimSpace(s.Command)
	if s.Dir == "" || s.Dir == s.Cwd || api.NeedsShell(line) {
		return s.Command, nil
	}
	first, rest := line, ""
	if i := strings.IndexFunc(line, unicode.IsSpace); i >= 0 {
		first, rest = line[:i], line[i:]
	}
	if filepath.IsAbs(first) || !isPath(first, s.Dir) {
		return s.Command, nil
	}
	abs := filepath.Join(s.Dir, first)
	if strings.ContainsFunc(abs, unicode.IsSpace) || api.NeedsShell(abs) {
		return "", fmt.Errorf("its script %s was found from %s, and its path holds spaces or shell characters, which a command line cannot: start the app from the script's own directory, then export it", first, s.Dir)
	}
	return abs + rest, nil
}

// isPath reports whether the daemon takes a command's first word as a
// path from dir rather than a program to look up in PATH: it holds a
// '/', or names a file there.
func isPath(first, dir string) bool {
	if strings.ContainsRune(first, '/') {
		return true
	}
	st, err := os.Stat(filepath.Join(dir, first))
	return err == nil && st.Mode().IsRegular()
}

// runsItself reports whether an app without an interpreter is a script
// whose extension could choose one: a path with an extension, not a
// shell line.
func runsItself(s api.Spec) bool {
	line := strings.TrimSpace(s.Command)
	if s.Interpreter != "" || api.NeedsShell(line) {
		return false
	}
	first := strings.Fields(line)
	if len(first) == 0 {
		return false
	}
	dir := s.Dir
	if dir == "" {
		dir = s.Cwd
	}
	return filepath.Ext(first[0]) != "" && (filepath.IsAbs(first[0]) || isPath(first[0], dir))
}

// pendingValue is a kept PM2 setting as the format writes it: JSON as
// kept; for YAML and TOML, its numbers as integers where they are.
// Null is nil (not written: Load would not keep it).
func pendingValue(raw json.RawMessage, format string) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	if format == FormatJSON {
		if !json.Valid(raw) {
			return nil, fmt.Errorf("kept value %.40q is not JSON", raw)
		}
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("read kept value: %w", err)
	}
	if format == FormatTOML && holdsNull(v) {
		return nil, fmt.Errorf("its value %s holds null, which TOML cannot write: export as yaml or json", raw)
	}
	return plain(v), nil
}

// holdsNull reports whether a decoded JSON value holds a null.
func holdsNull(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case []any:
		return slices.ContainsFunc(v, holdsNull)
	case map[string]any:
		for _, x := range v {
			if holdsNull(x) {
				return true
			}
		}
	}
	return false
}

// plain turns the numbers of a decoded JSON value into int64 or float64.
func plain(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = plain(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = plain(v[k])
		}
	}
	return v
}

// checkText refuses a string that is not UTF-8: the formats hold text,
// and would change such bytes.
func checkText(fields []kv) error {
	bad := func(s string) bool { return !utf8.ValidString(s) }
	for _, f := range fields {
		switch v := f.val.(type) {
		case string:
			if bad(v) {
				return fmt.Errorf("its %s is not UTF-8 text, which an ecosystem file cannot hold", f.key)
			}
		case []string:
			if slices.ContainsFunc(v, bad) {
				return fmt.Errorf("its %s are not all UTF-8 text, which an ecosystem file cannot hold", f.key)
			}
		case map[string]string:
			for k, val := range v {
				if bad(k) || bad(val) {
					return fmt.Errorf("its environment variable %q is not UTF-8 text, which an ecosystem file cannot hold", strings.ToValidUTF8(k, "?"))
				}
			}
		}
	}
	return nil
}

// record is fields as a value the three encoders write in the fields'
// order: a struct made for them, each field tagged with its key.
func record(fields []kv) any {
	sf := make([]reflect.StructField, len(fields))
	for i, f := range fields {
		t := reflect.TypeOf(f.val)
		if t == nil {
			t = reflect.TypeFor[any]()
		}
		sf[i] = reflect.StructField{
			Name: fmt.Sprintf("F%d", i),
			Type: t,
			Tag:  reflect.StructTag(fmt.Sprintf(`json:%q yaml:%q toml:%q`, f.key, f.key, f.key)),
		}
	}
	v := reflect.New(reflect.StructOf(sf)).Elem()
	for i, f := range fields {
		if f.val != nil {
			v.Field(i).Set(reflect.ValueOf(f.val))
		}
	}
	return v.Interface()
}
