package tiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
)

// Feature is one stored feature as the renderer reads it, in Web Mercator metres.
type Feature struct {
	ID       string
	Name     string
	Parent   string
	Kind     string
	Inscrits int64 // -1: unknown
	Ind, Men float64
	Geom     orb.MultiPolygon
}

// TileBounds returns the Web Mercator bounds of tile z/x/y.
func TileBounds(z, x, y int) orb.Bound {
	size := worldSize / math.Exp2(float64(z))
	minX := -worldSize/2 + float64(x)*size
	maxY := worldSize/2 - float64(y)*size
	return orb.Bound{Min: orb.Point{minX, maxY - size}, Max: orb.Point{minX + size, maxY}}
}

// encodeLayer turns features into an MVT layer: projected to tile units, clipped to the
// extent plus buffer, rounded, and never dropped for being small. A feature that
// reaches the tile but rounds to nothing is drawn as a one-unit square at its place,
// so a low-zoom tile still represents every feature it covers.
func encodeLayer(l Layer, z, x, y int, feats []Feature) *mvt.Layer {
	b := TileBounds(z, x, y)
	scale := Extent / (b.Max[0] - b.Min[0])
	box := orb.Bound{Min: orb.Point{-Buffer, -Buffer}, Max: orb.Point{Extent + Buffer, Extent + Buffer}}
	out := &mvt.Layer{Name: l.Name, Version: 2, Extent: Extent}
	for _, f := range feats {
		mp := make(orb.MultiPolygon, 0, len(f.Geom))
		for _, p := range f.Geom {
			tp := make(orb.Polygon, 0, len(p))
			for _, r := range p {
				tr := make(orb.Ring, len(r))
				for i, pt := range r {
					tr[i] = orb.Point{(pt[0] - b.Min[0]) * scale, (b.Max[1] - pt[1]) * scale}
				}
				tp = append(tp, tr)
			}
			mp = append(mp, tp)
		}
		clipped := clip.MultiPolygon(box, mp)
		if len(clipped) == 0 {
			continue // its box met the tile, its shape does not
		}
		geom := roundMultiPolygon(clipped)
		if len(geom) == 0 {
			c := clipped.Bound().Center()
			cx, cy := math.Floor(c[0]), math.Floor(c[1])
			geom = orb.MultiPolygon{{{{cx, cy}, {cx + 1, cy}, {cx + 1, cy + 1}, {cx, cy + 1}, {cx, cy}}}}
		}
		props := geojson.Properties{"id": f.ID}
		if f.Name != "" {
			props["nom"] = f.Name
		}
		if l.Parent != "" && f.Parent != "" {
			props[l.Parent] = f.Parent
		}
		if f.Kind != "" {
			props["type"] = f.Kind
		}
		if f.Inscrits >= 0 && l.Name != "carreaux" && l.Name != "iris" {
			props["inscrits"] = f.Inscrits
		}
		if l.Name == "carreaux" {
			props["ind"] = math.Round(f.Ind*10) / 10
			props["men"] = math.Round(f.Men*10) / 10
		}
		out.Features = append(out.Features, &geojson.Feature{Geometry: geom, Properties: props})
	}
	return out
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

// render builds the tile of one layer, or of the composite, uncompressed.
func (e *Engine) render(ctx context.Context, name string, z, x, y int) ([]byte, error) {
	var names []string
	if name == Composite {
		names = compositeLayers
	} else {
		names = []string{name}
	}
	var ls mvt.Layers
	margin := float64(Buffer) / Extent
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
		var feats []Feature
		collect := func(f Feature) error { feats = append(feats, f); return nil }
		if len(l.Bands) == 0 {
			err = e.store.GridCells(ctx, z, x, y, margin, collect)
		} else {
			err = e.store.TileFeatures(ctx, l.Name, l.BandFor(z), z, x, y, margin, collect)
		}
		if err != nil {
			return nil, err
		}
		if len(feats) > 0 {
			ls = append(ls, encodeLayer(l, z, x, y, feats))
		}
	}
	if len(ls) == 0 {
		return nil, nil
	}
	data, err := mvt.Marshal(ls)
	if err != nil {
		return nil, fmt.Errorf("tiles: encode %s/%d/%d/%d: %w", name, z, x, y, err)
	}
	return data, nil
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}
