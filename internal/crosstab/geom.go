package crosstab

import (
	"math"

	"github.com/paulmach/orb"

	"github.com/coopol/coopol/internal/projection"
)

// Shape is a zone (bureau, IRIS) projected to EPSG:3035, where areas are true areas:
// LAEA is equal-area, so area ratios do not depend on latitude. Outer rings run
// counter-clockwise and holes clockwise, the orientation the boundary integral of
// IntersectionArea relies on.
type Shape struct {
	Code  string
	Rings [][]orb.Point // closed rings, outer rings and holes alike
	Bound orb.Bound
	Area  float64    // m²
	edges *edgeIndex // built on first heavy use; nil means scan every edge
}

// NewShape projects a lon/lat (multi)polygon and orients its rings.
func NewShape(code string, g orb.Geometry, p *projection.LAEA) Shape {
	s := Shape{Code: code, Bound: orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}}
	var polys []orb.Polygon
	switch g := g.(type) {
	case orb.Polygon:
		polys = []orb.Polygon{g}
	case orb.MultiPolygon:
		polys = g
	}
	for _, poly := range polys {
		for i, ring := range poly {
			if len(ring) < 4 {
				continue
			}
			r := make([]orb.Point, len(ring))
			for j, pt := range ring {
				x, y := p.Forward(pt[0], pt[1])
				r[j] = orb.Point{x, y}
				s.Bound = s.Bound.Extend(r[j])
			}
			r[len(r)-1] = r[0] // closed exactly, whatever the source's rounding
			a := ringArea(r)
			if (i == 0) != (a > 0) { // outer rings counter-clockwise, holes clockwise
				reverse(r)
				a = -a
			}
			s.Area += a
			s.Rings = append(s.Rings, r)
		}
	}
	return s
}

func reverse(r []orb.Point) {
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
}

// ringArea is the signed shoelace area: positive for counter-clockwise rings.
func ringArea(r []orb.Point) float64 {
	var a float64
	for i := 0; i+1 < len(r); i++ {
		a += r[i][0]*r[i+1][1] - r[i+1][0]*r[i][1]
	}
	return a / 2
}

// eps is the distance, in metres, under which a point is taken to lie on an edge.
// Coordinates are about 4e6 m, so float64 rounding is near 1e-9 m; real features are
// centimetres apart at the least (sources round to 1e-6 degree).
const eps = 1e-6

// IntersectionArea returns the area of a ∩ b by Green's theorem: the boundary of the
// intersection is made of the pieces of a's boundary inside b and of b's boundary
// inside a, and its area is the integral of x dy along it. Boundaries shared by both
// shapes (commune borders followed by IRIS and bureaux alike) count once when both
// interiors lie on the same side, and not at all otherwise. No polygon is built, which
// is what makes it several times faster than GEOS's overlay.
func IntersectionArea(a, b *Shape) float64 {
	if !a.Bound.Intersects(b.Bound) {
		return 0
	}
	return boundaryInside(a, b, true) + boundaryInside(b, a, false)
}

// boundaryInside integrates x dy along the parts of s's boundary inside o; parts lying
// on o's boundary count when shared is true and the two edges run the same way.
func boundaryInside(s, o *Shape, shared bool) float64 {
	var total float64
	var ts []float64
	ob := o.Bound.Pad(eps)
	for _, ring := range s.Rings {
		for i := 0; i+1 < len(ring); i++ {
			p0, p1 := ring[i], ring[i+1]
			eb := orb.Bound{Min: orb.Point{min(p0[0], p1[0]), min(p0[1], p1[1])},
				Max: orb.Point{max(p0[0], p1[0]), max(p0[1], p1[1])}}
			if !eb.Intersects(ob) {
				continue // an edge outside o's box is outside o
			}
			ts = splits(ts[:0], p0, p1, eb, o)
			for k := 0; k+1 < len(ts); k++ {
				t0, t1 := ts[k], ts[k+1]
				if t1-t0 < 1e-12 {
					continue
				}
				a := lerp(p0, p1, t0)
				b := lerp(p0, p1, t1)
				m := lerp(p0, p1, (t0+t1)/2)
				switch on := onBoundary(m, p0, p1, o); {
				case on > 0: // on o's boundary, running the same way
					if !shared {
						continue
					}
				case on < 0: // on o's boundary, running the other way: interiors apart
					continue
				default:
					if !inside(m, o) {
						continue
					}
				}
				total += (a[0] + b[0]) / 2 * (b[1] - a[1])
			}
		}
	}
	return total
}

func lerp(a, b orb.Point, t float64) orb.Point {
	return orb.Point{a[0] + (b[0]-a[0])*t, a[1] + (b[1]-a[1])*t}
}

func cross(ax, ay, bx, by float64) float64 { return ax*by - ay*bx }

