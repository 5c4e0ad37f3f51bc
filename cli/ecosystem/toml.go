package ecosystem

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// parseTOML reads opm's TOML ecosystem file into nodes. Keys keep the
// order they have in the file. The parser gives positions for syntax
// errors only, so the lines of the apps ([[apps]] headers) and of their
// keys are found in the source (tomlSource).
func parseTOML(data []byte) (*node, error) {
	var m map[string]any
	md, err := toml.Decode(string(data), &m)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &posError{line: pe.Position.Line, msg: "cannot parse TOML: " + pe.Message, err: err}
		}
		return nil, &posError{msg: "cannot parse TOML: " + err.Error(), err: err}
	}
	r := &tomlReader{order: map[string]int{}}
	for i, k := range md.Keys() {
		if _, ok := r.order[k.String()]; !ok {
			r.order[k.String()] = i
		}
	}
	root, err := r.value(m, nil, 0)
	if err != nil {
		return nil, err
	}
	scanTOML(data).place(root)
	return root, nil
}

type tomlReader struct {
	// order is the position of each key (dotted, as toml.Key prints it)
	// in the file; the keys of the apps of an array share one.
	order  map[string]int
	budget budget
}

func (r *tomlReader) value(v any, path toml.Key, depth int) (*node, error) {
	if err := r.budget.take(depth); err != nil {
		return nil, &posError{msg: err.Error()}
	}
	switch v := v.(type) {
	case map[string]any:
		n := &node{kind: kindMap}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int { return r.compare(path, a, b) })
		for _, k := range keys {
			val, err := r.value(v[k], append(path[:len(path):len(path)], k), depth+1)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, field{key: k, val: val})
		}
		return n, nil
	case []map[string]any:
		items := make([]any, len(v))
		for i, it := range v {
			items[i] = it
		}
		return r.value(items, path, depth)
	case []any:
		n := &node{kind: kindList}
		for _, it := range v {
			val, err := r.value(it, path, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, val)
		}
		return n, nil
	case string:
		return &node{kind: kindString, text: v}, nil
	case bool:
		return &node{kind: kindBool, text: fmt.Sprint(v)}, nil
	case int64, float64:
		text, err := numberText(v)
		if err != nil {
			return nil, &posError{msg: fmt.Sprintf("%s: %v", path, err)}
		}
		return &node{kind: kindNumber, text: text}, nil
	case time.Time:
		return &node{kind: kindString, text: v.Format(time.RFC3339Nano)}, nil
	case fmt.Stringer: // local dates and times
		return &node{kind: kindString, text: v.String()}, nil
	}
	return nil, &posError{msg: fmt.Sprintf("%s: cannot read a value of type %T", path, v)}
}

