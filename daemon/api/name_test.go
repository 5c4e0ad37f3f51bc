package api

import (
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // in the error; "" means accepted
	}{
		{"plain", "web", ""},
		{"dash and digit", "web-1", ""},
		{"underscore", "api_v2", ""},
		{"dot inside", "a.b", ""},
		{"digit first", "3d", ""},
		{"accented", "café", ""},
		{"japanese", "日本", ""},
		{"longest", strings.Repeat("a", MaxNameBytes), ""},
		{"empty", "", "cannot be empty"},
		{"reserved", "all", "reserved"},
		{"number", "42", "mistaken for an id"},
		{"leading dot", ".hidden", "cannot start with"},
		{"leading dash", "-x", "cannot start with"},
		{"too long", strings.Repeat("a", MaxNameBytes+1), "keep it to 100"},
		{"slash", "a/b", `contains '/'`},
		{"comma", "a,b", `contains ','`},
		{"space", "a b", `contains ' '`},
		{"NUL", "a\x00b", "U+0000"},
		{"newline", "web\n", "U+000A"},
		{"escape", "\x1b[31mred", "U+001B"},
		{"DEL", "a\x7f", "U+007F"},
		{"C1 next line", "a\u0085b", "U+0085"},
		{"C1 CSI", "a\u009b31m", "U+009B"},
		{"bidi override", "\u202ebew", "U+202E"},
		{"zero-width space", "we\u200bb", "U+200B"},
		{"zero-width joiner", "a\u200db", "U+200D"},
		{"byte order mark", "\ufeffweb", "U+FEFF"},
		{"no-break space", "a\u00a0b", "U+00A0"},
		{"line separator", "a\u2028b", "U+2028"},
		{"private use", "a\ue000b", "U+E000"},
		{"unassigned", "a\U000e0fffb", "U+E0FFF"},
		{"invalid UTF-8", "web\xff", "not valid UTF-8"},
		{"truncated UTF-8", "caf\xc3", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckName(tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckName(%q): %v", tt.in, err)
				}
				return
			}
			if CodeOf(err) != CodeBadRequest || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckName(%q) = %v, want bad_request containing %q", tt.in, err, tt.want)
			}
			// The message quotes the name escaped, and says what to use.
			msg := err.Error()
			if strings.ContainsFunc(msg, func(r rune) bool { return r < ' ' || (r >= 0x7f && r < 0xa0) || r == '\u202e' || r == '\u200b' }) {
				t.Errorf("message %q holds the raw character", msg)
			}
			if !strings.Contains(msg, "--name") && !strings.Contains(msg, nameHint) && !strings.Contains(msg, "keep it to") {
				t.Errorf("message %q does not say what to use", msg)
			}
		})
	}
}