// splits returns the sorted parameters, 0 and 1 included, where the edge p0→p1 meets
// o's boundary.
func splits(ts []float64, p0, p1 orb.Point, eb orb.Bound, o *Shape) []float64 {
	ts = append(ts, 0, 1)
	rx, ry := p1[0]-p0[0], p1[1]-p0[1]
	rl := math.Hypot(rx, ry)
	if rl == 0 {
		return ts
	}
	eb = eb.Pad(eps)
	if ix := o.edges; ix != nil {
		k0, k1 := ix.strips(eb.Min[1], eb.Max[1])
		for k := k0; k <= k1; k++ {
			for _, e := range ix.e[ix.off[k]:ix.off[k+1]] {
				ring := o.Rings[e.ring]
				q0, q1 := ring[e.i], ring[e.i+1]
				if k > k0 && int(strip(min(q0[1], q1[1]))-ix.s0) < k {
					continue // met in an earlier strip already
				}
				if max(q0[0], q1[0]) < eb.Min[0] || min(q0[0], q1[0]) > eb.Max[0] ||
					max(q0[1], q1[1]) < eb.Min[1] || min(q0[1], q1[1]) > eb.Max[1] {
					continue
				}
				ts = splitAt(ts, p0, rx, ry, rl, q0, q1)
			}
		}
	} else {
		for _, ring := range o.Rings {
			for j := 0; j+1 < len(ring); j++ {
				q0, q1 := ring[j], ring[j+1]
				if max(q0[0], q1[0]) < eb.Min[0] || min(q0[0], q1[0]) > eb.Max[0] ||
					max(q0[1], q1[1]) < eb.Min[1] || min(q0[1], q1[1]) > eb.Max[1] {
					continue
				}
				ts = splitAt(ts, p0, rx, ry, rl, q0, q1)
			}
		}
	}
	sortFloats(ts)
	return ts
}

// splitAt appends where the edge from p0 along r (of length rl) meets the edge q0→q1.
func splitAt(ts []float64, p0 orb.Point, rx, ry, rl float64, q0, q1 orb.Point) []float64 {
	sx, sy := q1[0]-q0[0], q1[1]-q0[1]
	wx, wy := q0[0]-p0[0], q0[1]-p0[1]
	d := cross(rx, ry, sx, sy)
	sl := math.Hypot(sx, sy)
	// A vertex of o on the edge splits it, whether the edges cross or overlap.
	for _, q := range [2]orb.Point{q0, q1} {
		if t, ok := onSegment(q, p0, rx, ry, rl); ok {
			ts = append(ts, t)
		}
	}
	if math.Abs(d) <= 1e-12*rl*sl {
		return ts // parallel: only the vertices above can split
	}
	t := cross(wx, wy, sx, sy) / d
	u := cross(wx, wy, rx, ry) / d
	if t > 0 && t < 1 && u >= 0 && u <= 1 {
		ts = append(ts, t)
	}
	return ts
}

// onSegment reports whether q lies within eps of the segment from p0 along r (of
// length rl), and where.
func onSegment(q, p0 orb.Point, rx, ry, rl float64) (float64, bool) {
	wx, wy := q[0]-p0[0], q[1]-p0[1]
	if math.Abs(cross(rx, ry, wx, wy))/rl > eps {
		return 0, false
	}
	t := (wx*rx + wy*ry) / (rl * rl)
	return t, t > 0 && t < 1
}

// onBoundary tells whether m, the midpoint of a piece of the edge p0→p1, lies on an
// edge of o: 1 when that edge runs the same way, -1 the opposite way, 0 when m is off
// o's boundary.
func onBoundary(m, p0, p1 orb.Point, o *Shape) int {
	rx, ry := p1[0]-p0[0], p1[1]-p0[1]
	if ix := o.edges; ix != nil {
		// One strip holds, in ring order, every edge within eps of m: the same edge
		// answers first. Near a strip line, scan every edge.
		k0, k1 := ix.strips(m[1]-eps, m[1]+eps)
		if k0 > k1 {
			return 0
		}
		if k0 == k1 {
			for _, e := range ix.e[ix.off[k0]:ix.off[k0+1]] {
				ring := o.Rings[e.ring]
				if on := edgeOn(m, rx, ry, ring[e.i], ring[e.i+1]); on != 0 {
					return on
				}
			}
			return 0
		}
	}
	for _, ring := range o.Rings {
		for j := 0; j+1 < len(ring); j++ {
			if on := edgeOn(m, rx, ry, ring[j], ring[j+1]); on != 0 {
				return on
			}
		}
	}
	return 0
}

