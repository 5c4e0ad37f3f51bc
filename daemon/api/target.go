package api

import (
	"errors"
	"strings"
)

// TargetAll names every app.
const TargetAll = "all"

// Target is what a command acts on, parsed: the ids and names of a comma
// list ("web,3"), each trimmed, in the order given; "all" among them names
// every app.
type Target []string

// errNoTarget is a target that names nothing.
var errNoTarget = errors.New("no app given (name an app, an id, a comma list of them, or all)")

// ParseTarget splits a target — an id, a name, a comma list of them, or
// "all" — into its parts, refusing one that names nothing.
func ParseTarget(s string) (Target, error) {
	var t Target
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			t = append(t, part)
		}
	}
	if len(t) == 0 {
		return nil, errNoTarget
	}
	return t, nil
}

// All reports whether the target names every app.
func (t Target) All() bool {
	for _, p := range t {
		if p == TargetAll {
			return true
		}
	}
	return false
}

// OnlyIDs reports whether every part is an id or "all": such a target
// can never be a command or a script's name.
func (t Target) OnlyIDs() bool {
	for _, p := range t {
		if p != TargetAll && !IsID(p) {
			return false
		}
	}
	return len(t) > 0
}
