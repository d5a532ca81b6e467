package crosstab

import (
	"math"
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
				a, b := tc.a, tc.b
				if swap {
					a, b = b, a
				}
				if got := IntersectionArea(&a, &b); math.Abs(got-tc.want) > 1e-9 {
					t.Errorf("swap=%v: area %g, want %g", swap, got, tc.want)
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
