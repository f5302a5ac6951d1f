package store

import (
	"errors"
	"fmt"
)

// Error codes. The web layer maps each to an HTTP status; only the message of
// a non-internal error is ever shown to a person.
const (
	EINVALID   = "invalid"
	ENOTFOUND  = "not_found"
	ECONFLICT  = "conflict"
	EFORBIDDEN = "forbidden"
	// EUNAUTHORIZED: a presented token does not work.
	EUNAUTHORIZED = "unauthorized"
	// EUNAVAILABLE: the database cannot be reached now; try again soon.
	EUNAVAILABLE = "unavailable"
	EINTERNAL    = "internal"
)

// Error is the one error type the store returns for anything a caller may
// want to tell a person about. Field names the input at fault, if any.
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// fieldError is an EINVALID error about one input field.
func fieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL for anything that is not an
// *Error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the message of err fit for a person: an internal
// error's details never leave the server.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}

// ErrorField returns the input field err is about, or "".
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrUnavailable answers what needs the database while it cannot be
// reached: a token not yet verified by this process, a page, a change.
var ErrUnavailable = &Error{Code: EUNAVAILABLE, Message: "The token service cannot reach its database just now. Please try again shortly."}

// Unavailable reports whether err means the database could not be reached,
// so the request may succeed if tried again shortly.
func (d *DB) Unavailable(err error) bool {
	return ErrorCode(err) == EUNAVAILABLE || d.b.unavailable(err)
}
