// Package migrations embeds the forward-only SQL migrations applied by `coopol migrate`.
// Files are named NNNN_short_name.sql and applied in name order; an applied file is
// never edited: add a new one.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
