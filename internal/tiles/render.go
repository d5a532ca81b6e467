package tiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"math"
	"sync"

	"github.com/paulmach/orb"
)

// Feature is one stored feature as the renderer reads it.
// Its byte slices may be the store's own memory, reused once the callback returns: the
// renderer copies what it keeps.
type Feature struct {
	Layer    int // index of its layer in the FeatureQuery
	ID       []byte
	Name     []byte
	Parent   []byte
	Kind     []byte
	Inscrits int64 // -1: unknown
	Ind, Men float64
	Geom     []byte // as EncodeGeometry stored it for the band read
}

// FeatureQuery asks for the stored features of some layers, each at its band, whose
// box meets tile Z/X/Y grown by Margin (a fraction of the tile width).
type FeatureQuery struct {
	Layers  []string
	Bands   []int
	Z, X, Y int
	Margin  float64
}

// TileBounds returns the Web Mercator bounds of tile z/x/y.
func TileBounds(z, x, y int) orb.Bound {
	size := worldSize / math.Exp2(float64(z))
	minX := -worldSize/2 + float64(x)*size
	maxY := worldSize/2 - float64(y)*size
	return orb.Bound{Min: orb.Point{minX, maxY - size}, Max: orb.Point{minX + size, maxY}}
}

// roundMultiPolygon rounds to integer tile units, drops repeated points and rings that
// collapse, and orients rings as MVT wants them: exterior rings with a positive
// surveyor's area in tile coordinates (clockwise on screen), holes negative.
func roundMultiPolygon(mp orb.MultiPolygon) orb.MultiPolygon {
	out := mp[:0]
	for _, p := range mp {
		var np orb.Polygon
		for k, r := range p {
			rr := roundRing(r)
			if rr == nil {
				if k == 0 {
					break
				}
				continue
			}
			a := ringArea(rr)
			if (k == 0) != (a > 0) {
				rr.Reverse()
			}
			np = append(np, rr)
		}
		if len(np) > 0 {
			out = append(out, np)
		}
	}
	return out
}

func roundRing(r orb.Ring) orb.Ring {
	out := make(orb.Ring, 0, len(r))
	for _, p := range r {
		q := orb.Point{math.Round(p[0]), math.Round(p[1])}
		if len(out) > 0 && out[len(out)-1] == q {
			continue
		}
		out = append(out, q)
	}
	if len(out) > 0 && out[0] != out[len(out)-1] {
		out = append(out, out[0])
	}
	if len(out) < 4 || ringArea(out) == 0 {
		return nil
	}
	return out
}

func ringArea(r orb.Ring) float64 {
	var s float64
	for i := 1; i < len(r); i++ {
		s += r[i-1][0]*r[i][1] - r[i][0]*r[i-1][1]
	}
	return s / 2
}

// render builds the tile of one layer, or of the composite, uncompressed: one query
// for all its layers, each feature's stored geometry shifted, clipped when it crosses
// the tile's edge, and written straight into the tile.
func (e *Engine) render(ctx context.Context, name string, z, x, y int) ([]byte, error) {
	var names []string
	if name == Composite {
		names = compositeLayers
	} else {
		names = []string{name}
	}
	q := FeatureQuery{Z: z, X: x, Y: y, Margin: float64(Buffer) / Extent}
	var ws []*layerWriter
	for _, n := range names {
		l, err := LayerByName(n)
		if err != nil {
			return nil, err
		}
		if z < l.MinZoom {
			if name == Composite {
				continue
			}
			return nil, nil // MapLibre never asks below minzoom; an empty tile is honest
		}
		band := l.BandFor(z)
		q.Layers, q.Bands = append(q.Layers, l.Name), append(q.Bands, band)
		ws = append(ws, newLayerWriter(l, newXform(band, z, x, y)))
	}
	if len(ws) == 0 {
		return nil, nil
	}
	collect := func(f *Feature) error { ws[f.Layer].add(f); return nil }
	var err error
	if name == "carreaux" {
		err = e.store.TileCells(ctx, q, collect)
	} else {
		err = e.store.TileFeatures(ctx, q, collect)
	}
	if err != nil {
		for _, w := range ws {
			w.release()
		}
		return nil, err
	}
	size := 0
	for _, w := range ws {
		size += w.size()
	}
	var out []byte
	for _, w := range ws {
		if w.n > 0 {
			if out == nil {
				out = make([]byte, 0, size)
			}
			out = w.appendTo(out)
		}
		w.release()
	}
	return out, nil
}

// Compress gzips a rendered tile as the engine stores and serves it.
func Compress(b []byte) []byte { return gzipBytes(b) }

// gzipLevel trades size for speed: every miss pays it, and on a 200 KB tile the default
// level takes three to four times as long as the rest of the render, for 15 % fewer
// bytes (nginx compresses at 1 by default too).
const gzipLevel = gzip.BestSpeed

// gzipWriters keeps compressors: each holds some 800 KB of state, which a new one clears.
var gzipWriters = sync.Pool{New: func() any { zw, _ := gzip.NewWriterLevel(nil, gzipLevel); return zw }}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/2 + 64)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	zw.Write(b)
	zw.Close()
	gzipWriters.Put(zw)
	return buf.Bytes()
}
