// Package units writes what init systems read: systemd unit files (their
// syntax and the escaping of their values, this file), the units and
// OpenRC service scripts of `opm startup` (startup.go), cron expressions
// as systemd calendar events (calendar.go), and the daemon's defaults
// they are computed from (defaults.go).
//
// systemd reads a value in one of three ways, and each writer here says
// which it serves (systemd.syntax(5), systemd.service(5), systemd.unit(5)):
//
//   - Command lines (ExecStart=) are expanded for %-specifiers, then split
//     into words with quotes and C escapes undone, and at exec time $VAR
//     and ${VAR} are substituted in every word but the program's path:
//     ExecLine.
//   - Lists of words (Environment=) are split and unquoted, then expanded
//     for specifiers; no variables: Word.
//   - Plain values (WorkingDirectory=, StandardOutput=append:, User=,
//     Description=) are taken whole, leading and trailing space dropped,
//     and expanded for specifiers; nothing is unquoted: Path, Text.
//
// A unit file is read line by line: no value may hold a newline, and a
// line that ends with a backslash goes on on the next line.
package units

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Unit is a unit file: comment lines at its top, then its sections.
type Unit struct {
	// Header lines are written as comments ("# " in front).
	Header   []string
	Sections []*Section
}

// Section is one [Name] of a unit and its lines, in order.
type Section struct {
	Name  string
	lines []line
}

// line is a setting, or a comment when key is empty.
type line struct {
	key, value string
}

// Section returns the unit's section called name, added at the end when
// it has none yet.
func (u *Unit) Section(name string) *Section {
	for _, s := range u.Sections {
		if s.Name == name {
			return s
		}
	}
	s := &Section{Name: name}
	u.Sections = append(u.Sections, s)
	return s
}

// Set adds the setting key=value. value is written as given: escape it
// first with the function its key calls for (see the package comment).
func (s *Section) Set(key, value string) {
	s.lines = append(s.lines, line{key: key, value: value})
}

// Comment adds a comment line.
func (s *Section) Comment(text string) {
	s.lines = append(s.lines, line{value: text})
}

// String is the unit file's text.
func (u *Unit) String() string {
	var b strings.Builder
	for _, h := range u.Header {
		writeComment(&b, h)
	}
	for i, s := range u.Sections {
		if i > 0 || len(u.Header) > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[%s]\n", s.Name)
		for _, l := range s.lines {
			if l.key == "" {
				writeComment(&b, l.value)
				continue
			}
			fmt.Fprintf(&b, "%s=%s\n", l.key, l.value)
		}
	}
	return b.String()
}

