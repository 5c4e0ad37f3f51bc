package api

import (
	"fmt"
	"strconv"
	"strings"
)

// A command that starts the daemon (`opm daemon run`, detached) hands it
// the write end of a pipe as the descriptor named by ReadyFDEnv; the
// daemon writes exactly one line to it, then closes it:
//
//	ready <pid>       it serves, on the socket of the runtime directory
//	running           another daemon holds the lock; this one exits
//	error <message>   it could not start, and says why
const ReadyFDEnv = "OPM_READY_FD"

// Readiness is one readiness line, parsed.
type Readiness struct {
	// Kind is ReadyServing, ReadyRunning or ReadyFailed.
	Kind    string
	PID     int    // with ReadyServing
	Message string // with ReadyFailed
}

// Kinds of readiness lines.
const (
	ReadyServing = "ready"
	ReadyRunning = "running"
	ReadyFailed  = "error"
)

// Line is the readiness line without its newline; a message is kept on
// one line.
func (r Readiness) Line() string {
	switch r.Kind {
	case ReadyServing:
		return fmt.Sprintf("%s %d", ReadyServing, r.PID)
	case ReadyFailed:
		return ReadyFailed + " " + strings.ReplaceAll(r.Message, "\n", " ")
	}
	return ReadyRunning
}

// ParseReadiness reads a readiness line (without its newline).
func ParseReadiness(line string) (Readiness, error) {
	kind, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch kind {
	case ReadyServing:
		pid, err := strconv.Atoi(rest)
		if err != nil || pid <= 0 {
			break
		}
		return Readiness{Kind: ReadyServing, PID: pid}, nil
	case ReadyRunning:
		if rest == "" {
			return Readiness{Kind: ReadyRunning}, nil
		}
	case ReadyFailed:
		return Readiness{Kind: ReadyFailed, Message: strings.TrimSpace(rest)}, nil
	}
	return Readiness{}, fmt.Errorf("unexpected readiness line %q", line)
}
