package monit

import "bytes"

// key is one key the dashboard acts on.
type key int

const (
	keyNone key = iota
	keyUp
	keyDown
	keyTop
	keyBottom
	keyQuit
	keyRestart
	keyStop
	keyStart
	keyReload
)

// decodeKeys turns what the terminal sent (raw mode) into keys: arrows
// and Home/End in both cursor modes, letters, Ctrl-C. Escape sequences
// of other keys are skipped whole.
func decodeKeys(b []byte) []key {
	var keys []key
	for len(b) > 0 {
		c := b[0]
		b = b[1:]
		if c == 0x1b {
			var k key
			k, b = decodeEscape(b)
			if k != keyNone {
				keys = append(keys, k)
			}
			continue
		}
		switch c {
		case 0x03, 'q', 'Q': // Ctrl-C
			keys = append(keys, keyQuit)
		case 'k', 0x10: // Ctrl-P
			keys = append(keys, keyUp)
		case 'j', 0x0e: // Ctrl-N
			keys = append(keys, keyDown)
		case 'g':
			keys = append(keys, keyTop)
		case 'G':
			keys = append(keys, keyBottom)
		case 'r':
			keys = append(keys, keyRestart)
		case 's':
			keys = append(keys, keyStop)
		case 't':
			keys = append(keys, keyStart)
		case 'l':
			keys = append(keys, keyReload)
		}
	}
	return keys
}

// decodeEscape decodes the escape sequence that b starts after ESC and
// returns the rest.
func decodeEscape(b []byte) (key, []byte) {
	if len(b) == 0 || b[0] != '[' && b[0] != 'O' {
		return keyNone, b // ESC alone, or Alt with a key: nothing
	}
	// CSI or SS3: parameters, then a final byte in @..~.
	i := 1
	for i < len(b) && (b[i] < 0x40 || b[i] > 0x7e) {
		i++
	}
	if i == len(b) {
		return keyNone, nil
	}
	seq, rest := b[1:i+1], b[i+1:]
	switch {
	case bytes.Equal(seq, []byte("A")):
		return keyUp, rest
	case bytes.Equal(seq, []byte("B")):
		return keyDown, rest
	case bytes.Equal(seq, []byte("H")), bytes.Equal(seq, []byte("1~")), bytes.Equal(seq, []byte("5~")):
		return keyTop, rest
	case bytes.Equal(seq, []byte("F")), bytes.Equal(seq, []byte("4~")), bytes.Equal(seq, []byte("6~")):
		return keyBottom, rest
	}
	return keyNone, rest
}
