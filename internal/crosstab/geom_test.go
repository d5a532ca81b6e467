package crosstab

import (
	"math"
	"slices"
	"testing"

	"github.com/paulmach/orb"
)

// rect builds a planar shape (already projected) from rings of corner lists.
func planar(code string, rings ...[]orb.Point) Shape {
	s := Shape{Code: code, Bound: orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}}
	for i, r := range rings {
		r = append(append([]orb.Point(nil), r...), r[0])
		for _, p := range r {
			s.Bound = s.Bound.Extend(p)
		}
		a := ringArea(r)
		if (i == 0) != (a > 0) {
			reverse(r)
			a = -a
		}
		s.Area += a
		s.Rings = append(s.Rings, r)
	}
	return s
}

func box(x0, y0, x1, y1 float64) []orb.Point {
	return []orb.Point{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}
}

func TestIntersectionArea(t *testing.T) {
	cases := []struct {
		name string
		a, b Shape
		want float64
	}{
		{"disjoint", planar("a", box(0, 0, 1, 1)), planar("b", box(2, 2, 3, 3)), 0},
		{"touching edge", planar("a", box(0, 0, 1, 1)), planar("b", box(1, 0, 2, 1)), 0},
		{"touching part of an edge", planar("a", box(0, 0, 2, 2)), planar("b", box(2, 1, 3, 5)), 0},
		{"overlap", planar("a", box(0, 0, 2, 2)), planar("b", box(1, 1, 3, 3)), 1},
		{"same", planar("a", box(0, 0, 2, 2)), planar("b", box(0, 0, 2, 2)), 4},
		{"inside sharing two edges", planar("a", box(0, 0, 4, 4)), planar("b", box(0, 0, 1, 2)), 2},
		{"inside", planar("a", box(0, 0, 4, 4)), planar("b", box(1, 1, 2, 2)), 1},
		{"hole", planar("a", box(0, 0, 4, 4), box(1, 1, 3, 3)), planar("b", box(0, 0, 4, 2)), 8 - 2},
		{"b fills the hole", planar("a", box(0, 0, 4, 4), box(1, 1, 3, 3)), planar("b", box(1, 1, 3, 3)), 0},
		{"T-junction on a shared edge", planar("a", []orb.Point{{0, 0}, {2, 0}, {4, 0}, {4, 4}, {0, 4}}), planar("b", box(2, 0, 6, 1)), 2},
		{"triangle", planar("a", []orb.Point{{0, 0}, {4, 0}, {0, 4}}), planar("b", box(0, 0, 2, 2)), 4 - 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, swap := range []bool{false, true} {
				for _, indexed := range []bool{false, true} {
					a, b := tc.a, tc.b
					if swap {
						a, b = b, a
					}
					if indexed {
						a.edges, b.edges = newEdgeIndex(&a), newEdgeIndex(&b)
					}
					if got := IntersectionArea(&a, &b); math.Abs(got-tc.want) > 1e-9 {
						t.Errorf("swap=%v indexed=%v: area %g, want %g", swap, indexed, got, tc.want)
					}
				}
			}
		})
	}
}

func TestRectArea(t *testing.T) {
	s := planar("a", box(0, 0, 4, 4), box(1, 1, 3, 3))
	var buf [2][]orb.Point
	for _, tc := range []struct {
		r    orb.Bound
		want float64
	}{
		{orb.Bound{Min: orb.Point{0, 0}, Max: orb.Point{2, 2}}, 3},
		{orb.Bound{Min: orb.Point{-1, -1}, Max: orb.Point{5, 5}}, 12},
		{orb.Bound{Min: orb.Point{1, 1}, Max: orb.Point{3, 3}}, 0},
		{orb.Bound{Min: orb.Point{3.5, 0}, Max: orb.Point{10, 10}}, 2},
	} {
		if got := RectArea(&s, tc.r, &buf); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%v: %g, want %g", tc.r, got, tc.want)
		}
	}
}

// TestCellParts_Lattice checks the rasteriser on shapes that meet the lattice in
// awkward ways, against clipping by each cell.
func TestCellParts_Lattice(t *testing.T) {
	var cells []Cell
	for i := range 12 {
		for j := range 12 {
			if (i*7+j*3)%5 != 0 { // some cells missing, as in the Filosofi grid
				cells = append(cells, Cell{E: 4e6 + float64(i)*200, N: 3e6 + float64(j)*200, Size: 200})
			}
		}
	}
	x, y := 4e6, 3e6
	shapes := []Shape{
		planar("on lines", box(x+200, y+200, x+1000, y+600)),
		planar("vertices on lines", []orb.Point{{x + 200, y + 100}, {x + 800, y + 200}, {x + 1000, y + 1000}, {x + 400, y + 800}}),
		planar("inside a cell", box(x+210, y+410, x+290, y+450)),
		planar("hole", box(x+50, y+50, x+2300, y+2300), box(x+410, y+390, x+1610, y+1800)),
		planar("slanted", []orb.Point{{x + 13.7, y + 1.3}, {x + 2377.1, y + 600.9}, {x + 1200.4, y + 2390.2}}),
		planar("edge along a line", []orb.Point{{x + 400, y + 100}, {x + 400, y + 900}, {x + 150, y + 500}}),
	}
	shapes = append(shapes, Shape{Code: "two parts", Rings: append(slices.Clone(shapes[2].Rings), shapes[1].Rings...),
		Bound: shapes[1].Bound.Union(shapes[2].Bound), Area: shapes[1].Area + shapes[2].Area})
	got, err := CellParts(t.Context(), cells, shapes, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, err := cellPartsClip(t.Context(), cells, shapes, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ c, s int32 }
	m := map[key]float64{}
	for _, p := range want {
		m[key{p.Cell, p.Shape}] = p.Area
	}
	sum := make([]float64, len(shapes))
	for _, p := range got {
		sum[p.Shape] += p.Area
		if a, ok := m[key{p.Cell, p.Shape}]; !ok || math.Abs(a-p.Area) > 1e-6 {
			t.Errorf("%s, cell %v: area %v, want %v", shapes[p.Shape].Code, cells[p.Cell], p.Area, a)
		}
		delete(m, key{p.Cell, p.Shape})
	}
	for k, a := range m {
		t.Errorf("%s, cell %v: area %v missing", shapes[k.s].Code, cells[k.c], a)
	}
	t.Logf("%d parts; areas per shape %v", len(got), sum)
}
