// Package web embeds the static files of the web app, so the binary serves them
// without fetching anything at run time.
package web

import "embed"

// FS holds the static files.
//
//go:embed static
var FS embed.FS
