package inlet

import (
	"context"
	"errors"
	"fmt"
)

// ErrorKind says why an operation failed; the host decides what to do from it.
type ErrorKind uint8

// The kinds of the WIT enum error-kind, in its order.
const (
	KindConfig    ErrorKind = iota // the configuration is missing, malformed or inconsistent
	KindAuth                       // the source refused the credentials
	KindNetwork                    // the source could not be reached (worth a retry)
	KindSource                     // the source answered with something unusable
	KindCancelled                  // the host asked the sync to stop
	KindInternal                   // a bug or unexpected state in the connector
)

var kindNames = [...]string{"config", "auth", "network", "source", "cancelled", "internal"}

func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("ErrorKind(%d)", uint8(k))
}

// Error is a typed connector error; it crosses to the host as connector-error.
type Error struct {
	Kind    ErrorKind
	Message string
	Err     error // optional cause, for errors.Is/As inside the connector
}

func (e *Error) Error() string { return e.Kind.String() + ": " + e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an *Error of the given kind; a %w verb keeps the cause.
func Errorf(kind ErrorKind, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Message: err.Error(), Err: errors.Unwrap(err)}
}

// ConfigError: the configuration is wrong.
func ConfigError(msg string) *Error { return &Error{Kind: KindConfig, Message: msg} }

// AuthError: the source refused the credentials.
func AuthError(msg string) *Error { return &Error{Kind: KindAuth, Message: msg} }

// NetworkError: the source could not be reached.
func NetworkError(msg string) *Error { return &Error{Kind: KindNetwork, Message: msg} }

// SourceError: the source answered with something unusable.
func SourceError(msg string) *Error { return &Error{Kind: KindSource, Message: msg} }

// CancelledError: the sync was asked to stop.
func CancelledError(msg string) *Error { return &Error{Kind: KindCancelled, Message: msg} }

// InternalError: a bug in the connector.
func InternalError(msg string) *Error { return &Error{Kind: KindInternal, Message: msg} }

// AsError maps any error to the *Error that crosses to the host: an *Error anywhere in the chain
// keeps its kind, context.Canceled is cancelled, net.Error and context.DeadlineExceeded are
// network (as is any error with a Timeout() bool method, like net.Error), anything else is
// internal.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Message == "" {
			return &Error{Kind: e.Kind, Message: err.Error()}
		}
		return e
	}
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Kind: KindCancelled, Message: err.Error(), Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &te):
		return &Error{Kind: KindNetwork, Message: err.Error(), Err: err}
	}
	return &Error{Kind: KindInternal, Message: err.Error(), Err: err}
}
