package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// A string travels as itself when it is valid UTF-8, as base64 when it is
// not, and comes back byte for byte either way.
func TestByteStringRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		wire string
	}{
		{"empty", "", `""`},
		{"ascii", "hello", `"hello"`},
		{"utf-8", "café 日本", `"café 日本"`},
		{"controls stay a string", "a\x1b[31m\r\n\u202e", `"a\u001b[31m\r\n` + "\u202e" + `"`},
		{"replacement character itself", "\ufffd", `"` + "\ufffd" + `"`},
		{"one bad byte", "\xff", `{"base64":"/w=="}`},
		{"latin-1 path", "/srv/caf\xe9", `{"base64":"L3Nydi9jYWbp"}`},
		{"truncated sequence", "\xe6\x97", `{"base64":"5pc="}`},
		{"encoded surrogate", "\xed\xa0\x80", `{"base64":"7aCA"}`},
		{"NUL and bad byte", "\x00\xfe", `{"base64":"AP4="}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := json.Marshal(byteString(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(wire) != tt.wire {
				t.Errorf("wire = %s, want %s", wire, tt.wire)
			}
			if !utf8.Valid(wire) {
				t.Errorf("wire %q is not UTF-8", wire)
			}
			var back byteString
			if err := json.Unmarshal(wire, &back); err != nil {
				t.Fatal(err)
			}
			if string(back) != tt.in {
				t.Errorf("decoded %q, want %q", back, tt.in)
			}
		})
	}
}

func TestByteStringDecode(t *testing.T) {
	tests := []struct {
		name, wire, want string
		bad              bool
	}{
		{name: "plain string", wire: `"x"`, want: "x"},
		{name: "base64 of text", wire: `{"base64":"eA=="}`, want: "x"},
		{name: "base64 empty", wire: `{"base64":""}`, want: ""},
		{name: "spaces around", wire: ` { "base64" : "/w==" } `, want: "\xff"},
		{name: "null keeps the value", wire: `null`, want: "kept"},
		{name: "number", wire: `1`, bad: true},
		{name: "array", wire: `["x"]`, bad: true},
		{name: "empty object", wire: `{}`, bad: true},
		{name: "base64 null", wire: `{"base64":null}`, bad: true},
		{name: "base64 number", wire: `{"base64":1}`, bad: true},
		{name: "unknown key", wire: `{"base64":"eA==","hex":"78"}`, bad: true},
		{name: "not base64", wire: `{"base64":"***"}`, bad: true},
		{name: "url alphabet", wire: `{"base64":"_w=="}`, bad: true},
		{name: "unpadded", wire: `{"base64":"/w"}`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := byteString("kept")
			err := json.Unmarshal([]byte(tt.wire), &s)
			if tt.bad {
				if err == nil {
					t.Fatalf("decoded %s as %q, want an error", tt.wire, s)
				}
				return
			}
			if err != nil || string(s) != tt.want {
				t.Fatalf("decoded %s as %q, %v; want %q", tt.wire, s, err, tt.want)
			}
		})
	}
}

// stringFields lists the fields of struct type typ that hold strings
// (string, []string), and fails on any other field type that holds
// strings, which this test does not know how to fill.
func stringFields(t *testing.T, typ reflect.Type, handled []string) []string {
	t.Helper()
	var names []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		switch {
		case f.Anonymous && f.Type.Kind() == reflect.Struct:
			// Flattened into the type's JSON: classified with it.
			names = append(names, stringFields(t, f.Type, handled)...)
		case f.Type.Kind() == reflect.String,
			f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			names = append(names, f.Name)
		case slices.Contains(handled, f.Name):
		case strings.Contains(f.Type.String(), "string"):
			t.Errorf("%s.%s is a %s: teach this test, and the type's MarshalJSON, about it", typ.Name(), f.Name, f.Type)
		}
	}
	return names
}

// Every string field of a wire type is either byte-safe (bytes that are
// not UTF-8 survive a round trip) or listed here as text, whose value the
// daemon checks (names, policies, statuses). A string field added later
// fails this test until it is classified: made byte-safe in its type's
// MarshalJSON/UnmarshalJSON, or added to the text list.
func TestEveryStringFieldClassified(t *testing.T) {
	types := []struct {
		v       any
		text    []string // fields that carry text, not bytes
		handled []string // fields of a type that encodes itself
	}{
		// Settings.Pending holds raw JSON values under PM2's keys: text.
		// Hooks (shell commands, URLs) are text, as PM2's settings.
		{v: &StartRequest{}, text: []string{"Restart", "KillSignal", "LogDateFormat", "CronRestart", "IncrementVar", "InstanceVar", "OnStart", "OnExit", "OnRestart", "OnErrored", "OnStop", "OnMemoryLimit", "WebhookFormat"}, handled: []string{"Pending"}},
		{v: &Spec{}, text: []string{"Name", "Restart", "KillSignal", "LogDateFormat", "CronRestart", "IncrementVar", "InstanceVar", "OnStart", "OnExit", "OnRestart", "OnErrored", "OnStop", "OnMemoryLimit", "WebhookFormat"}, handled: []string{"Pending"}},
		{v: &App{}, text: []string{"Name", "Status", "LastRestartReason"}, handled: []string{"Spec"}},
	}
	const raw = "\xff\xfe bytes \xc3("
	for _, tt := range types {
		typ := reflect.TypeOf(tt.v).Elem()
		t.Run(typ.Name(), func(t *testing.T) {
			val := reflect.ValueOf(tt.v).Elem()
			var byteish []string
			for _, name := range stringFields(t, typ, tt.handled) {
				if slices.Contains(tt.text, name) {
					continue
				}
				byteish = append(byteish, name)
				f := val.FieldByName(name)
				if f.Kind() == reflect.String {
					f.SetString(raw + name)
				} else {
					f.Set(reflect.ValueOf([]string{raw + name, "text", ""}))
				}
			}
			wire, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.Valid(wire) {
				t.Errorf("wire form is not UTF-8: %q", wire)
			}
			back := reflect.New(typ)
			if err := json.Unmarshal(wire, back.Interface()); err != nil {
				t.Fatal(err)
			}
			for _, name := range byteish {
				got, want := back.Elem().FieldByName(name).Interface(), val.FieldByName(name).Interface()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s.%s came back as %q, want %q: make it byte-safe in %s's MarshalJSON and UnmarshalJSON, or list it as text here", typ.Name(), name, got, want, typ.Name())
				}
			}
		})
	}
}

// Plain versions of the wire types: the same fields and tags, none of
// the methods.
type (
	plainStartRequest StartRequest
	plainSpec         Spec
)

// plainApp is a as a value of a struct type made at run time with App's
// fields and tags, its Spec a plainSpec: none of the methods.
func plainApp(a App) any {
	t := reflect.TypeFor[App]()
	fields := make([]reflect.StructField, t.NumField())
	for i := range fields {
		fields[i] = t.Field(i)
		if fields[i].Type == reflect.TypeFor[Spec]() {
			fields[i].Type = reflect.TypeFor[plainSpec]()
		}
	}
	v := reflect.New(reflect.StructOf(fields)).Elem()
	for i := range fields {
		v.Field(i).Set(reflect.ValueOf(a).Field(i).Convert(fields[i].Type))
	}
	return v.Interface()
}

// Valid UTF-8 encodes as the plain struct would: the same keys (names,
// omitempty) with the same values, only in another order. Dumps and
// records written before the byte-safe encoding read the same, and
// clients that never send other bytes see no change.
func TestUTF8EncodesAsPlainJSON(t *testing.T) {
	n := 3
	full := Spec{Name: "web", Command: "app.js --x", Interpreter: "node", Exec: "/usr/bin/node", Argv: []string{"/usr/bin/node", "/srv/app.js", "<&>"},
		Cwd: "/srv/café", Env: []string{"A=1", "B=日本"}, Restart: RestartAlways, MaxRestarts: 15, KillTimeoutMs: 5000, OutLog: "/l/o", ErrLog: "/l/e"}
	for _, tt := range []struct {
		name         string
		value, plain any
	}{
		{"empty spec", Spec{}, plainSpec{}},
		{"full spec", full, plainSpec(full)},
		{"empty start request", StartRequest{}, plainStartRequest{}},
		{"full start request", StartRequest{Command: "app.js", Args: []string{"-x"}, Name: "web", Cwd: "/", Env: []string{"A=1"}, Restart: RestartNever, MaxRestarts: &n, KillTimeoutMs: 10},
			plainStartRequest{Command: "app.js", Args: []string{"-x"}, Name: "web", Cwd: "/", Env: []string{"A=1"}, Restart: RestartNever, MaxRestarts: &n, KillTimeoutMs: 10}},
		{"app", App{ID: 1, Name: "web", PID: 2, Status: StatusOnline, Command: "app.js", NextRestartMs: 3, Spec: full},
			plainApp(App{ID: 1, Name: "web", PID: 2, Status: StatusOnline, Command: "app.js", NextRestartMs: 3, Spec: full})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(tt.plain)
			if err != nil {
				t.Fatal(err)
			}
			var gotv, wantv any
			if err := json.Unmarshal(got, &gotv); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &wantv); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotv, wantv) {
				t.Errorf("byte-safe encoding\n%s\ndiffers from the plain one\n%s", got, want)
			}
		})
	}
}

// A Spec survives the round trip whole: the override fields and the ones
// it inherits.
func TestSpecRoundTrip(t *testing.T) {
	in := Spec{Name: "web", Command: "run \xff", Interpreter: "bash", Exec: "/bin/\xfe", Argv: []string{"/bin/\xfe", "\x1b[31m", "ok"},
		Cwd: "/srv/\xe9t\xe9", Env: []string{"A=\xff", "B=2"}, Restart: RestartOnFailure, MaxRestarts: 7, KillTimeoutMs: 1500, OutLog: "/l/\xffo", ErrLog: "/l/\xffe"}
	wire, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Spec
	if err := json.Unmarshal(wire, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%#v\n%#v", in, out)
	}
	// Inside another value (a dump, a record, an App) too.
	app := App{ID: 4, Name: "web", Command: in.Command, Spec: in}
	wire, err = json.Marshal([]App{app})
	if err != nil {
		t.Fatal(err)
	}
	var apps []App
	if err := json.Unmarshal(wire, &apps); err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || !reflect.DeepEqual(apps[0], app) {
		t.Fatalf("apps round trip: %#v", apps)
	}
}

// FuzzByteString: every byte string survives the round trip as valid
// UTF-8 JSON, and no input makes decoding panic or decode to something
// that does not re-encode to itself.
func FuzzByteString(f *testing.F) {
	for _, s := range []string{"", "text", "\xff", "caf\xc3", `"quoted"`, `{"base64":"/w=="}`, `{"base64":null}`, `{}`, `null`, `[1]`, `{"base64":"eA==","x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wire, err := json.Marshal(byteString(data))
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(wire) {
			t.Fatalf("wire %q is not UTF-8", wire)
		}
		var back byteString
		if err := json.Unmarshal(wire, &back); err != nil || string(back) != string(data) {
			t.Fatalf("round trip of %q: %q, %v", data, back, err)
		}

		// data as the wire form.
		var s byteString
		if json.Unmarshal(data, &s) == nil {
			again, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var s2 byteString
			if err := json.Unmarshal(again, &s2); err != nil || s2 != s {
				t.Fatalf("%q decoded to %q, which re-encodes to %s and decodes to %q, %v", data, s, again, s2, err)
			}
		}
		var spec Spec
		_ = json.Unmarshal(data, &spec)
	})
}

