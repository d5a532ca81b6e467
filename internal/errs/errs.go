// Package errs defines the error kinds shared by every capability; only internal/server maps them to HTTP.
package errs

import "errors"

var (
	// ErrNotFound: the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the input is malformed or breaks a rule; the message says where.
	ErrInvalid = errors.New("invalid")
	// ErrConflict: the request collides with the current state.
	ErrConflict = errors.New("conflict")
	// ErrForbidden: the caller is known but may not do this (e.g. outside their territory).
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: the caller is not signed in.
	ErrUnauthorized = errors.New("unauthenticated")
)
