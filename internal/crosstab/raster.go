package crosstab

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// lattice indexes the grid cells of one size by row, then column: the cells of row r
// are cols[off[r-r0]:off[r-r0+1]], sorted, with their indices in idx.
type lattice struct {
	size   float64
	r0     int32
	off    []int32
	cols   []int32
	idx    []int32
	misfit []misfit // cells whose corner is off the lattice: clipped one by one
}

type misfit struct {
	cell int32
	b    orb.Bound
}

// newLattices indexes cells by size. A cell whose corner is not a multiple of its size
// (none in Filosofi files) is kept aside and clipped exactly.
func newLattices(cells []Cell) []*lattice {
	bySize := map[float64]*lattice{}
	var out []*lattice
	type rc struct{ row, col, i int32 }
	all := map[float64][]rc{}
	for i, c := range cells {
		l := bySize[c.Size]
		if l == nil {
			l = &lattice{size: c.Size}
			bySize[c.Size] = l
			out = append(out, l)
		}
		col, row := int32(c.E/c.Size), int32(c.N/c.Size)
		if float64(col)*c.Size != c.E || float64(row)*c.Size != c.N {
			l.misfit = append(l.misfit, misfit{int32(i), c.Bound()})
			continue
		}
		all[c.Size] = append(all[c.Size], rc{row, col, int32(i)})
	}
	for _, l := range out {
		v := all[l.size]
		if len(v) == 0 {
			continue
		}
		// Stable, so that of two cells at one place the later wins, as in a map.
		slices.SortStableFunc(v, func(a, b rc) int {
			if c := cmp.Compare(a.row, b.row); c != 0 {
				return c
			}
			return cmp.Compare(a.col, b.col)
		})
		w := 0
		for i := range v {
			if w > 0 && v[w-1].row == v[i].row && v[w-1].col == v[i].col {
				v[w-1] = v[i]
				continue
			}
			v[w] = v[i]
			w++
		}
		v = v[:w]
		l.r0 = v[0].row
		nrows := int(v[len(v)-1].row-l.r0) + 1
		l.off = make([]int32, nrows+1)
		l.cols = make([]int32, len(v))
		l.idx = make([]int32, len(v))
		for i, x := range v {
			l.off[x.row-l.r0+1]++
			l.cols[i], l.idx[i] = x.col, x.i
		}
		for r := range nrows {
			l.off[r+1] += l.off[r]
		}
	}
	return out
}

// row returns the columns and cell indices of row r.
func (l *lattice) row(r int32) ([]int32, []int32) {
	k := int(r - l.r0)
	if k < 0 || k >= len(l.off)-1 {
		return nil, nil
	}
	return l.cols[l.off[k]:l.off[k+1]], l.idx[l.off[k]:l.off[k+1]]
}

// piece is a shape's boundary within one lattice cell: dy is the rise of the boundary
// there and ix the integral of (x − the cell's west side) dy along it.
type piece struct {
	row, col int32
	ix, dy   float64
}

// rasterizer computes the area of a shape in each lattice cell it meets, the way a
// font rasteriser computes coverage: the boundary is cut at the lattice lines, each
// cell gets the integral of x dy of its own pieces, and a running sum of dy along the
// row carries the cells lying wholly inside. The area of s ∩ cell is the integral of
// clamp(x) dy over the boundary, clamping x to the cell's columns and y to its row,
// which is what Sutherland–Hodgman would give, in O(boundary cells + cells) time
// rather than O(cells × vertices). Work buffers are reused from shape to shape.
type rasterizer struct {
	pieces []piece
	ts     []float64
}

