package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// On Linux, argv, the environment and paths are bytes, not text, and opm
// carries them losslessly. JSON strings are Unicode: encoding/json turns
// every byte that is not UTF-8 into U+FFFD. So the byte-ish fields of
// StartRequest, Spec and App go on the wire as
//
//	"text"               when the value is valid UTF-8 (nearly always), and
//	{"base64": "/w=="}   otherwise: the standard base64 of the bytes.
//
// Decoding accepts either form for every byte-ish field. Valid UTF-8
// encodes exactly as a plain string field would, so a dump or record
// written before this encoding reads the same. The Go fields stay plain
// strings: each type's MarshalJSON and UnmarshalJSON embed the type's
// own fields (under a method-less alias) and override only the byte-ish
// ones, so a field added later travels as declared, and the test that
// lists every string field fails until someone decides which kind it is.

// byteString is a string of arbitrary bytes in its byte-safe JSON form.
type byteString string

// base64JSON is the object form of a byteString.
type base64JSON struct {
	Base64 *string `json:"base64"`
}

func (s byteString) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(s)) {
		return json.Marshal(string(s))
	}
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	return json.Marshal(base64JSON{Base64: &enc})
}

func (s *byteString) UnmarshalJSON(data []byte) error {
	data = bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(data) == 0:
		return errors.New("decode byte string: no value")
	case data[0] == 'n': // null leaves the value as it was, as for a string
		return json.Unmarshal(data, new(any))
	case data[0] == '"':
		var v string
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*s = byteString(v)
		return nil
	case data[0] == '{':
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var o base64JSON
		if err := dec.Decode(&o); err != nil {
			return fmt.Errorf("decode byte string: %w (want a string or {\"base64\": \"...\"})", err)
		}
		if o.Base64 == nil {
			return errors.New("decode byte string: an object without \"base64\" (want a string or {\"base64\": \"...\"})")
		}
		b, err := base64.StdEncoding.Strict().DecodeString(*o.Base64)
		if err != nil {
			return fmt.Errorf("decode byte string: %w", err)
		}
		*s = byteString(b)
		return nil
	}
	return fmt.Errorf("decode byte string: %.20q is neither a string nor {\"base64\": \"...\"}", data)
}

// byteStrings is a list of byteString; nil encodes as null, as a nil
// []string does.
type byteStrings []string

func (ss byteStrings) MarshalJSON() ([]byte, error) {
	if ss == nil {
		return []byte("null"), nil
	}
	buf := []byte{'['}
	for i, s := range ss {
		if i > 0 {
			buf = append(buf, ',')
		}
		b, err := byteString(s).MarshalJSON()
		if err != nil {
			return nil, err
		}
		buf = append(buf, b...)
	}
	return append(buf, ']'), nil
}

func (ss *byteStrings) UnmarshalJSON(data []byte) error {
	var list []byteString
	if err := json.Unmarshal(data, &list); err != nil {
		return err
	}
	if list == nil {
		*ss = nil
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = string(s)
	}
	*ss = out
	return nil
}

// startRequestFields is StartRequest without its methods.
type startRequestFields StartRequest

// startRequestJSON is StartRequest's wire form. The name is byte-safe
// too, so that the daemon sees, and refuses, the bytes a client sent
// rather than U+FFFD.
type startRequestJSON struct {
	startRequestFields
	Command byteString  `json:"command"`
	Args    byteStrings `json:"args,omitempty"`
	Name    byteString  `json:"name,omitempty"`
	Cwd     byteString  `json:"cwd"`
	Dir     byteString  `json:"dir,omitempty"`
	Env     byteStrings `json:"env"`
	// The interpreter and its arguments name programs and paths.
	Interpreter     byteString  `json:"interpreter,omitempty"`
	InterpreterArgs byteStrings `json:"interpreter_args,omitempty"`
	logPathsJSON
}

// logPathsJSON are the paths of Settings (logs, watched), byte-safe.
type logPathsJSON struct {
	OutFile     byteString  `json:"out_file,omitempty"`
	ErrorFile   byteString  `json:"error_file,omitempty"`
	LogFile     byteString  `json:"log_file,omitempty"`
	WatchPaths  byteStrings `json:"watch_paths,omitempty"`
	IgnoreWatch byteStrings `json:"ignore_watch,omitempty"`
}

func newLogPathsJSON(s Settings) logPathsJSON {
	return logPathsJSON{
		OutFile: byteString(s.OutFile), ErrorFile: byteString(s.ErrorFile), LogFile: byteString(s.LogFile),
		WatchPaths: byteStrings(s.WatchPaths), IgnoreWatch: byteStrings(s.IgnoreWatch),
	}
}

func (w logPathsJSON) apply(s *Settings) {
	s.OutFile, s.ErrorFile, s.LogFile = string(w.OutFile), string(w.ErrorFile), string(w.LogFile)
	s.WatchPaths, s.IgnoreWatch = w.WatchPaths, w.IgnoreWatch
}

// wire is r in its wire form.
func (r StartRequest) wire() startRequestJSON {
	return startRequestJSON{
		startRequestFields: startRequestFields(r),
		Command:            byteString(r.Command),
		Args:               byteStrings(r.Args),
		Name:               byteString(r.Name),
		Cwd:                byteString(r.Cwd),
		Dir:                byteString(r.Dir),
		Env:                byteStrings(r.Env),
		Interpreter:        byteString(r.Interpreter),
		InterpreterArgs:    byteStrings(r.InterpreterArgs),
		logPathsJSON:       newLogPathsJSON(r.Settings),
	}
}

// MarshalJSON encodes r with its byte-ish fields byte-safe.
func (r StartRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(r.wire())
}

