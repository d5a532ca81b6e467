package tiles

import (
	"fmt"
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// jaggedGrid returns n×n square faces of side s whose shared edges zigzag: each edge is
// generated once and used by both faces, as in real contours.
func jaggedGrid(n int, s float64) []orb.MultiPolygon {
	edge := func(a, b orb.Point) []orb.Point {
		var pts []orb.Point
		for i := 0; i <= 20; i++ {
			f := float64(i) / 20
			p := orb.Point{a[0] + (b[0]-a[0])*f, a[1] + (b[1]-a[1])*f}
			if i > 0 && i < 20 {
				w := s / 30 * math.Sin(float64(i)*1.7+a[0]+a[1]) // same for both faces
				if a[0] == b[0] {
					p[0] += w
				} else {
					p[1] += w
				}
			}
			pts = append(pts, p)
		}
		return pts
	}
	corner := func(i, j int) orb.Point { return orb.Point{float64(i) * s, float64(j) * s} }
	var out []orb.MultiPolygon
	for i := range n {
		for j := range n {
			var r orb.Ring
			for _, e := range [][2]orb.Point{{corner(i, j), corner(i+1, j)}, {corner(i+1, j), corner(i+1, j+1)}} {
				r = append(r, edge(e[0], e[1])[:20]...)
			}
			top := edge(corner(i, j+1), corner(i+1, j+1))
			left := edge(corner(i, j), corner(i, j+1))
			for k := 20; k > 0; k-- {
				r = append(r, top[k])
			}
			for k := 20; k > 0; k-- {
				r = append(r, left[k])
			}
			r = append(r, r[0])
			out = append(out, orb.MultiPolygon{{r}})
		}
	}
	return out
}

func TestGeneralised_neighboursShareSimplifiedBorders(t *testing.T) {
	const n, side = 4, 1000.0
	topo, faces := buildTopology(jaggedGrid(n, side))
	// 2·n·(n+1) grid edges, cut at the (n+1)² corners where three or four faces meet,
	// except the outer ring's corners that only two faces share.
	if len(topo.arcs) < 2*n*(n+1)-4 {
		t.Fatalf("%d arcs, want the grid's shared edges", len(topo.arcs))
	}
	var rings []checkedRing
	for _, f := range faces {
		rings = append(rings, layerShape{polys: [][]topoPolygon{f}}.rings()...)
	}
	for _, tol := range []float64{10, 100, 3 * side} {
		arcs := topo.generalised(tol, rings)
		geoms := make([]orb.MultiPolygon, len(faces))
		for i, f := range faces {
			geoms[i] = multiPolygonOf(f, arcs)
			if a := planar.Area(geoms[i]); a <= 0 {
				t.Errorf("tol %v: face %d lost its area (%v): small faces must keep a minimal shape", tol, i, a)
			}
		}
		// Horizontal neighbours i and i+n share the same simplified vertices on their border.
		for i := 0; i+n < len(geoms); i++ {
			a, b := vertexSet(geoms[i]), vertexSet(geoms[i+n])
			shared := 0
			for p := range a {
				if b[p] {
					shared++
				}
			}
			if shared < 2 {
				t.Errorf("tol %v: faces %d and %d share %d vertices, want their whole border", tol, i, i+n, shared)
			}
		}
	}
}

func vertexSet(mp orb.MultiPolygon) map[orb.Point]bool {
	m := map[orb.Point]bool{}
	for _, p := range mp {
		for _, r := range p {
			for _, q := range r {
				m[q] = true
			}
		}
	}
	return m
}

func TestDissolve_communeIsItsBureaux(t *testing.T) {
	grid := jaggedGrid(4, 1000)
	topo, faces := buildTopology(grid)
	group := make([]int, len(faces))
	for i := range group {
		group[i] = (i / 4) / 2 // two columns per group: two groups of 8 faces
	}
	polys := topo.dissolve(faces, group, 2)
	for g, p := range polys {
		if len(p) != 1 || len(p[0]) != 1 {
			t.Fatalf("group %d: %d polygons, want one shell without holes", g, len(p))
		}
		var want float64
		for i, f := range grid {
			if group[i] == g {
				want += planar.Area(f)
			}
		}
		if a := planar.Area(multiPolygonOf(p, topo.arcs)); math.Abs(a-want) > want*1e-6 { // vertices are snapped to the centimetre
			t.Errorf("group %d: area %v, want its faces' %v", g, a, want)
		}
	}
}

func TestCache_boundedByBytes(t *testing.T) {
	c := newCache(100 << 10)
	for i := range 100 {
		c.put(fmt.Sprint(i), &Tile{Gzip: make([]byte, 4<<10), Version: "1"})
	}
	n, size := c.stats()
	if size > 100<<10 || n >= 100 {
		t.Fatalf("cache holds %d entries, %d bytes; want at most 100 KiB", n, size)
	}
	if _, ok := c.get("99", "1"); !ok {
		t.Error("the most recent entry was evicted")
	}
	if _, ok := c.get("0", "1"); ok {
		t.Error("the oldest entry is still there")
	}
	if _, ok := c.get("99", "2"); ok {
		t.Error("an entry of another version was served")
	}
}

func TestRoundMultiPolygon_orientsForMVT(t *testing.T) {
	// Counter-clockwise on screen (y down) must come out as an exterior ring: positive area.
	ccw := orb.MultiPolygon{{{{0, 0}, {0, 10}, {10, 10}, {10, 0}, {0, 0}}}}
	if ringArea(ccw[0][0]) > 0 {
		t.Fatal("test ring is already positive")
	}
	got := roundMultiPolygon(ccw)
	if len(got) != 1 || ringArea(got[0][0]) <= 0 {
		t.Fatalf("exterior ring area %v, want positive", ringArea(got[0][0]))
	}
	if got := roundMultiPolygon(orb.MultiPolygon{{{{0, 0}, {0.2, 0}, {0.2, 0.2}, {0, 0}}}}); len(got) != 0 {
		t.Fatalf("a sub-unit polygon rounds to %v, want nothing (the encoder then draws a minimal square)", got)
	}
}
