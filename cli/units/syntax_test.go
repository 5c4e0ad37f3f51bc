package units

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"opm/daemon/testkit"
)

// nasty are words systemd must read back as they are: quotes, escapes,
// specifiers, variables, a lone semicolon, white space of every kind,
// what is not UTF-8 and what does not print.
var nasty = []string{
	"plain", "", " ", "two words", `"`, `'`, `\`, `a\b`, `\;`, ";", "a;b",
	"%", "%i", "%%", "50%", "$", "$HOME", "${HOME}", "$$", "a$b",
	"tab\there", "new\nline", "cr\rx", "bell\a", "\x7f", "\x01",
	"café", "日本", "\u202e", "\u200b", "\xff", "\xc3", "a\xffb", "@x", "-x", "+x", ":x", "!x",
	`\x41`, `\n`, "=", "K=V", "#", "x #y", "a\\", "end\\",
}

func TestQuoteWords(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"plain", "plain"},
		{"", `""`},
		{"a b", `"a b"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"50%", "50%%"},
		{"line\nnext", `"line\nnext"`},
		{";", `";"`},
		{"\xff", `"\xff"`},
		{"\u202e", `"\u202e"`},
		{"café", `"café"`},
		{"-x", "-x"},
	} {
		if got := Word(c.in); got != c.out {
			t.Errorf("Word(%q) = %s, want %s", c.in, got, c.out)
		}
	}
	if got, want := Args([]string{"$HOME", "a$b c"}), `$$HOME "a$$b c"`; got != want {
		t.Errorf("Args: %s, want %s", got, want)
	}
}

// unquote reads one line's words as systemd.syntax(5) says a value is
// split and unquoted (quotes, C escapes), then, as a command line is,
// with specifiers ("%%") and, in arguments, "$$" undone. It is the
// reader of the spec, written apart from the writer it checks.
func unquote(t *testing.T, line string, command bool) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
			continue
		case c == '"' || c == '\'':
			inWord = true
			switch quote {
			case 0:
				quote = c
				continue
			case c:
				quote = 0
				continue
			}
		case c == '\\':
			inWord = true
			i++
			if i == len(line) {
				t.Fatalf("line %q ends in a backslash", line)
			}
			switch e := line[i]; e {
			case 'n':
				w.WriteByte('\n')
			case 't':
				w.WriteByte('\t')
			case '\\', '"', '\'':
				w.WriteByte(e)
			case 'x':
				n, err := strconv.ParseUint(line[i+1:i+3], 16, 8)
				if err != nil {
					t.Fatalf("bad \\x in %q", line)
				}
				w.WriteByte(byte(n))
				i += 2
			case 'u', 'U':
				size := 4
				if e == 'U' {
					size = 8
				}
				n, err := strconv.ParseUint(line[i+1:i+1+size], 16, 32)
				if err != nil {
					t.Fatalf("bad \\%c in %q", e, line)
				}
				w.WriteRune(rune(n))
				i += size
			default:
				t.Fatalf("escape \\%c in %q is not one systemd reads as the writer meant", e, line)
			}
			continue
		}
		inWord = true
		w.WriteByte(c)
	}
	if quote != 0 {
		t.Fatalf("unbalanced quotes in %q", line)
	}
	if inWord {
		words = append(words, w.String())
	}
	for i, word := range words {
		word = strings.ReplaceAll(word, "%%", "\x00")
		if strings.Contains(word, "%") {
			t.Fatalf("word %q of %q holds a specifier", word, line)
		}
		word = strings.ReplaceAll(word, "\x00", "%")
		if command && i > 0 {
			word = strings.ReplaceAll(word, "$$", "\x00")
			if strings.Contains(word, "$") {
				t.Fatalf("argument %q of %q holds a variable", word, line)
			}
			word = strings.ReplaceAll(word, "\x00", "$")
		}
		words[i] = word
	}
	return words
}

