package cli

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Escape returns s as it may be shown on a terminal. Printable text is
// left as it is, letters of any script included ("café", "日本");
// everything a terminal would act on, or that would not show as itself,
// is escaped the way Go writes it: control characters ("\n", "\r",
// "\x1b"), C1 controls ("\u0085"), format characters such as bidi
// overrides and zero-width spaces ("\u202e", "\u200b"), other
// unprintable runes, and bytes that are not UTF-8 ("\xff"). A backslash
// stays a backslash: escaped text is for people to read, and --json is
// the lossless form. Every string opm prints that did not come from opm
// itself (names, commands, paths, environments, errors quoting input)
// goes through Escape.
func Escape(s string) string {
	if !strings.ContainsFunc(s, mustEscape) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case mustEscape(r):
			q := strconv.QuoteRune(r) // '\n', '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// escapeEach returns the strings of ss, each escaped.
func escapeEach(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Escape(s)
	}
	return out
}

// mustEscape reports whether r would not show as itself: anything but
// letters, marks, numbers, punctuation, symbols and spaces.
func mustEscape(r rune) bool { return !unicode.IsGraphic(r) }

// escapeJSON escapes, in JSON that encoding/json wrote, what Escape
// escapes in text and JSON leaves raw: C1 controls, format characters
// and other unprintable runes, written as \uXXXX (a surrogate pair above
// U+FFFF). Outside strings JSON is ASCII, and ASCII controls inside
// strings are escaped already, so only non-ASCII runes change; the value
// the JSON decodes to stays the same.
func escapeJSON(data []byte) []byte {
	clean := true
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r >= utf8.RuneSelf && (mustEscape(r) || size <= 1) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return data
	}
	out := make([]byte, 0, len(data)+32)
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r < utf8.RuneSelf || !mustEscape(r) && size > 1:
			out = append(out, data[i:i+size]...)
		case r == utf8.RuneError && size <= 1:
			out = append(out, `\ufffd`...) // not UTF-8: JSON cannot carry it raw
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	return out
}
