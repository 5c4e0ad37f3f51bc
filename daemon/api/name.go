package api

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameBytes is the longest app name, in bytes.
const MaxNameBytes = 100

// nameHint says what an app name may be made of.
const nameHint = "use letters, digits, '-', '_' or '.'"

// CheckName refuses an app name that could not be told from a target
// ("all", an id, a comma list), that would make a bad log file name, or
// that would not print as what it is: a name is valid UTF-8 made of
// printable characters, without spaces, control characters (C0, C1) or
// format characters (bidi overrides, zero-width spaces). The daemon
// refuses such a name wherever it meets one (start, dump, runtime
// records); the CLI may check early with the same rule.
func CheckName(name string) error {
	switch {
	case name == "":
		return Errorf(CodeBadRequest, "an app name cannot be empty (use --name)")
	case name == "all":
		return Errorf(CodeBadRequest, "\"all\" is reserved for targeting every app; pick another --name")
	case IsID(name):
		return Errorf(CodeBadRequest, "app name %q is a number and would be mistaken for an id; pick another --name", name)
	case strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-"):
		return Errorf(CodeBadRequest, "app name %q cannot start with %q; pick another --name", name, name[:1])
	case len(name) > MaxNameBytes:
		return Errorf(CodeBadRequest, "app name is %d bytes long; keep it to %d", len(name), MaxNameBytes)
	case !utf8.ValidString(name):
		return Errorf(CodeBadRequest, "app name %q is not valid UTF-8; %s", name, nameHint)
	}
	for _, r := range name {
		switch {
		case r == ' ' || r == '/' || r == ',':
			return Errorf(CodeBadRequest, "app name %q contains %q; %s", name, r, nameHint)
		case !IsNameRune(r):
			return Errorf(CodeBadRequest, "app name %q contains %U, a control, format or other unprintable character; %s", name, r, nameHint)
		}
	}
	return nil
}

// IsNameRune reports whether r may appear in an app name: a printable
// character other than space, '/' and ','.
func IsNameRune(r rune) bool {
	return r != ' ' && r != '/' && r != ',' && unicode.IsPrint(r)
}

// IsID reports whether a target (or one part of a comma list) is an app
// id rather than a name: decimal digits only. No name may be one.
func IsID(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
