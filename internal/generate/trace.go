package generate

import "math"

// ring is a closed boundary as local vertex ids (j*(w+1)+i) of a patch, without the
// closing repetition.
type ring []int32

// polygon is an exterior ring (counter-clockwise) followed by its holes (clockwise).
type polygon []ring

// trace returns the boundary of the union of cells (all in patch p) as polygons. Each
// edge of a cell whose neighbour is not in the set becomes a directed boundary edge
// with the set on its left. Where two cells of the set touch only by a corner, the
// walk always takes the left turn, so rings never cross and a pinch splits into two
// polygons touching at a point, which is valid.
func trace(p *patch, cells []int32, in func(int32) bool) []polygon {
	w1 := int32(p.w + 1)
	type edge struct{ from, to int32 }
	var edges []edge
	for _, c := range cells {
		k := c - int32(p.firstCell)
		i, j := k%int32(p.w), k/int32(p.w)
		v := j*w1 + i
		if j == 0 || !in(c-int32(p.w)) {
			edges = append(edges, edge{v, v + 1})
		}
		if i == int32(p.w)-1 || !in(c+1) {
			edges = append(edges, edge{v + 1, v + 1 + w1})
		}
		if j == int32(p.h)-1 || !in(c+int32(p.w)) {
			edges = append(edges, edge{v + 1 + w1, v + w1})
		}
		if i == 0 || !in(c-1) {
			edges = append(edges, edge{v + w1, v})
		}
	}
	out := make(map[int32][2]int32, len(edges)) // from → up to two edge indices (+1)
	for k, e := range edges {
		o := out[e.from]
		if o[0] == 0 {
			o[0] = int32(k + 1)
		} else {
			o[1] = int32(k + 1)
		}
		out[e.from] = o
	}
	dir := func(e edge) (int32, int32) {
		d := e.to - e.from
		switch d {
		case 1:
			return 1, 0
		case -1:
			return -1, 0
		case w1:
			return 0, 1
		}
		return 0, -1
	}
	next := func(e edge) int32 {
		o := out[e.to]
		if o[1] == 0 {
			return o[0] - 1
		}
		dx, dy := dir(e)
		lx, ly := -dy, dx // left turn
		if ax, ay := dir(edges[o[0]-1]); ax == lx && ay == ly {
			return o[0] - 1
		}
		return o[1] - 1
	}
	used := make([]bool, len(edges))
	var outers, holes []ring
	var outerArea []int64
	for k := range edges {
		if used[k] {
			continue
		}
		var r ring
		for e := int32(k); ; {
			used[e] = true
			r = append(r, edges[e].from)
			e = next(edges[e])
			if e == int32(k) {
				break
			}
		}
		a := ringArea2(r, w1)
		if a > 0 {
			outers = append(outers, r)
			outerArea = append(outerArea, a)
		} else {
			holes = append(holes, r)
		}
	}
	polys := make([]polygon, len(outers))
	for k, r := range outers {
		polys[k] = polygon{r}
	}
	for _, h := range holes {
		best := 0
		if len(outers) > 1 {
			// A point strictly inside the hole: the centre of the cell on the right of
			// its first edge.
			a, b := h[0], h[1]
			ax, ay := float64(a%w1), float64(a/w1)
			dx, dy := float64(b%w1)-ax, float64(b/w1)-ay
			px, py := ax+dx/2+dy/2, ay+dy/2-dx/2
			bestA := int64(math.MaxInt64)
			for k, r := range outers {
				if outerArea[k] < bestA && pointInRing(px, py, r, w1) {
					best, bestA = k, outerArea[k]
				}
			}
		}
		polys[best] = append(polys[best], h)
	}
	return polys
}

// ringArea2 is twice the signed area of a ring in lattice units.
func ringArea2(r ring, w1 int32) int64 {
	var s int64
	for k := range r {
		a, b := r[k], r[(k+1)%len(r)]
		s += int64(a%w1)*int64(b/w1) - int64(b%w1)*int64(a/w1)
	}
	return s
}

func pointInRing(x, y float64, r ring, w1 int32) bool {
	in := false
	for k := range r {
		a, b := r[k], r[(k+1)%len(r)]
		ax, ay := float64(a%w1), float64(a/w1)
		bx, by := float64(b%w1), float64(b/w1)
		if (ay > y) != (by > y) && x < (bx-ax)*(y-ay)/(by-ay)+ax {
			in = !in
		}
	}
	return in
}

// vertex returns the EPSG:3035 position of a local vertex of p: the lattice point
// moved by a jitter attached to the vertex, so that every polygon using it agrees.
func (g *generator) vertex(p *patch, v int32) (e, n float64) {
	w1 := int32(p.w + 1)
	i, j := v%w1, v/w1
	gv := uint64(p.firstVertex) + uint64(v)
	e = p.e0 + float64(i)*cellSize + (g.unif(sJitterX, gv, 0)-0.5)*2*maxJitter
	n = p.n0 + float64(j)*cellSize + (g.unif(sJitterY, gv, 0)-0.5)*2*maxJitter
	return e, n
}

// projectedArea returns the area in m² of polygons in EPSG:3035 (exterior rings
// count positive, holes negative).
func (g *generator) projectedArea(p *patch, polys []polygon) float64 {
	var s float64
	for _, poly := range polys {
		for _, r := range poly {
			var a float64
			for k := range r {
				// Relative to the patch corner: products of raw EPSG:3035 coordinates
				// (~10¹³) would lose the precision the tiling tests need.
				x1, y1 := g.vertex(p, r[k])
				x2, y2 := g.vertex(p, r[(k+1)%len(r)])
				x1, y1, x2, y2 = x1-p.e0, y1-p.n0, x2-p.e0, y2-p.n0
				a += x1*y2 - x2*y1
			}
			s += a / 2
		}
	}
	return s
}
