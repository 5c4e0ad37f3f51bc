package ecosystem

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync"

	"go.yaml.in/yaml/v3"
)

// parseYAML reads a YAML document into nodes, with the line each value
// starts on. Anchors and aliases are followed and merge keys ("<<") are
// applied, as YAML readers do; a second document is refused rather than
// ignored, and so is a key twice in one map.
func parseYAML(data []byte) (*node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, &posError{msg: "the file is empty (want apps: followed by a list of apps)"}
		}
		return nil, yamlError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &posError{line: next.Line, msg: "a second YAML document (after '---'): put every app in the first one's apps list"}
	case err != io.EOF:
		return nil, yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil, &posError{msg: "the file is empty (want apps: followed by a list of apps)"}
	}
	c := &yamlReader{}
	return c.value(doc.Content[0], 0)
}

// yamlLine finds the line in the parser's messages ("yaml: line 7: ...").
var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })

// yamlError turns the parser's error into a positioned one.
func yamlError(err error) error {
	msg := err.Error()
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &posError{line: line, msg: "cannot parse YAML: " + m[2], err: err}
	}
	if rest, ok := bytes.CutPrefix([]byte(msg), []byte("yaml: ")); ok {
		msg = string(rest)
	}
	return &posError{msg: "cannot parse YAML: " + msg, err: err}
}

type yamlReader struct {
	budget budget
}

func (c *yamlReader) value(y *yaml.Node, depth int) (*node, error) {
	if err := c.budget.take(depth); err != nil {
		return nil, &posError{line: y.Line, msg: err.Error(), err: err}
	}
	switch y.Kind {
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, &posError{line: y.Line, msg: fmt.Sprintf("alias *%s names no anchor", y.Value)}
		}
		n, err := c.value(y.Alias, depth)
		var pe *posError
		var tl *tooLarge
		if errors.As(err, &pe) && errors.As(pe.err, &tl) {
			pe.line = y.Line // the alias that expands too far, not its anchor
		}
		if err != nil {
			return nil, err
		}
		return relined(n, y.Line), nil
	case yaml.ScalarNode:
		return c.scalar(y)
	case yaml.SequenceNode:
		n := &node{kind: kindList, line: y.Line}
		for _, it := range y.Content {
			v, err := c.value(it, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
		return n, nil
	case yaml.MappingNode:
		return c.mapping(y, depth)
	case yaml.DocumentNode:
		if len(y.Content) == 1 {
			return c.value(y.Content[0], depth)
		}
	}
	return nil, &posError{line: y.Line, msg: "cannot read this YAML value"}
}

// relined is n as met through an alias: at the alias's line.
func relined(n *node, line int) *node {
	c := *n
	c.line = line
	return &c
}

func (c *yamlReader) scalar(y *yaml.Node) (*node, error) {
	n := &node{line: y.Line, kind: kindString, text: y.Value}
	switch y.ShortTag() {
	case "!!null":
		n.kind, n.text = kindNull, ""
	case "!!bool":
		var b bool
		if err := y.Decode(&b); err != nil {
			return nil, &posError{line: y.Line, msg: "cannot read " + strconv.Quote(y.Value) + " as true or false", err: err}
		}
		n.kind, n.text = kindBool, strconv.FormatBool(b)
	case "!!int", "!!float":
		var v any
		if err := y.Decode(&v); err != nil {
			return nil, &posError{line: y.Line, msg: "cannot read " + strconv.Quote(y.Value) + " as a number", err: err}
		}
		text, err := numberText(v)
		if err != nil {
			return nil, &posError{line: y.Line, msg: err.Error()}
		}
		n.kind, n.text = kindNumber, text
	}
	return n, nil
}

// mapping reads a map; the keys merged in with "<<" come after the map's
// own and never replace one of them.
func (c *yamlReader) mapping(y *yaml.Node, depth int) (*node, error) {
	n := &node{kind: kindMap, line: y.Line}
	own := map[string]int{}
	var merged []field
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			return nil, &posError{line: k.Line, msg: "a key must be a plain name, not a list or a map"}
		}
		if k.ShortTag() == "!!merge" {
			m, err := c.merge(v, depth)
			if err != nil {
				return nil, err
			}
			merged = append(merged, m...)
			continue
		}
		if first, dup := own[k.Value]; dup {
			return nil, &posError{line: k.Line, msg: duplicateKey(k.Value, first, k.Line)}
		}
		own[k.Value] = k.Line
		val, err := c.value(v, depth+1)
		if err != nil {
			return nil, err
		}
		n.fields = append(n.fields, field{key: k.Value, line: k.Line, val: val})
	}
	for _, f := range merged {
		if _, ok := own[f.key]; !ok {
			own[f.key] = f.line
			n.fields = append(n.fields, f)
		}
	}
	return n, nil
}

// merge reads the value of a merge key: a map, or a list of maps of which
// the earlier ones win.
func (c *yamlReader) merge(v *yaml.Node, depth int) ([]field, error) {
	val, err := c.value(v, depth+1)
	if err != nil {
		return nil, err
	}
	maps := []*node{val}
	if val.kind == kindList {
		maps = val.items
	}
	var fields []field
	seen := map[string]bool{}
	for _, m := range maps {
		if m.kind != kindMap {
			return nil, &posError{line: v.Line, msg: "a merge key (<<) takes a map or a list of maps, got " + m.describe()}
		}
		for _, f := range m.fields {
			if !seen[f.key] {
				seen[f.key] = true
				fields = append(fields, f)
			}
		}
	}
	return fields, nil
}