func TestExecLineRoundTrip(t *testing.T) {
	argv := append([]string{"/usr/bin/prog"}, nasty...)
	line, err := ExecLine("/usr/bin/prog", argv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(line, "\n\r") {
		t.Fatalf("ExecLine holds a line break: %q", line)
	}
	got := unquote(t, line, true)
	if !slices.Equal(got, argv) {
		t.Errorf("ExecLine %s\nreads back as %q\nwant %q", line, got, argv)
	}
	// argv[0] other than the path: '@'.
	line, err = ExecLine("/usr/bin/node", []string{"node", "app.js"})
	if err != nil || line != "@/usr/bin/node node app.js" {
		t.Errorf("ExecLine with argv[0] node = %q, %v", line, err)
	}
	if _, err := ExecLine("node", []string{"node"}); err == nil {
		t.Error("a relative program was accepted")
	}
	// Environment= words: no variables.
	for _, s := range nasty {
		kv := "K=" + s
		if got := unquote(t, Word(kv), false); len(got) != 1 || got[0] != kv {
			t.Errorf("Word(%q) = %s reads back as %q", kv, Word(kv), got)
		}
	}
}

// TestPathsSystemdReadsBack has systemd itself read words back: each
// nasty word that systemd takes in a program's path names an executable
// file, run by an ExecStartPre= line of one unit; `systemd-analyze
// verify` checks each program exists, and so that its path came back
// byte for byte. The others must be refused.
func TestPathsSystemdReadsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir %n $HOME ; é #!=\xff")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	u := &Unit{Header: []string{"paths systemd must read back"}}
	svc := u.Section("Service")
	svc.Set("Type", "oneshot")
	n := 0
	for _, name := range nasty {
		if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
			continue
		}
		p := filepath.Join(dir, name)
		if !ProgramPath(p) {
			if _, err := ExecLine(p, []string{p}); err == nil {
				t.Errorf("ExecLine accepted the program %q, which systemd refuses", p)
			}
			continue
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		line, err := ExecLine(p, []string{p, name})
		if err != nil {
			t.Fatal(err)
		}
		svc.Set("ExecStartPre", line)
		n++
	}
	svc.Set("ExecStart", "/bin/true")
	unit := filepath.Join(t.TempDir(), "paths.service")
	if err := os.WriteFile(unit, []byte(u.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if testkit.SystemdVerify(t, unit) {
		t.Logf("systemd found all %d programs", n)
	}
}

func TestPathAndText(t *testing.T) {
	if p, err := Path("/srv/my app/100%"); err != nil || p != "/srv/my app/100%%" {
		t.Errorf("Path = %q, %v", p, err)
	}
	for _, bad := range []string{"rel/x", "/a\nb", "/a\xff", "/trailing ", "/back\\"} {
		if _, err := Path(bad); err == nil {
			t.Errorf("Path(%q) was accepted", bad)
		}
	}
	if got := Text(" app\n50%\\ "); got != "app 50%%" {
		t.Errorf("Text = %q", got)
	}
	if got := Text("\xffx"); !utf8.ValidString(got) {
		t.Errorf("Text kept bytes that are not UTF-8: %q", got)
	}
}

func TestEscapeName(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"web", "web"},
		{"my-app_2.0:x", "my-app_2.0:x"},
		{"a@b", `a\x40b`},
		{"café", `caf\xc3\xa9`},
		{"50%", `50\x25`},
		{`a\b`, `a\x5cb`},
		{".hidden", `\x2ehidden`},
	} {
		if got := EscapeName(c.in); got != c.out {
			t.Errorf("EscapeName(%q) = %s, want %s", c.in, got, c.out)
		}
	}
	if err := CheckUnitName(strings.Repeat("x", 256)); err == nil {
		t.Error("a 256-byte unit name was accepted")
	}
}

func TestSpanAndEnvName(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0", 90 * time.Second: "90s", 5 * time.Minute: "5min", 1500 * time.Millisecond: "1500ms", time.Microsecond: "1ms"} {
		if got := Span(d); got != want {
			t.Errorf("Span(%s) = %s, want %s", d, got, want)
		}
	}
	for name, ok := range map[string]bool{"PATH": true, "_x1": true, "1X": false, "": false, "A-B": false, "A.B": false, "É": false} {
		if EnvName(name) != ok {
			t.Errorf("EnvName(%q) = %v", name, !ok)
		}
	}
}

func TestUnitText(t *testing.T) {
	u := &Unit{Header: []string{"line one\nline two", "ends in \\"}}
	s := u.Section("Service")
	s.Comment("a comment \x1b[31m")
	s.Set("Type", "exec")
	if u.Section("Service") != s {
		t.Error("Section added a second [Service]")
	}
	want := "# line one\n# line two\n# ends in \\.\n\n[Service]\n# a comment ?[31m\nType=exec\n"
	if got := u.String(); got != want {
		t.Errorf("unit text:\n%s\nwant:\n%s", got, want)
	}
}