// cut returns the pieces of s's boundary on a lattice of the given size, sorted by
// row then column, one per cell.
func (r *rasterizer) cut(s *Shape, size float64) []piece {
	ps := r.pieces[:0]
	for _, ring := range s.Rings {
		for i := 0; i+1 < len(ring); i++ {
			p0, p1 := ring[i], ring[i+1]
			if p0[1] == p1[1] {
				continue // a horizontal edge adds nothing to ∫ x dy
			}
			c0, c1 := math.Floor(p0[0]/size), math.Floor(p1[0]/size)
			r0, r1 := math.Floor(p0[1]/size), math.Floor(p1[1]/size)
			if !(math.Abs(c1-c0)+math.Abs(r1-r0) < 1e7) {
				continue // not finite, or across a continent: not a contour
			}
			if c0 == c1 && r0 == r1 {
				ps = append(ps, piece{row: int32(r0), col: int32(c0),
					ix: ((p0[0]+p1[0])/2 - c0*size) * (p1[1] - p0[1]), dy: p1[1] - p0[1]})
				continue
			}
			ts := append(r.ts[:0], 0, 1)
			dx, dy := p1[0]-p0[0], p1[1]-p0[1]
			for k := min(c0, c1) + 1; k <= max(c0, c1); k++ {
				ts = append(ts, (k*size-p0[0])/dx)
			}
			for k := min(r0, r1) + 1; k <= max(r0, r1); k++ {
				ts = append(ts, (k*size-p0[1])/dy)
			}
			slices.Sort(ts)
			r.ts = ts
			for k := 0; k+1 < len(ts); k++ {
				ta, tb := max(ts[k], 0), min(ts[k+1], 1)
				if tb <= ta {
					continue
				}
				xa, ya, xb, yb := p0[0], p0[1], p1[0], p1[1]
				if ta > 0 {
					xa, ya = p0[0]+dx*ta, p0[1]+dy*ta
				}
				if tb < 1 {
					xb, yb = p0[0]+dx*tb, p0[1]+dy*tb
				}
				col := math.Floor((xa + xb) / 2 / size)
				row := math.Floor((ya + yb) / 2 / size)
				ps = append(ps, piece{row: int32(row), col: int32(col), ix: ((xa+xb)/2 - col*size) * (yb - ya), dy: yb - ya})
			}
		}
	}
	slices.SortFunc(ps, func(a, b piece) int {
		if c := cmp.Compare(a.row, b.row); c != 0 {
			return c
		}
		return cmp.Compare(a.col, b.col)
	})
	w := 0
	for i := range ps {
		if w > 0 && ps[w-1].row == ps[i].row && ps[w-1].col == ps[i].col {
			ps[w-1].ix += ps[i].ix
			ps[w-1].dy += ps[i].dy
			continue
		}
		ps[w] = ps[i]
		w++
	}
	r.pieces = ps
	return ps[:w]
}

// areas calls fn with the index and area of every cell of l that s overlaps by more
// than a square millimetre, row by row.
func (r *rasterizer) areas(s *Shape, l *lattice, buf *[2][]orb.Point, fn func(cell int32, area float64)) {
	if len(s.Rings) == 0 {
		return
	}
	if len(l.cols) > 0 {
		ps := r.cut(s, l.size)
		for i := 0; i < len(ps); {
			row := ps[i].row
			j := i
			for j < len(ps) && ps[j].row == row {
				j++
			}
			cols, idx := l.row(row)
			// Cells west of the first piece or east of the last are outside: the rises
			// of a row sum to zero.
			k, _ := slices.BinarySearch(cols, ps[i].col)
			var cover float64 // Σ dy of the pieces west of the current cell, and in it
			p := i
			for ; k < len(cols) && cols[k] <= ps[j-1].col; k++ {
				var ix float64
				for p < j && ps[p].col <= cols[k] {
					cover += ps[p].dy
					if ps[p].col == cols[k] {
						ix = ps[p].ix
					}
					p++
				}
				if a := ix - l.size*cover; a > 1e-6 {
					fn(idx[k], a)
				}
			}
			i = j
		}
	}
	for _, m := range l.misfit {
		if a := RectArea(s, m.b, buf); a > 1e-6 {
			fn(m.cell, a)
		}
	}
}

// stripH is the height of the strips indexing a shape's edges.
const stripH = 200.0

// edgeIndex lists a shape's edges by horizontal strip of stripH metres, in ring order
// within a strip, so that the tests of a point or an edge against the shape read the
// edges near it only, with the very arithmetic of a scan over every edge.
type edgeIndex struct {
	s0  int32
	off []int32
	e   []edgeRef
}

// edgeRef is the edge Rings[ring][i] → Rings[ring][i+1].
type edgeRef struct{ ring, i int32 }

func strip(y float64) int32 { return int32(math.Floor(y / stripH)) }