// compare orders two keys of the map at path as the file does.
func (r *tomlReader) compare(path toml.Key, a, b string) int {
	pa, oka := r.order[append(path[:len(path):len(path)], a).String()]
	pb, okb := r.order[append(path[:len(path):len(path)], b).String()]
	switch {
	case oka && okb && pa != pb:
		return pa - pb
	case oka != okb:
		if oka {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// tomlSource is the file's lines as far as placing apps and keys needs:
// which lines are code (not inside a multi-line string) and where the
// [[apps]] headers are.
type tomlSource struct {
	lines []string
	code  []bool
	apps  []int // 0-based indexes of the [[apps]] header lines
}

func scanTOML(data []byte) *tomlSource {
	s := &tomlSource{lines: strings.Split(string(data), "\n")}
	s.code = make([]bool, len(s.lines))
	in := "" // the closing delimiter of the multi-line string we are in
	for i, l := range s.lines {
		s.code[i] = in == ""
		for j := 0; j < len(l); {
			if in != "" {
				k := strings.Index(l[j:], in)
				if k < 0 {
					break
				}
				j, in = j+k+3, ""
				continue
			}
			switch rest := l[j:]; {
			case strings.HasPrefix(rest, `"""`) || strings.HasPrefix(rest, `'''`):
				in, j = rest[:3], j+3
			case rest[0] == '#':
				j = len(l)
			case rest[0] == '"' || rest[0] == '\'':
				j += quotedLen(rest)
			default:
				j++
			}
		}
		if name, ok := s.header(i); ok && name == "[apps]" {
			s.apps = append(s.apps, i)
		}
	}
	return s
}

// quotedLen is the length of the one-line string s starts with (to its
// closing quote, or the whole line).
func quotedLen(s string) int {
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q == '"':
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return len(s)
}

// header is the name of the table line i opens ("apps.env", or "[apps]"
// for an array of tables), without spaces.
func (s *tomlSource) header(i int) (string, bool) {
	if !s.code[i] {
		return "", false
	}
	l := strings.TrimSpace(s.lines[i])
	if !strings.HasPrefix(l, "[") {
		return "", false
	}
	end := strings.LastIndex(l, "]")
	if end < 0 {
		return "", false
	}
	return strings.Join(strings.Fields(l[1:end]), ""), true
}

// sectionEnd is the line after the last of the section that starts
// after line from, up to limit: where the next table header is.
func (s *tomlSource) sectionEnd(from, limit int) int {
	for i := from + 1; i < limit; i++ {
		if _, ok := s.header(i); ok {
			return i
		}
	}
	return limit
}

// keyLine is the 1-based line in [from, to) that sets key (as a bare or
// quoted key, or the first part of a dotted one), 0 if none does.
func (s *tomlSource) keyLine(from, to int, key string) int {
	forms := []string{key, `"` + key + `"`, `'` + key + `'`}
	for i := from; i < to; i++ {
		if !s.code[i] {
			continue
		}
		l := strings.TrimLeft(s.lines[i], " \t")
		for _, f := range forms {
			if rest, ok := strings.CutPrefix(l, f); ok {
				rest = strings.TrimLeft(rest, " \t")
				if strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, ".") {
					return i + 1
				}
			}
		}
	}
	return 0
}

// tableLine is the 0-based line in [from, to) that opens table name,
// -1 if none does.
func (s *tomlSource) tableLine(from, to int, name string) int {
	for i := from; i < to; i++ {
		if h, ok := s.header(i); ok && h == name {
			return i
		}
	}
	return -1
}

// place sets the lines of the apps of the file's [[apps]] tables, of
// their keys and of the keys of their tables (env). Apps written another
// way (an inline array) keep line 0.
func (s *tomlSource) place(root *node) {
	if root.kind != kindMap {
		return
	}
	var apps *node
	for i := range root.fields {
		f := &root.fields[i]
		if f.key == "apps" {
			apps = f.val
			if len(s.apps) > 0 {
				f.line = s.apps[0] + 1
			}
		} else {
			first := len(s.lines)
			if len(s.apps) > 0 {
				first = s.apps[0]
			}
			f.line = s.keyLine(0, s.sectionEnd(-1, first), f.key)
		}
		f.val.line = f.line
	}
	if apps == nil || apps.kind != kindList || len(apps.items) != len(s.apps) {
		return
	}
	for i, app := range apps.items {
		start, end := s.apps[i], len(s.lines)
		if i+1 < len(s.apps) {
			end = s.apps[i+1]
		}
		app.line = start + 1
		own := s.sectionEnd(start, end)
		for j := range app.fields {
			f := &app.fields[j]
			t := s.tableLine(own, end, "apps."+f.key)
			if f.line = s.keyLine(start+1, own, f.key); f.line == 0 && t >= 0 {
				f.line = t + 1
			}
			f.val.line = f.line
			if f.val.kind != kindMap {
				continue
			}
			for k := range f.val.fields {
				sub := &f.val.fields[k]
				if t >= 0 {
					sub.line = s.keyLine(t+1, s.sectionEnd(t, end), sub.key)
				}
				if sub.line == 0 {
					sub.line = f.line
				}
				sub.val.line = sub.line
			}
		}
	}
}
