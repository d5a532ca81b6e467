// Package tiles is coopol's vector tile engine: the layer catalogue, the build step that
// generalises polygons per zoom band without opening gaps between neighbours, the
// renderer of Mapbox Vector Tiles, and a byte-bounded cache keyed by data versions.
// Storage stays behind the Store and BuildStore interfaces (internal/postgres).
package tiles

import (
	"fmt"
	"math"
	"strconv"

	"github.com/coopol/coopol/internal/errs"
)

// Extent and Buffer are the tile grid and the margin kept around it, in tile units:
// the buffer lets MapLibre draw strokes across tile edges without seams.
const (
	Extent = 4096
	Buffer = 64
)

// Layer describes one tile layer.
type Layer struct {
	Name    string
	Title   string // French, shown in the preview map
	MinZoom int
	MaxZoom int
	// Bands are the zooms geometry is generalised for at build time; a tile at zoom z
	// reads the smallest band >= z.
	Bands  []int
	Parent string            // attribute holding the parent column, if any
	Fields map[string]string // attribute → description, for TileJSON
}

// CellBand is the band grid cells are stored for: they need no generalisation, and
// every zoom they are shown at shifts the same grid.
const CellBand = 14

// Bands go by two zooms (a tile then reads geometry finer than it needs by at most
// one zoom), except 9: zoom 9 tiles, the densest the communes reach, would otherwise
// read band 10 and carry twice the vertices they can show.
var (
	mapBands  = []int{2, 4, 6, 8, 9, 10, 12, 14}
	fineBands = []int{10, 12, 14}
)

// layers is the catalogue. Zoom ranges follow what a militant sees: départements over
// the whole country, communes from a few départements (zoom 8), bureaux and IRIS from
// a town (zoom 10). They were set on the France-scale set: communes at zoom 6 made
// 700 KB tiles around Paris, bureaux at zoom 9 over 250 KB.
var layers = []Layer{
	{Name: "departements", Title: "Départements", MinZoom: 0, MaxZoom: 14, Bands: mapBands,
		Fields: map[string]string{"id": "code INSEE du département", "nom": "nom", "inscrits": "inscrits"}},
	{Name: "circonscriptions", Title: "Circonscriptions", MinZoom: 4, MaxZoom: 14, Bands: mapBands[1:], Parent: "departement",
		Fields: map[string]string{"id": "département et numéro, 9213", "nom": "nom", "departement": "département", "inscrits": "inscrits"}},
	{Name: "communes", Title: "Communes", MinZoom: 8, MaxZoom: 14, Bands: mapBands[3:], Parent: "departement",
		Fields: map[string]string{"id": "code INSEE", "nom": "nom", "departement": "département", "inscrits": "inscrits"}},
	{Name: "bureaux", Title: "Bureaux de vote", MinZoom: 10, MaxZoom: 14, Bands: fineBands, Parent: "commune",
		Fields: map[string]string{"id": "clé du bureau, 92002_0001", "nom": "nom", "commune": "code INSEE de la commune", "inscrits": "inscrits"}},
	{Name: "iris", Title: "IRIS", MinZoom: 10, MaxZoom: 14, Bands: fineBands, Parent: "commune",
		Fields: map[string]string{"id": "code IRIS", "nom": "nom", "commune": "code INSEE de la commune", "type": "type d'IRIS (H, A, D, Z)"}},
	{Name: "carreaux", Title: "Carreaux de 200 m", MinZoom: 11, MaxZoom: 14, Bands: []int{CellBand},
		Fields: map[string]string{"id": "identifiant INSEE du carreau", "ind": "individus", "men": "ménages"}},
}

// Composite is the name of the tile holding every map layer in its zoom range, which
// is what the preview map loads: one request per tile instead of four.
const Composite = "carte"

var compositeLayers = []string{"departements", "circonscriptions", "communes", "bureaux"}

// Layers returns the catalogue.
func Layers() []Layer { return append([]Layer(nil), layers...) }

// LayerByName returns the named layer, or an error wrapping errs.ErrNotFound.
func LayerByName(name string) (Layer, error) {
	for _, l := range layers {
		if l.Name == name {
			return l, nil
		}
	}
	return Layer{}, fmt.Errorf("tiles: layer %q: %w", name, errs.ErrNotFound)
}

// BandFor returns the band a tile at zoom z reads: the smallest band >= z, so the
// error stays within one pixel, or the finest band beyond it.
func (l Layer) BandFor(z int) int {
	for _, b := range l.Bands {
		if b >= z {
			return b
		}
	}
	return l.Bands[len(l.Bands)-1]
}

// worldSize is the width of the Web Mercator square, in metres.
const worldSize = 2 * 20037508.342789244

// Tolerance returns the simplification tolerance of a band, in Web Mercator metres:
// one pixel of a 512-pixel tile at the band's zoom (MapLibre draws vector tiles at
// 512 pixels), half a pixel one zoom below.
func Tolerance(band int) float64 { return worldSize / (512 * math.Exp2(float64(band))) }

// ParseTile checks z/x/y path values.
func ParseTile(zs, xs, ys string) (z, x, y int, err error) {
	z, err1 := strconv.Atoi(zs)
	x, err2 := strconv.Atoi(xs)
	y, err3 := strconv.Atoi(ys)
	if err1 != nil || err2 != nil || err3 != nil || z < 0 || z > 22 {
		return 0, 0, 0, fmt.Errorf("tiles: tile %s/%s/%s: %w", zs, xs, ys, errs.ErrInvalid)
	}
	if n := 1 << z; x < 0 || y < 0 || x >= n || y >= n {
		return 0, 0, 0, fmt.Errorf("tiles: tile %d/%d/%d outside the grid: %w", z, x, y, errs.ErrInvalid)
	}
	return z, x, y, nil
}