// writeComment writes text as comment lines, one for each of its lines,
// what would not print as itself replaced, and never ending with a
// backslash (which could continue the comment onto the next line).
func writeComment(b *strings.Builder, text string) {
	for _, l := range strings.Split(text, "\n") {
		l = strings.Map(func(r rune) rune {
			if r == utf8.RuneError || !unicode.IsPrint(r) && r != '\t' {
				return '?'
			}
			return r
		}, l)
		l = strings.TrimRight(l, " \t")
		if strings.HasSuffix(l, `\`) {
			l += "."
		}
		if l == "" {
			b.WriteString("#\n")
			continue
		}
		b.WriteString("# " + l + "\n")
	}
}

// ExecLine is the value of ExecStart= (or any Exec*= setting) that runs
// the program at path with the argument vector argv (argv[0] included).
// systemd runs path with argv[0] set to path unless told otherwise with
// the '@' prefix: ExecLine writes '@' when argv[0] is not path, so that
// the program sees the argv[0] it had. Words are quoted as needed, '%'
// doubled everywhere and '$' doubled in the arguments, where systemd
// would substitute variables (it does not in the path). It fails when
// path is not absolute or holds what systemd refuses in a program's path
// (quotes, backslashes, control characters), or argv is empty.
func ExecLine(path string, argv []string) (string, error) {
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("the program %q is not an absolute path", path)
	}
	if !ProgramPath(path) {
		return "", fmt.Errorf("systemd runs no program whose path holds quotes, backslashes or control characters, as %q does", path)
	}
	if len(argv) == 0 {
		return "", fmt.Errorf("no argument vector for %s", path)
	}
	words := make([]string, 0, len(argv)+1)
	if argv[0] == path && !strings.Contains(path, "$") {
		words = append(words, quote(path, false))
	} else {
		words = append(words, "@"+quote(path, false), quote(argv[0], true))
	}
	for _, a := range argv[1:] {
		words = append(words, quote(a, true))
	}
	return strings.Join(words, " "), nil
}

// ProgramPath reports whether systemd runs a program from path: it
// refuses one that holds a quote, a backslash or a control character.
func ProgramPath(path string) bool {
	for i := 0; i < len(path); i++ {
		if c := path[i]; c < 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '\\' {
			return false
		}
	}
	return true
}

// Args are words of a command line after its program (ExecStart=
// systemctl restart ...): quoted as needed, '%' and '$' doubled.
func Args(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = quote(w, true)
	}
	return strings.Join(out, " ")
}

// Word is s as one word of a setting systemd splits into words and
// unquotes, without variable substitution: an Environment= assignment
// ("KEY=value"), a name in a list.
func Word(s string) string { return quote(s, false) }

// Path is an absolute path as the whole value of a setting systemd does
// not unquote (WorkingDirectory=, StandardOutput=append:...): '%'
// doubled. It fails for what such a value cannot hold: a relative path,
// control characters (a newline would end the line), bytes that are not
// UTF-8 (systemd refuses them in paths), space at either end (dropped by
// the parser) or a backslash at the end (it would continue the line).
func Path(p string) (string, error) {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("%q is not an absolute path", p)
	case !utf8.ValidString(p):
		return "", fmt.Errorf("path %q is not UTF-8, which a unit file cannot hold", p)
	case strings.ContainsFunc(p, unicode.IsControl):
		return "", fmt.Errorf("path %q holds control characters, which a unit file cannot hold", p)
	case strings.TrimSpace(p) != p:
		return "", fmt.Errorf("path %q ends with white space, which a unit file drops", p)
	case strings.HasSuffix(p, `\`):
		return "", fmt.Errorf("path %q ends with a backslash, which a unit file reads as a continued line", p)
	}
	return strings.ReplaceAll(p, "%", "%%"), nil
}

// Text is free text as the whole value of a setting systemd does not
// unquote (Description=): '%' doubled, and what a line cannot hold
// replaced (a control character by a space, bytes that are not UTF-8 by
// '?'), space at the ends and a trailing backslash removed.
func Text(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimRight(strings.TrimSpace(s), `\`)
	return strings.ReplaceAll(strings.TrimSpace(s), "%", "%%")
}

// plain are the bytes a word may hold unquoted: none of them is special
// to systemd's word splitting, to specifiers or to variables.
func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-_./:=,+@", c) >= 0
}

// quote is s as one word: as it is when every byte is plain (or '%', or
// '$' with dollar), else in double quotes with C escapes for the quote,
// the backslash, control characters, unprintable characters (\u) and
// bytes that are not UTF-8 (\x, which systemd turns back into that
// byte). '%' is written "%%" and, with dollar, '$' "$$": never as an
// escape, which systemd would undo before looking for specifiers (in
// Environment=) or variables (in command lines).
func quote(s string, dollar bool) string {
	needs := s == ""
	for i := 0; i < len(s); i++ {
		if c := s[i]; !plain(c) && c != '%' && (c != '$' || !dollar) {
			needs = true
			break
		}
	}
	var b strings.Builder
	if needs {
		b.WriteByte('"')
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '%':
			b.WriteString("%%")
		case r == '$' && dollar:
			b.WriteString("$$")
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r) && r != ' ':
			if r <= 0xffff {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
		i += size
	}
	if needs {
		b.WriteByte('"')
	}
	return b.String()
}

// unitNameChars are the bytes a unit name may hold as they are
// (systemd.unit(5)); '@' is left out, since it marks a template.
func unitNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(":_.-", c) >= 0
}

// MaxUnitName is the longest unit name systemd accepts, in bytes.
const MaxUnitName = 255

// EscapeName is s as part of a unit name, escaped as systemd-escape does
// (each byte a unit name cannot hold as "\xNN", and so a leading '.')
// except that '-' stays as it is: it is valid in a unit name, and opm's
// names are not paths. The escaping is one to one: no two names give
// the same part.
func EscapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unitNameChar(c) && !(i == 0 && c == '.') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, `\x%02x`, c)
	}
	return b.String()
}

// CheckUnitName refuses a unit name systemd would not load.
func CheckUnitName(name string) error {
	if len(name) > MaxUnitName {
		return fmt.Errorf("unit name %s is %d bytes long, more than the %d systemd accepts", name, len(name), MaxUnitName)
	}
	return nil
}

// Span is d as a systemd time span: whole minutes as "5min", whole
// seconds as "90s", else milliseconds ("1500ms"); "0" for zero or less.
func Span(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d%time.Minute == 0:
		return fmt.Sprintf("%dmin", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	default:
		return fmt.Sprintf("%dms", max(d/time.Millisecond, 1))
	}
}

// EnvName reports whether systemd takes name as an environment
// variable's name in Environment=: letters, digits and '_', not starting
// with a digit (what every systemd version accepts).
func EnvName(name string) bool {
	if name == "" || '0' <= name[0] && name[0] <= '9' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