// edgeOn tells whether m lies on the edge q0→q1: 1 when it runs the way of r, -1 the
// other way, 0 when m is off it.
func edgeOn(m orb.Point, rx, ry float64, q0, q1 orb.Point) int {
	if m[0] < min(q0[0], q1[0])-eps || m[0] > max(q0[0], q1[0])+eps ||
		m[1] < min(q0[1], q1[1])-eps || m[1] > max(q0[1], q1[1])+eps {
		return 0
	}
	sx, sy := q1[0]-q0[0], q1[1]-q0[1]
	sl := math.Hypot(sx, sy)
	if sl == 0 {
		return 0
	}
	wx, wy := m[0]-q0[0], m[1]-q0[1]
	if math.Abs(cross(sx, sy, wx, wy))/sl > eps {
		return 0
	}
	if t := (wx*sx + wy*sy) / (sl * sl); t < -eps/sl || t > 1+eps/sl {
		return 0
	}
	if rx*sx+ry*sy > 0 {
		return 1
	}
	return -1
}

// inside is the even-odd point-in-polygon test over every ring of o.
func inside(p orb.Point, o *Shape) bool {
	if !o.Bound.Contains(p) {
		return false
	}
	in := false
	if ix := o.edges; ix != nil {
		// Only edges spanning p's y can cross the ray, and they all lie in p's strip.
		if k := int(strip(p[1]) - ix.s0); k >= 0 && k < len(ix.off)-1 {
			for _, e := range ix.e[ix.off[k]:ix.off[k+1]] {
				ring := o.Rings[e.ring]
				a, b := ring[e.i+1], ring[e.i]
				if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0]-a[0])*(p[1]-a[1])/(b[1]-a[1])+a[0] {
					in = !in
				}
			}
		}
		return in
	}
	for _, ring := range o.Rings {
		for i, j := 0, len(ring)-2; i < len(ring)-1; j, i = i, i+1 {
			a, b := ring[i], ring[j]
			if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0]-a[0])*(p[1]-a[1])/(b[1]-a[1])+a[0] {
				in = !in
			}
		}
	}
	return in
}

// sortFloats is an insertion sort: the lists are a handful of values long.
func sortFloats(a []float64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// RectArea returns the area of s inside the axis-aligned rectangle r, clipping each
// ring with Sutherland–Hodgman (exact against a convex window). buf is scratch space.
func RectArea(s *Shape, r orb.Bound, buf *[2][]orb.Point) float64 {
	if !s.Bound.Intersects(r) {
		return 0
	}
	if r.Min[0] <= s.Bound.Min[0] && r.Min[1] <= s.Bound.Min[1] && r.Max[0] >= s.Bound.Max[0] && r.Max[1] >= s.Bound.Max[1] {
		return s.Area
	}
	var total float64
	for _, ring := range s.Rings {
		total += clipRingArea(ring, r, buf)
	}
	return total
}

// clipRingArea clips a closed ring to r and returns its signed area.
func clipRingArea(ring []orb.Point, r orb.Bound, buf *[2][]orb.Point) float64 {
	in := append(buf[0][:0], ring[:len(ring)-1]...)
	out := buf[1][:0]
	for edge := range 4 {
		out = out[:0]
		n := len(in)
		if n == 0 {
			break
		}
		for i := range n {
			cur, prev := in[i], in[(i+n-1)%n]
			cin, pin := insideEdge(cur, r, edge), insideEdge(prev, r, edge)
			if cin {
				if !pin {
					out = append(out, cutEdge(prev, cur, r, edge))
				}
				out = append(out, cur)
			} else if pin {
				out = append(out, cutEdge(prev, cur, r, edge))
			}
		}
		in, out = out, in
	}
	buf[0], buf[1] = in, out
	var a float64
	n := len(in)
	for i := range n {
		j := (i + 1) % n
		a += in[i][0]*in[j][1] - in[j][0]*in[i][1]
	}
	return a / 2
}

func insideEdge(p orb.Point, r orb.Bound, edge int) bool {
	switch edge {
	case 0:
		return p[0] >= r.Min[0]
	case 1:
		return p[0] <= r.Max[0]
	case 2:
		return p[1] >= r.Min[1]
	}
	return p[1] <= r.Max[1]
}

func cutEdge(a, b orb.Point, r orb.Bound, edge int) orb.Point {
	switch edge {
	case 0, 1:
		x := r.Min[0]
		if edge == 1 {
			x = r.Max[0]
		}
		t := (x - a[0]) / (b[0] - a[0])
		return orb.Point{x, a[1] + t*(b[1]-a[1])}
	}
	y := r.Min[1]
	if edge == 3 {
		y = r.Max[1]
	}
	t := (y - a[1]) / (b[1] - a[1])
	return orb.Point{a[0] + t*(b[0]-a[0]), y}
}

// Inside reports whether p (EPSG:3035) lies in s.
func (s *Shape) Inside(p orb.Point) bool { return inside(p, s) }
