// Package tiles holds the files of coopol's vector tiles that are not Go: the MapLibre
// style of the preview map and the design notes (README.md). The engine is in
// internal/tiles.
package tiles

import _ "embed"

// Style is the MapLibre style of the preview map; "{base}" stands for the server's URL.
//
//go:embed style.json
var Style []byte
