package ecosystem

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is an ecosystem file that cannot be used: which file, where, which
// app and key, and what is wrong. Nothing from such a file is started;
// the CLI exits 2 on it, as on any bad usage.
type Error struct {
	// File is the file as the caller named it.
	File string
	// Line is where the fault is, from 1; 0 when unknown.
	Line int
	// App is the app's name when known; Index its position among the
	// file's apps, from 1 (0: the fault is not in one app).
	App   string
	Index int
	// Key is the key at fault ("max_restarts", "env.PORT"), if any.
	Key string
	// Msg says what is wrong: for a value, the type expected and the
	// value found. Empty: Err says it.
	Msg string
	// Err is the underlying cause, if any (a parser's error, a missing
	// file), for errors.Is and errors.As.
	Err error
}

// Error reads "ecosystem.yaml:7: app "web": max_restarts: want a whole
// number, got "many"".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	switch {
	case e.App != "":
		fmt.Fprintf(&b, "app %q: ", e.App)
	case e.Index > 0:
		fmt.Fprintf(&b, "app #%d: ", e.Index)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	switch {
	case e.Msg != "":
		b.WriteString(e.Msg)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
