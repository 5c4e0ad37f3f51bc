package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"ascii", "web-1 app.js --port 80", "web-1 app.js --port 80"},
		{"accented", "café", "café"},
		{"japanese", "日本", "日本"},
		{"emoji", "🚀", "🚀"},
		{"no-break space", "a\u00a0b", "a\u00a0b"},
		{"replacement character", "\ufffd", "\ufffd"},
		{"backslash stays", `C:\dir \x1b`, `C:\dir \x1b`},
		{"newline", "a\nb", `a\nb`},
		{"carriage return", "ok\rFAKE", `ok\rFAKE`},
		{"tab", "a\tb", `a\tb`},
		{"escape sequence", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"NUL", "a\x00b", `a\x00b`},
		{"DEL", "a\x7f", `a\x7f`},
		{"C1 next line", "a\u0085b", `a\u0085b`},
		{"C1 CSI", "\u009b31m", `\u009b31m`},
		{"bidi override", "\u202etxt.exe", `\u202etxt.exe`},
		{"zero-width space", "we\u200bb", `we\u200bb`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"tag character", "a\U000e0041", `a\U000e0041`},
		{"invalid byte", "caf\xe9", `caf\xe9`},
		{"truncated sequence", "\xe6\x97", `\xe6\x97`},
		{"mixed", "日\xff\u202e本\n", `日\xff\u202e本\n`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// JSON output escapes what a terminal would act on and stays the same
// JSON value.
func TestEscapeJSON(t *testing.T) {
	for _, s := range []string{"plain", "café 日本 🚀", "a\u0085b\u009b", "\u202eevil\u200b", "x\u2028y", "tag\U000e0041", "\x1b[31m\r\n"} {
		raw, err := json.Marshal(map[string]string{"v": s})
		if err != nil {
			t.Fatal(err)
		}
		out := escapeJSON(raw)
		if !json.Valid(out) {
			t.Fatalf("escapeJSON(%s) = %s, not JSON", raw, out)
		}
		if strings.ContainsFunc(string(out), func(r rune) bool { return r < ' ' || mustEscape(r) }) {
			t.Errorf("escapeJSON(%s) = %q, still raw", raw, out)
		}
		var back map[string]string
		if err := json.Unmarshal(out, &back); err != nil || back["v"] != s {
			t.Errorf("escapeJSON(%s) decodes to %q, %v; want %q", raw, back["v"], err, s)
		}
	}
	if got := string(escapeJSON([]byte(`{"v":"café"}`))); got != `{"v":"café"}` {
		t.Errorf("printable JSON changed: %s", got)
	}
}
