package api

import (
	"errors"
	"fmt"
)

// Error codes carried in Error.Code. The CLI exits 2 for the codes that
// mean the user typed something wrong (UsageCode) and 1 for every other.
const (
	CodeBadRequest  = "bad_request"  // malformed or invalid request
	CodeNotFound    = "not_found"    // no app matches the target
	CodeConflict    = "conflict"     // e.g. an app with that name exists
	CodeForbidden   = "forbidden"    // peer is another user
	CodeInternal    = "internal"     // the daemon failed to do what was asked
	CodeBusy        = "busy"         // e.g. a restore is in progress
	CodeStartFailed = "start_failed" // an app's process could not be started
	// The TCP listener's own answers (listen in config.toml).
	CodeUnauthorized = "unauthorized" // no token, or a wrong one (401)
	CodeRateLimited  = "rate_limited" // too many wrong tokens (429)
)

// UsageCode reports whether code means bad usage: the request itself was
// wrong, not the daemon or the app.
func UsageCode(code string) bool { return code == CodeBadRequest || code == CodeNotFound }

// Error is the body of every non-2xx answer.
type Error struct {
	Message string `json:"error"`
	Code    string `json:"code"`
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err if it is (or wraps) an *Error, else "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
