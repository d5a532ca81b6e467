package tiles

import (
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/planar"
)

// square returns a square of side s (tile units of zoom z) at u, v in tile z/x/y, in
// Web Mercator metres.
func square(z, x, y int, u, v, s float64) orb.MultiPolygon {
	b := TileBounds(z, x, y)
	k := (b.Max[0] - b.Min[0]) / Extent
	p := func(a, c float64) orb.Point { return orb.Point{b.Min[0] + a*k, b.Max[1] - c*k} }
	return orb.MultiPolygon{{{p(u, v), p(u, v+s), p(u+s, v+s), p(u+s, v), p(u, v)}}}
}

// renderOne writes one stored feature into a layer of tile z/x/y and decodes it with
// orb, an independent decoder.
func renderOne(t *testing.T, enc []byte, band, z, x, y int) orb.MultiPolygon {
	t.Helper()
	w := newLayerWriter(mustLayer("communes"), newXform(band, z, x, y))
	w.add(&Feature{ID: []byte("92002"), Name: []byte("Antony"), Parent: []byte("92"), Inscrits: 40957, Geom: enc})
	if w.n == 0 {
		return nil
	}
	ls, err := mvt.Unmarshal(w.appendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || len(ls[0].Features) != 1 {
		t.Fatalf("decoded %d layers", len(ls))
	}
	f := ls[0].Features[0]
	if f.Properties["id"] != "92002" || f.Properties["nom"] != "Antony" || f.Properties["departement"] != "92" || f.Properties["inscrits"] != float64(40957) {
		t.Errorf("properties = %v", f.Properties)
	}
	switch g := f.Geometry.(type) {
	case orb.Polygon:
		return orb.MultiPolygon{g}
	case orb.MultiPolygon:
		return g
	}
	t.Fatalf("geometry %T", f.Geometry)
	return nil
}

func TestRender_storedGeometry(t *testing.T) {
	const z, x, y = 10, 518, 352
	for _, tc := range []struct {
		name       string
		geom       orb.MultiPolygon
		band, zoom int
		tx, ty     int
		wantArea   float64 // in tile units², with the sign MVT wants for exterior rings
		wantNone   bool
	}{
		{name: "inside", geom: square(z, x, y, 100, 200, 1000), band: z, zoom: z, tx: x, ty: y, wantArea: 1000 * 1000},
		{name: "clipped to the buffer", geom: square(z, x, y, -1000, -1000, 6000), band: z, zoom: z, tx: x, ty: y, wantArea: (Extent + 2*Buffer) * (Extent + 2*Buffer)},
		{name: "one zoom below its band", geom: square(z, x, y, 100, 200, 1000), band: z, zoom: z - 1, tx: x / 2, ty: y / 2, wantArea: 500 * 500},
		{name: "two zooms above its band", geom: square(z, x, y, 100, 200, 1000), band: z, zoom: z + 2, tx: x * 4, ty: y * 4, wantArea: (Extent + Buffer - 400) * (Extent + Buffer - 800)},
		{name: "too small is a unit square", geom: square(z, x, y, 10, 10, 0.2), band: z, zoom: z - 2, tx: x / 4, ty: y / 4, wantArea: 1},
		{name: "box meets the tile, shape does not", geom: orb.MultiPolygon{{{
			square(z, x, y, -500, -500, 0)[0][0][0], square(z, x, y, -500, 4000, 0)[0][0][0], square(z, x, y, 4000, -500, 0)[0][0][0], square(z, x, y, -500, -500, 0)[0][0][0]}}},
			band: z, zoom: z + 1, tx: 2*x + 1, ty: 2*y + 1, wantNone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderOne(t, EncodeGeometry(tc.geom, tc.band), tc.band, tc.zoom, tc.tx, tc.ty)
			if tc.wantNone {
				if got != nil {
					t.Fatalf("got %v, want no feature", got)
				}
				return
			}
			if a := planar.Area(got); math.Abs(a-tc.wantArea) > tc.wantArea*0.01+1 {
				t.Errorf("area %v, want %v (%v)", a, tc.wantArea, got)
			}
		})
	}
}

func TestRender_holeOfDroppedShellIsDropped(t *testing.T) {
	const z, x, y = 10, 518, 352
	shell := square(z, x, y, 100, 100, 2000)[0][0]
	hole := square(z, x, y, 600, 600, 500)[0][0]
	hole.Reverse()
	tiny := square(z, x, y, 3000, 3000, 0.1)[0][0]
	mp := orb.MultiPolygon{{shell, hole}, {tiny, tiny.Clone()}}
	got := renderOne(t, EncodeGeometry(mp, z), z, z, x, y)
	if len(got) != 1 || len(got[0]) != 2 {
		t.Fatalf("got %d polygons (%v), want the shell with its hole", len(got), got)
	}
	if a := planar.Area(got); math.Abs(a-(2000*2000-500*500)) > 1 {
		t.Errorf("area %v", a)
	}
}

// At its band's zoom a feature the tile holds whole is copied from its stored commands;
// one zoom above, the same rings are decoded, shifted and written again: both must give
// the rounded rings, holes and all, at their place in the tile.
func TestRender_copiedAndDecodedAgree(t *testing.T) {
	const z, x, y = 12, 2074, 1409
	shell := square(z, x, y, 100, 100, 2000)[0][0]
	hole := square(z, x, y, 600, 600, 500)[0][0]
	hole.Reverse()
	other := square(z, x, y, 3000, 2500, 700)[0][0]
	enc := EncodeGeometry(orb.MultiPolygon{{shell, hole}, {other}}, z)
	copied := renderOne(t, enc, z, z, x, y)
	// Zoom z+1, tile 2x, 2y holds the top-left quarter: coordinates double.
	decoded := renderOne(t, enc, z, z+1, 2*x, 2*y)
	if len(copied) != 2 || len(copied[0]) != 2 || len(copied[1]) != 1 {
		t.Fatalf("copied: %v, want a polygon with its hole and another", copied)
	}
	want := orb.Ring{{100, 100}, {2100, 100}, {2100, 2100}, {100, 2100}, {100, 100}}
	if !ringsEqual(copied[0][0], want) {
		t.Errorf("copied shell %v, want %v", copied[0][0], want)
	}
	if a := planar.Area(copied); math.Abs(a-(2000*2000-500*500+700*700)) > 1 {
		t.Errorf("copied area %v", a)
	}
	if len(decoded) != 1 || len(decoded[0]) != 2 {
		t.Fatalf("decoded: %v, want the polygon with its hole (the other is in another quarter)", decoded)
	}
	if a := planar.Area(decoded); math.Abs(a-((Extent+Buffer-200)*(Extent+Buffer-200)-1000*1000)) > 1 {
		t.Errorf("decoded area %v", a)
	}
}

// ringsEqual compares rings whatever their starting point.
func ringsEqual(a, b orb.Ring) bool {
	if len(a) != len(b) {
		return false
	}
	n := len(a) - 1
	for s := range n {
		ok := true
		for i := range n {
			if a[(i+s)%n] != b[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
