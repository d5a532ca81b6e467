// Package ingest holds what every source parser shares: parse errors that name file,
// line and column, warnings, the load report, text decoding (UTF-8 or Windows-1252),
// delimiter sniffing, French number parsing and terminal progress. The parsers of each
// source live in its sub-packages; storage lives in internal/postgres.
package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/coopol/coopol/internal/errs"
)

// ParseError locates a problem in a source file. It prints as file:line:col: cause, and
// unwraps to both its cause and errs.ErrInvalid.
type ParseError struct {
	File string
	Line int64 // 1-based; 0 when unknown
	Col  int   // 1-based field (CSV) or byte column; 0 when unknown
	Err  error
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Col, e.Err)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

// Unwrap lets errors.Is see both the cause and errs.ErrInvalid.
func (e *ParseError) Unwrap() []error { return []error{e.Err, errs.ErrInvalid} }

// Errorf returns a ParseError for file at line and col.
func Errorf(file string, line int64, col int, format string, args ...any) error {
	return &ParseError{File: file, Line: line, Col: col, Err: fmt.Errorf(format, args...)}
}

// AsParseError reports whether err holds a ParseError.
func AsParseError(err error) (*ParseError, bool) {
	var pe *ParseError
	ok := errors.As(err, &pe)
	return pe, ok
}

// Warning is an inconsistency that real files do contain (a bureau with results but no
// contour, votes that do not sum to exprimés): the data are loaded, the warning is kept
// with the dataset and can be queried later.
type Warning struct {
	Line    int64  `json:"line,omitempty"`
	Code    string `json:"code"`          // short machine name: "votes_sum", "no_contour", "repaired_geometry"
	Key     string `json:"key,omitempty"` // the bureau, IRIS or cell concerned
	Message string `json:"message"`
}

// Match says how a loaded file joins the other side: results against bureau contours,
// contours against results.
type Match struct {
	Against   string   `json:"against"`
	Matched   int      `json:"matched"`
	OnlyHere  []string `json:"only_here"`  // keys of this file with no counterpart
	OnlyOther []string `json:"only_other"` // keys of the other side absent from this file
}

// Report is what a load did, printed by `coopol ingest --json`.
type Report struct {
	Kind      string    `json:"kind"`
	File      string    `json:"file"`
	SHA256    string    `json:"sha256"`
	Scope     string    `json:"scope"` // what a later load of the same scope replaces: "lg2024/1", "2022", …
	Layout    string    `json:"layout,omitempty"`
	DatasetID int64     `json:"dataset_id"`
	Unchanged bool      `json:"unchanged"` // the same file was already the current load: nothing changed
	Rows      int64     `json:"rows"`
	Warnings  []Warning `json:"warnings"`
	Match     *Match    `json:"match,omitempty"`
	Seconds   float64   `json:"seconds"`
}

// FileSHA256 returns the hex SHA-256 of a file, read in a stream.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("ingest: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("ingest: hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
