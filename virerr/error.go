// Package virerr carries libvirt's error model: every failure that can reach
// a client has a code, a domain and a message formatted the way libvirt's
// virReportError formats it, so that clients print what they would print
// against libvirtd.
package virerr

import (
	"errors"
	"fmt"
)

// Level is a virErrorLevel.
type Level int32

const (
	LevelNone    Level = 0
	LevelWarning Level = 1
	LevelError   Level = 2
)

// Error is a libvirt error as it travels in remote_error.
type Error struct {
	Code    Code
	Domain  Domain
	Message string
	Level   Level
	Str1    string
	Str2    string
	Str3    string
	Int1    int32
	Int2    int32
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is match on code alone, so callers can test
// errors.Is(err, virerr.ErrNoDomain) style sentinels made by Sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinel returns a value usable with errors.Is to match any error of code.
func Sentinel(code Code) error { return &Error{Code: code} }

// Message formats code's standard text around detail, exactly as libvirt's
// virErrorMsg does: the bare text when detail is empty, the "%s" form otherwise.
func Message(code Code, detail string) string {
	m, ok := messages[code]
	if !ok {
		if detail == "" {
			return "unknown error"
		}
		return detail
	}
	if detail == "" {
		return m[0]
	}
	return fmt.Sprintf(m[1], detail)
}

// New builds an error with libvirt's standard message for code.
func New(dom Domain, code Code, format string, args ...any) *Error {
	detail := format
	if len(args) > 0 {
		detail = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Domain: dom, Level: LevelError, Message: Message(code, detail), Str1: Message(code, ""), Str2: detail}
}

// Raw builds an error whose message is used verbatim.
func Raw(dom Domain, code Code, msg string) *Error {
	return &Error{Code: code, Domain: dom, Level: LevelError, Message: msg}
}

// From converts any error into a libvirt error; errors that are not already
// one become VIR_ERR_INTERNAL_ERROR so that nothing reaches a client without a code.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return New(FromNone, ErrInternalError, "%s", err.Error())
}

// CodeOf returns the libvirt code of err, or ErrInternalError.
func CodeOf(err error) Code { return From(err).Code }