// newEdgeIndex returns the shape's edge index, or nil (scan every edge) when its box
// is not a finite one of a few thousand kilometres.
func newEdgeIndex(s *Shape) *edgeIndex {
	ix := &edgeIndex{}
	if len(s.Rings) == 0 {
		return ix
	}
	if h := s.Bound.Max[1] - s.Bound.Min[1]; !(h >= 0 && h < 1e7) || math.IsInf(s.Bound.Min[1], 0) {
		return nil
	}
	ix.s0 = strip(s.Bound.Min[1])
	n := int(strip(s.Bound.Max[1])-ix.s0) + 1
	ix.off = make([]int32, n+1)
	var pos []int32
	for pass := range 2 {
		if pass == 1 {
			for k := range n {
				ix.off[k+1] += ix.off[k]
			}
			ix.e = make([]edgeRef, ix.off[n])
			pos = slices.Clone(ix.off[:n])
		}
		for r, ring := range s.Rings {
			for i := 0; i+1 < len(ring); i++ {
				a, b := ring[i], ring[i+1]
				lo, hi := int(strip(min(a[1], b[1]))-ix.s0), int(strip(max(a[1], b[1]))-ix.s0)
				for k := max(lo, 0); k <= min(hi, n-1); k++ {
					if pass == 0 {
						ix.off[k+1]++
					} else {
						ix.e[pos[k]] = edgeRef{int32(r), int32(i)}
						pos[k]++
					}
				}
			}
		}
	}
	return ix
}

// strips returns the range of strip positions [k0, k1] covering y0…y1, clipped to the shape's.
func (ix *edgeIndex) strips(y0, y1 float64) (int, int) {
	return max(int(strip(y0)-ix.s0), 0), min(int(strip(y1)-ix.s0), len(ix.off)-2)
}

// indexEdges builds the edge index of every shape lacking one, on workers goroutines.
func indexEdges(ctx context.Context, shapes []Shape, need func(i int) bool, workers int) error {
	return parallel(ctx, len(shapes), workers, func(_, i int) {
		if shapes[i].edges == nil && (need == nil || need(i)) {
			shapes[i].edges = newEdgeIndex(&shapes[i])
		}
	})
}

// maxSamples is the largest lattice side of the sampling: samples² points fit a uint64.
const maxSamples = 8

// mask returns the points of the cell's samples × samples lattice lying in s, bit
// j*samples+i for the point (i, j), as s.Inside would tell of each: the parity of the
// crossings east of the point, with inside's arithmetic, over the edges of its strip.
func mask(s *Shape, cell Cell, samples int) uint64 {
	b := s.Bound
	ix := s.edges
	if ix == nil || len(ix.off) == 0 {
		var m uint64
		for j := range samples {
			for i := range samples {
				p := orb.Point{cell.E + (float64(i)+0.5)*cell.Size/float64(samples), cell.N + (float64(j)+0.5)*cell.Size/float64(samples)}
				if s.Inside(p) {
					m |= 1 << (j*samples + i)
				}
			}
		}
		return m
	}
	var px, py [maxSamples]float64
	var sj [maxSamples]int32
	var inX uint64 // points within the shape's box in x
	for i := range samples {
		px[i] = cell.E + (float64(i)+0.5)*cell.Size/float64(samples)
		if !(px[i] < b.Min[0] || b.Max[0] < px[i]) {
			inX |= 1 << i
		}
		py[i] = cell.N + (float64(i)+0.5)*cell.Size/float64(samples)
		sj[i] = strip(py[i]) - ix.s0
	}
	var rows [maxSamples]uint64
	for k := max(sj[0], 0); k <= min(sj[samples-1], int32(len(ix.off)-2)); k++ {
		for _, e := range ix.e[ix.off[k]:ix.off[k+1]] {
			ring := s.Rings[e.ring]
			p, q := ring[e.i+1], ring[e.i] // inside's (ring[i], ring[i-1])
			for j := range samples {
				y := py[j]
				if sj[j] != k || (p[1] > y) == (q[1] > y) {
					continue
				}
				// The ray from a point crosses the edge when the point lies west of xi:
				// the points west of it, a prefix of the row, flip.
				xi := (q[0]-p[0])*(y-p[1])/(q[1]-p[1]) + p[0]
				var f uint64
				for i := 0; i < samples && px[i] < xi; i++ {
					f |= 1 << i
				}
				rows[j] ^= f
			}
		}
	}
	var m uint64
	for j := range samples {
		if !(py[j] < b.Min[1] || b.Max[1] < py[j]) {
			m |= (rows[j] & inX) << (j * samples)
		}
	}
	return m
}
