package ecosystem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"unicode/utf8"
)

// posError is a fault at a line of the file (0: unknown), before the
// loader names the file.
type posError struct {
	line int
	msg  string
	err  error
}

func (e *posError) Error() string { return e.msg }
func (e *posError) Unwrap() error { return e.err }

// lineIndex finds the line of a byte offset.
type lineIndex []int // offsets of the newlines

func newLineIndex(data []byte) lineIndex {
	var idx lineIndex
	for i, c := range data {
		if c == '\n' {
			idx = append(idx, i)
		}
	}
	return idx
}

// line is the 1-based line holding the byte at offset.
func (idx lineIndex) line(offset int64) int {
	return sort.Search(len(idx), func(i int) bool { return int64(idx[i]) >= offset }) + 1
}

// parseJSON reads a JSON document into nodes, with the line each value
// starts on; without lines (node's one-line output), every line is 0.
// A key twice in one object is refused: JSON would keep the last one
// silently.
func parseJSON(data []byte, withLines bool) (*node, error) {
	r := &jsonReader{dec: json.NewDecoder(bytes.NewReader(data)), withLines: withLines}
	if withLines {
		r.lines = newLineIndex(data)
	}
	if !utf8.Valid(data) {
		bad := invalidUTF8(data)
		return nil, &posError{line: r.lineAt(int64(bad)), msg: "the file is not valid UTF-8 text"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &posError{msg: "the file is empty (want {\"apps\": [...]})"}
	}
	r.dec.UseNumber()
	root, err := r.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := r.dec.Token(); err != io.EOF {
		return nil, &posError{line: r.lineAt(r.dec.InputOffset()), msg: "cannot parse JSON: more data after the end of the document (one object or list per file)"}
	}
	return root, nil
}

// invalidUTF8 is the offset of the first byte of data that is not UTF-8.
func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

type jsonReader struct {
	dec       *json.Decoder
	lines     lineIndex
	withLines bool
	budget    budget
}

// lineAt is the line of the byte at offset, 0 without lines.
func (r *jsonReader) lineAt(offset int64) int {
	if !r.withLines {
		return 0
	}
	return r.lines.line(offset)
}

// token reads the next token and the line it ends on (a token never
// spans lines).
func (r *jsonReader) token() (json.Token, int, error) {
	tok, err := r.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, 0, &posError{line: r.lineAt(se.Offset - 1), msg: "cannot parse JSON: " + se.Error(), err: err}
		case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, 0, &posError{line: r.lineAt(r.dec.InputOffset()), msg: "cannot parse JSON: the file ends in the middle of a value", err: err}
		}
		return nil, 0, &posError{line: r.lineAt(r.dec.InputOffset()), msg: "cannot parse JSON: " + err.Error(), err: err}
	}
	return tok, r.lineAt(r.dec.InputOffset() - 1), nil
}

func (r *jsonReader) value(depth int) (*node, error) {
	tok, line, err := r.token()
	if err != nil {
		return nil, err
	}
	if err := r.budget.take(depth); err != nil {
		return nil, &posError{line: line, msg: err.Error()}
	}
	n := &node{line: line}
	switch t := tok.(type) {
	case nil:
		n.kind = kindNull
	case bool:
		n.kind, n.text = kindBool, fmt.Sprint(t)
	case json.Number:
		n.kind, n.text = kindNumber, jsonNumber(t)
	case string:
		n.kind, n.text = kindString, t
	case json.Delim:
		switch t {
		case '[':
			n.kind = kindList
			for r.dec.More() {
				it, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, it)
			}
		case '{':
			n.kind = kindMap
			seen := map[string]int{}
			for r.dec.More() {
				tok, kline, err := r.token()
				if err != nil {
					return nil, err
				}
				key, _ := tok.(string) // the decoder allows only strings here
				if first, dup := seen[key]; dup {
					return nil, &posError{line: kline, msg: duplicateKey(key, first, kline)}
				}
				seen[key] = kline
				val, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.fields = append(n.fields, field{key: key, line: kline, val: val})
			}
		}
		if _, _, err := r.token(); err != nil { // the closing ']' or '}'
			return nil, err
		}
	}
	return n, nil
}

// jsonNumber is a number as the other formats give it, and as JavaScript
// prints it: 3000.0 and 3e3 are 3000.
func jsonNumber(n json.Number) string {
	if _, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return n.String()
	}
	f, err := n.Float64()
	if err != nil {
		return n.String() // beyond float64: kept as written
	}
	text, err := numberText(f)
	if err != nil {
		return n.String()
	}
	return text
}

// duplicateKey says that key appears twice in one map.
func duplicateKey(key string, first, again int) string {
	if first > 0 && again > 0 {
		return fmt.Sprintf("key %q appears twice in the same map (lines %d and %d); keep one", key, first, again)
	}
	return fmt.Sprintf("key %q appears twice in the same map; keep one", key)
}
