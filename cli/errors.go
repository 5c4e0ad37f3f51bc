package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"opm/daemon/api"
)

// Exit statuses of the opm command.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// exitError carries the exit status an error should end the command with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports bad usage (exit status 2): an unknown command, a
// missing argument, a bad flag value.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// failuref reports a failure (exit status 1) that is not an error of ours,
// such as an app that did not come up.
func failuref(format string, args ...any) error {
	return &exitError{code: ExitFailure, err: fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by App.Run to the process exit status:
// 0 for nil, 2 for bad usage (including the daemon's bad_request and
// not_found answers), 1 for everything else.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if api.UsageCode(api.CodeOf(err)) {
		return ExitUsage
	}
	return ExitFailure
}

// explain adds what to do next to an error answered by the daemon, when the
// daemon's own message does not already say it.
func explain(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the opm daemon did not answer in time (check 'opm daemon status' and %s)", api.DaemonLogName)
	}
	var ae *api.Error
	// A message that ends with a hint in parentheses already says what to do.
	if !errors.As(err, &ae) || strings.HasSuffix(strings.TrimSpace(ae.Message), ")") {
		return err
	}
	switch ae.Code {
	case api.CodeNotFound:
		return fmt.Errorf("%w (see 'opm list')", err)
	case api.CodeForbidden:
		return fmt.Errorf("%w (the daemon belongs to another user; set OPM_HOME to your own directory)", err)
	case api.CodeBusy:
		return fmt.Errorf("%w (try again when it is done; see 'opm daemon status')", err)
	case api.CodeInternal:
		return fmt.Errorf("%w (see the daemon log, %s)", err, api.DaemonLogName)
	}
	return err
}