// UnmarshalJSON decodes either form of each byte-ish field.
func (r *StartRequest) UnmarshalJSON(data []byte) error {
	w := r.wire()
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*r = StartRequest(w.startRequestFields)
	r.Command, r.Args, r.Name, r.Cwd, r.Dir, r.Env = string(w.Command), w.Args, string(w.Name), string(w.Cwd), string(w.Dir), w.Env
	r.Interpreter, r.InterpreterArgs = string(w.Interpreter), w.InterpreterArgs
	w.logPathsJSON.apply(&r.Settings)
	return nil
}

// specFields is Spec without its methods.
type specFields Spec

// specJSON is Spec's wire form. Name is not byte-ish: every Spec the
// daemon accepts has a name that CheckName passed.
type specJSON struct {
	specFields
	Command     byteString  `json:"command"`
	Interpreter byteString  `json:"interpreter,omitempty"`
	Exec        byteString  `json:"exec"`
	Argv        byteStrings `json:"argv"`
	Cwd         byteString  `json:"cwd"`
	Env         byteStrings `json:"env"`
	OutLog      byteString  `json:"out_log"`
	ErrLog      byteString  `json:"err_log"`
	CombinedLog byteString  `json:"combined_log,omitempty"`
	// InterpreterArgs, Args and Dir.
	InterpreterArgs byteStrings `json:"interpreter_args,omitempty"`
	Args            byteStrings `json:"args,omitempty"`
	Dir             byteString  `json:"dir,omitempty"`
	logPathsJSON
}

func newSpecJSON(s Spec) specJSON {
	return specJSON{
		specFields:  specFields(s),
		Command:     byteString(s.Command),
		Interpreter: byteString(s.Interpreter),
		Exec:        byteString(s.Exec),
		Argv:        byteStrings(s.Argv),
		Cwd:         byteString(s.Cwd),
		Env:         byteStrings(s.Env),
		OutLog:      byteString(s.OutLog),
		ErrLog:      byteString(s.ErrLog),
		CombinedLog: byteString(s.CombinedLog),
		// The rest.
		InterpreterArgs: byteStrings(s.InterpreterArgs),
		Args:            byteStrings(s.Args),
		Dir:             byteString(s.Dir),
		logPathsJSON:    newLogPathsJSON(s.Settings),
	}
}

// MarshalJSON encodes s with its byte-ish fields byte-safe.
func (s Spec) MarshalJSON() ([]byte, error) {
	return json.Marshal(newSpecJSON(s))
}

// UnmarshalJSON decodes either form of each byte-ish field.
func (s *Spec) UnmarshalJSON(data []byte) error {
	w := newSpecJSON(*s)
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*s = Spec(w.specFields)
	s.Command, s.Interpreter, s.Exec, s.Argv = string(w.Command), string(w.Interpreter), string(w.Exec), w.Argv
	s.Cwd, s.Env, s.OutLog, s.ErrLog = string(w.Cwd), w.Env, string(w.OutLog), string(w.ErrLog)
	s.CombinedLog = string(w.CombinedLog)
	s.InterpreterArgs, s.Args, s.Dir = w.InterpreterArgs, w.Args, string(w.Dir)
	w.logPathsJSON.apply(&s.Settings)
	return nil
}

// appFields is App without its methods.
type appFields App

// appJSON is App's wire form: Command is the Spec's, for display; the
// Spec encodes itself.
type appJSON struct {
	appFields
	Command byteString `json:"command"`
}

// appRef is appJSON for encoding: it points to the App rather than
// holding a copy (an App is large, and a listing encodes hundreds).
type appRef struct {
	*appFields
	Command byteString `json:"command"`
}

// appRefWithoutSpec is appRef with its spec left out (a nil Spec hides
// App's).
type appRefWithoutSpec struct {
	appRef
	Spec *struct{} `json:"spec,omitempty"`
}

// MarshalJSON encodes a with its command byte-safe, and its spec as
// SpecJSON says when that is set (the last member, as it is: listings are
// made of it).
func (a App) MarshalJSON() ([]byte, error) { return a.AppendJSON(nil) }

// AppendJSON appends a's JSON, as MarshalJSON has it, to dst: a listing
// writes every app into one buffer, without a copy of each.
func (a *App) AppendJSON(dst []byte) ([]byte, error) {
	w := appRef{appFields: (*appFields)(a), Command: byteString(a.Command)}
	var v any = w
	if len(a.SpecJSON) > 0 {
		v = appRefWithoutSpec{appRef: w}
	}
	buf := bytes.NewBuffer(dst)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return dst, err
	}
	b := buf.Bytes()
	b = b[:len(b)-1] // Encode's newline
	if len(a.SpecJSON) > 0 {
		b = AppendMember(b, "spec", a.SpecJSON)
	}
	return b, nil
}

// AppendMember adds the member name: raw to the JSON object at the end of
// obj (its last byte is the object's '}', as json.Marshal writes it). raw
// goes in as it is, neither checked nor compacted: it must be JSON that
// json.Marshal wrote, and name a name that needs no escaping.
func AppendMember(obj []byte, name string, raw json.RawMessage) []byte {
	obj = obj[:len(obj)-1]
	if obj[len(obj)-1] != '{' {
		obj = append(obj, ',')
	}
	obj = append(append(append(obj, '"'), name...), `":`...)
	obj = append(obj, raw...)
	return append(obj, '}')
}

// UnmarshalJSON decodes either form of the command.
func (a *App) UnmarshalJSON(data []byte) error {
	w := appJSON{appFields: appFields(*a), Command: byteString(a.Command)}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*a = App(w.appFields)
	a.Command = string(w.Command)
	return nil
}
