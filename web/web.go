// Package web embeds the static files and the page templates of the web app, so the
// binary serves them without fetching or reading anything at run time.
package web

import "embed"

// FS holds the static files.
//
//go:embed static
var FS embed.FS

// Templates holds the html/template pages: layout.html wraps every page.
//
//go:embed templates/*.html
var Templates embed.FS