// An app or record written with its spec encoded beforehand decodes to
// what it encodes to with the spec encoded on the spot.
func TestAppendMember(t *testing.T) {
	for _, c := range []struct{ obj, want string }{
		{`{}`, `{"spec":{"a":1}}`},
		{`{"id":1}`, `{"id":1,"spec":{"a":1}}`},
	} {
		if got := string(AppendMember([]byte(c.obj), "spec", json.RawMessage(`{"a":1}`))); got != c.want {
			t.Errorf("AppendMember(%s) = %s, want %s", c.obj, got, c.want)
		}
	}
	spec := Spec{Name: "web", Command: "node app.js", Argv: []string{"node", "app.js"}, Env: []string{"A=\xff"}}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	a := App{ID: 3, Name: "web", Command: "node \xffapp.js", Status: "online", Spec: spec}
	plain, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	a.SpecJSON = specJSON
	spliced, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(spliced) {
		t.Fatalf("not JSON: %s", spliced)
	}
	var x, y App
	if json.Unmarshal(plain, &x) != nil || json.Unmarshal(spliced, &y) != nil {
		t.Fatal("undecodable app JSON")
	}
	if !reflect.DeepEqual(x, y) || y.Spec.Env[0] != "A=\xff" {
		t.Errorf("spliced app decodes to %+v, want %+v", y, x)
	}
}
