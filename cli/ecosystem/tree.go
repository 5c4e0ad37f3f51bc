package ecosystem

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// kind is the type of a value in an ecosystem file, whatever its format.
type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindList
	kindMap
)

// node is one value of a parsed file, with the line it starts on (0 when
// the format gives none). Every format is read into nodes, so that one
// decoder gives the same meanings and messages to all of them.
type node struct {
	kind kind
	line int
	// text is a string's value, a number as a JSON number literal, or
	// "true"/"false".
	text   string
	items  []*node // a list's elements
	fields []field // a map's keys, in file order
}

// field is one key of a map and its value.
type field struct {
	key  string
	line int
	val  *node
}

// maxDepth bounds how deeply values may nest: an app is three levels
// deep, and no key's value needs many more.
const maxDepth = 32

// maxNodes bounds the values one file may hold once YAML aliases are
// expanded, so that a small file cannot make a huge tree.
const maxNodes = 1 << 18

// describe prints a value for a message: a scalar as written (strings
// quoted), a list or map by its kind.
func (n *node) describe() string {
	switch n.kind {
	case kindNull:
		return "nothing (null)"
	case kindString:
		s := n.text
		if len(s) > 80 {
			s = s[:77] + "..."
		}
		return strconv.Quote(s)
	case kindList:
		return "a list"
	case kindMap:
		return "a map"
	}
	return n.text
}

// scalarText is a string, number or boolean as text, the way PM2 passes
// such values to a program (an environment variable, an argument).
func (n *node) scalarText() (string, bool) {
	switch n.kind {
	case kindString, kindNumber, kindBool:
		return n.text, true
	}
	return "", false
}

// json encodes the value as JSON, keys in file order.
func (n *node) json() json.RawMessage {
	var b bytes.Buffer
	n.appendJSON(&b)
	return b.Bytes()
}

func (n *node) appendJSON(b *bytes.Buffer) {
	switch n.kind {
	case kindNull:
		b.WriteString("null")
	case kindBool, kindNumber:
		b.WriteString(n.text)
	case kindString:
		s, _ := json.Marshal(n.text)
		b.Write(s)
	case kindList:
		b.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			it.appendJSON(b)
		}
		b.WriteByte(']')
	case kindMap:
		b.WriteByte('{')
		for i, f := range n.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(f.key)
			b.Write(k)
			b.WriteByte(':')
			f.val.appendJSON(b)
		}
		b.WriteByte('}')
	}
}

// numberText is the JSON literal of a number a format decoded, refusing
// what JSON cannot hold (infinities, NaN).
func numberText(v any) (string, error) {
	switch v := v.(type) {
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("%v is not a finite number", v)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("%v is not a number", v)
}

// budget counts the values a file makes and how deep they nest.
type budget struct{ nodes int }

// tooLarge is a file past the limits on values.
type tooLarge struct{ msg string }

func (e *tooLarge) Error() string { return e.msg }

// take accounts for one more value at depth, refusing a file past the
// limits.
func (b *budget) take(depth int) error {
	b.nodes++
	switch {
	case depth > maxDepth:
		return &tooLarge{fmt.Sprintf("values nest more than %d levels deep", maxDepth)}
	case b.nodes > maxNodes:
		return &tooLarge{fmt.Sprintf("more than %d values (with YAML aliases expanded)", maxNodes)}
	}
	return nil
}
