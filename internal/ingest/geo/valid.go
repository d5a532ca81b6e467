package geo

import (
	"encoding/binary"
	"math"
	"slices"
)

// ValidityChecker proves the validity of the common, simple polygons, so that the
// database's GEOS check (ST_IsValid, about 40 µs for a 50-vertex polygon: the largest
// cost of a national load) runs only on the others. It is conservative: true means
// valid in the OGC sense, certainly; false means "ask GEOS", not invalid.
//
// Proven valid: Polygons without holes, and MultiPolygons of such parts whose bounding
// boxes are pairwise disjoint, when every ring is simple: no repeated point, no two
// consecutive collinear segments, no two other segments meeting or even coming close,
// with a tolerance far above float64 rounding. Anything else goes to GEOS.
type ValidityChecker struct {
	pts   [][2]float64
	segs  []segment
	boxes [][4]float64
}

type segment struct {
	minx, maxx float64
	i          int // segment from pts[i] to pts[i+1]
}

// SurelyValid reports whether wkb, as the Reader writes it (little-endian, 2D Polygon or
// MultiPolygon), is certainly a valid polygonal geometry.
func (v *ValidityChecker) SurelyValid(wkb []byte) bool {
	if len(wkb) < 9 || wkb[0] != 1 {
		return false
	}
	le := binary.LittleEndian
	switch le.Uint32(wkb[1:]) {
	case wkbPolygon:
		_, ok := v.polygon(wkb, 0)
		return ok
	case wkbMultiPolygon:
		n := int(le.Uint32(wkb[5:]))
		if n < 1 || n > 256 { // many parts: the pairwise box test would cost more than GEOS
			return false
		}
		v.boxes = v.boxes[:0]
		off := 9
		for range n {
			if len(wkb) < off+9 || wkb[off] != 1 || le.Uint32(wkb[off+1:]) != wkbPolygon {
				return false
			}
			next, ok := v.polygon(wkb, off)
			if !ok {
				return false
			}
			off = next
		}
		for i, a := range v.boxes {
			for _, b := range v.boxes[i+1:] {
				if a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3] {
					return false
				}
			}
		}
		return off == len(wkb)
	}
	return false
}

// polygon checks the polygon at off and returns the offset after it; its bounding box
// is appended to v.boxes.
func (v *ValidityChecker) polygon(wkb []byte, off int) (int, bool) {
	le := binary.LittleEndian
	if len(wkb) < off+13 || le.Uint32(wkb[off+5:]) != 1 { // holes: GEOS checks them
		return 0, false
	}
	n := int(le.Uint32(wkb[off+9:]))
	off += 13
	if n < 4 || len(wkb) < off+16*n {
		return 0, false
	}
	v.pts = v.pts[:0]
	box := [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for i := range n {
		x := math.Float64frombits(le.Uint64(wkb[off+16*i:]))
		y := math.Float64frombits(le.Uint64(wkb[off+16*i+8:]))
		v.pts = append(v.pts, [2]float64{x, y})
		box = [4]float64{min(box[0], x), min(box[1], y), max(box[2], x), max(box[3], y)}
	}
	v.boxes = append(v.boxes, box)
	return off + 16*n, v.simpleRing()
}

// orient returns twice the signed area of the triangle abc and whether its sign is
// certain: the tolerance is 10,000 times Shewchuk's float64 error bound.
func orient(a, b, c [2]float64) (float64, bool) {
	l := (a[0] - c[0]) * (b[1] - c[1])
	r := (a[1] - c[1]) * (b[0] - c[0])
	d := l - r
	return d, math.Abs(d) > 1e-12*(math.Abs(l)+math.Abs(r))
}

// simpleRing reports whether the closed ring v.pts is certainly simple.
func (v *ValidityChecker) simpleRing() bool {
	p := v.pts
	m := len(p) - 1 // segments; p[m] == p[0]
	if p[0] != p[m] {
		return false
	}
	for i := 0; i < m; i++ {
		if p[i] == p[i+1] {
			return false
		}
		// Consecutive segments: a turn of certain sign, so no spike and no overlap.
		if _, ok := orient(p[i], p[i+1], p[(i+2)%m]); !ok { // p[m] is p[0], so p[m+1] is p[1]
			return false
		}
	}
	v.segs = v.segs[:0]
	for i := 0; i < m; i++ {
		v.segs = append(v.segs, segment{min(p[i][0], p[i+1][0]), max(p[i][0], p[i+1][0]), i})
	}
	slices.SortFunc(v.segs, func(a, b segment) int {
		switch {
		case a.minx < b.minx:
			return -1
		case a.minx > b.minx:
			return 1
		}
		return 0
	})
	// Sort and sweep: only segments overlapping in x are compared.
	for k, s := range v.segs {
		for _, t := range v.segs[k+1:] {
			if t.minx > s.maxx {
				break
			}
			i, j := s.i, t.i
			if d := i - j; d == 1 || d == -1 || d == m-1 || d == 1-m { // they share a vertex
				continue
			}
			if !apart(p[i], p[i+1], p[j], p[j+1]) {
				return false
			}
		}
	}
	return true
}

// apart reports whether segments ab and cd certainly neither cross nor touch.
func apart(a, b, c, d [2]float64) bool {
	if max(a[1], b[1]) < min(c[1], d[1]) || max(c[1], d[1]) < min(a[1], b[1]) {
		return true
	}
	d1, ok1 := orient(a, b, c)
	d2, ok2 := orient(a, b, d)
	if ok1 && ok2 && (d1 > 0) == (d2 > 0) { // c and d on the same side of ab
		return true
	}
	d3, ok3 := orient(c, d, a)
	d4, ok4 := orient(c, d, b)
	if ok3 && ok4 && (d3 > 0) == (d4 > 0) {
		return true
	}
	return false
}
