package api

import (
	"errors"
	"fmt"
)

// Error codes carried in Error.Code. The CLI maps CodeBadRequest and
// CodeNotFound to exit status 2 (the user typed something wrong) and every
// other code to 1.
const (
	CodeBadRequest = "bad_request" // malformed or invalid request
	CodeNotFound   = "not_found"   // no app matches the target
	CodeConflict   = "conflict"    // e.g. an app with that name exists
	CodeForbidden  = "forbidden"   // peer is another user
	CodeInternal   = "internal"    // the daemon failed to do what was asked
	CodeBusy       = "busy"        // e.g. a restore is in progress
)

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
