package tiles

import (
	"math"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// arcRef names an arc of a topology: i for arc i as stored, ^i for it walked backwards.
type arcRef int32

func (r arcRef) index() int {
	if r < 0 {
		return int(^r)
	}
	return int(r)
}

func (r arcRef) reversed() bool { return r < 0 }

func refTo(i int, rev bool) arcRef {
	if rev {
		return ^arcRef(i)
	}
	return arcRef(i)
}

// topoRing is a closed ring as a chain of arcs; topoPolygon is a shell (counter-clockwise
// in Web Mercator) followed by its holes (clockwise).
type (
	topoRing    []arcRef
	topoPolygon []topoRing
)

// topology holds polygons cut into arcs, each shared by the faces on its two sides.
// Simplifying an arc once and rebuilding every face from the simplified arcs is what
// keeps neighbours touching at every zoom band: a border is one arc, not two copies
// that Douglas–Peucker would bend differently.
type topology struct {
	arcs  []orb.LineString
	index map[uint64]int
	nodes map[orb.Point]uint64
}

const junctionMark = ^uint64(0)

// snap rounds Web Mercator metres to the centimetre, so vertices that two sources wrote
// with different float noise become one vertex.
func snap(p orb.Point) orb.Point {
	return orb.Point{math.Round(p[0]*100) / 100, math.Round(p[1]*100) / 100}
}

// cleanRing returns the ring snapped, without its closing point or repeated points,
// oriented counter-clockwise for a shell and clockwise for a hole; nil if degenerate.
func cleanRing(r orb.Ring, shell bool) []orb.Point {
	out := make([]orb.Point, 0, len(r))
	for _, p := range r {
		p = snap(p)
		if len(out) > 0 && out[len(out)-1] == p {
			continue
		}
		out = append(out, p)
	}
	for len(out) > 1 && out[0] == out[len(out)-1] {
		out = out[:len(out)-1]
	}
	if len(out) < 3 {
		return nil
	}
	a := openRingArea(out)
	if a == 0 {
		return nil
	}
	if (a > 0) != shell {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func openRingArea(pts []orb.Point) float64 {
	var s float64
	for i := range pts {
		p, q := pts[i], pts[(i+1)%len(pts)]
		s += p[0]*q[1] - q[0]*p[1]
	}
	return s / 2
}

func mix(x uint64) uint64 { // splitmix64 finaliser
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func pointHash(p orb.Point) uint64 {
	return mix(math.Float64bits(p[0]) ^ mix(math.Float64bits(p[1])+0x9e3779b97f4a7c15))
}

func less(a, b orb.Point) bool { return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]) }

// buildTopology cuts the rings of geoms into shared arcs. A vertex is a junction when
// it is met with different neighbours in two rings (where a shared border starts or
// ends); rings are cut at junctions and identical arcs, in either direction, are kept
// once (the TopoJSON construction).
func buildTopology(geoms []orb.MultiPolygon) (*topology, [][]topoPolygon) {
	t := &topology{index: map[uint64]int{}, nodes: map[orb.Point]uint64{}}
	cleaned := make([][][][]orb.Point, len(geoms))
	for i, mp := range geoms {
		for _, poly := range mp {
			var rings [][]orb.Point
			for k, r := range poly {
				c := cleanRing(r, k == 0)
				if c == nil {
					if k == 0 {
						break // a degenerate shell takes its holes with it
					}
					continue
				}
				rings = append(rings, c)
				t.markJunctions(c)
			}
			if len(rings) > 0 {
				cleaned[i] = append(cleaned[i], rings)
			}
		}
	}
	out := make([][]topoPolygon, len(geoms))
	for i, polys := range cleaned {
		for _, rings := range polys {
			tp := make(topoPolygon, 0, len(rings))
			for _, r := range rings {
				tp = append(tp, t.cut(r))
			}
			out[i] = append(out[i], tp)
		}
	}
	t.nodes = nil
	t.index = nil
	return t, out
}

func (t *topology) markJunctions(r []orb.Point) {
	n := len(r)
	for i, p := range r {
		a, b := pointHash(r[(i+n-1)%n]), pointHash(r[(i+1)%n])
		if a > b {
			a, b = b, a
		}
		h := mix(a ^ mix(b))
		if h == junctionMark {
			h--
		}
		if v, ok := t.nodes[p]; !ok {
			t.nodes[p] = h
		} else if v != h {
			t.nodes[p] = junctionMark
		}
	}
}

func (t *topology) cut(r []orb.Point) topoRing {
	n := len(r)
	start := -1
	for i, p := range r {
		if t.nodes[p] == junctionMark {
			start = i
			break
		}
	}
	if start < 0 { // an island or a hole shared whole: one closed arc from its least point
		m := 0
		for i := range r {
			if less(r[i], r[m]) {
				m = i
			}
		}
		arc := make(orb.LineString, 0, n+1)
		for k := 0; k <= n; k++ {
			arc = append(arc, r[(m+k)%n])
		}
		return topoRing{t.arc(arc)}
	}
	var ring topoRing
	arc := orb.LineString{r[start]}
	for k := 1; k <= n; k++ {
		p := r[(start+k)%n]
		arc = append(arc, p)
		if t.nodes[p] == junctionMark {
			ring = append(ring, t.arc(arc))
			arc = orb.LineString{p}
		}
	}
	return ring
}

// arc stores ls in a canonical direction, once, and returns a reference to it.
func (t *topology) arc(ls orb.LineString) arcRef {
	n := len(ls)
	first, last := ls[0], ls[n-1]
	rev := less(last, first) || (first == last && n > 2 && less(ls[n-2], ls[1]))
	if rev {
		c := make(orb.LineString, n)
		for i := range ls {
			c[n-1-i] = ls[i]
		}
		ls = c
	}
	h := uint64(n)
	for _, p := range ls {
		h = mix(h ^ pointHash(p))
	}
	for {
		i, ok := t.index[h]
		if !ok {
			break
		}
		if lineEqual(t.arcs[i], ls) {
			return refTo(i, rev)
		}
		h++
	}
	t.index[h] = len(t.arcs)
	t.arcs = append(t.arcs, ls)
	return refTo(len(t.arcs)-1, rev)
}

func lineEqual(a, b orb.LineString) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// douglasPeucker simplifies ls with tolerance tol, keeping both ends.
func douglasPeucker(ls orb.LineString, tol float64) orb.LineString {
	n := len(ls)
	if tol <= 0 || n <= 2 {
		return ls
	}
	keep := make([]bool, n)
	keep[0], keep[n-1] = true, true
	tol2 := tol * tol
	stack := [][2]int{{0, n - 1}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		maxD, maxI := -1.0, -1
		for i := s[0] + 1; i < s[1]; i++ {
			d := planar.DistanceFromSegmentSquared(ls[s[0]], ls[s[1]], ls[i])
			if d > maxD {
				maxD, maxI = d, i
			}
		}
		if maxI >= 0 && maxD > tol2 {
			keep[maxI] = true
			stack = append(stack, [2]int{s[0], maxI}, [2]int{maxI, s[1]})
		}
	}
	out := make(orb.LineString, 0, 8)
	for i, k := range keep {
		if k {
			out = append(out, ls[i])
		}
	}
	return out
}

// arcArea is the arc's share of the shoelace sum, so a ring's area is the sum of its
// arcs' shares without building the ring.
func arcArea(ls orb.LineString) float64 {
	var s float64
	for i := 1; i < len(ls); i++ {
		s += ls[i-1][0]*ls[i][1] - ls[i][0]*ls[i-1][1]
	}
	return s / 2
}

// checkedRing is a ring to keep valid while simplifying: shells must keep a positive
// area, holes a negative one.
type checkedRing struct {
	refs  topoRing
	shell bool
}

// generalised returns the arcs simplified with tolerance tol. A ring that would
// collapse (fewer than three points, or its area gone or flipped) gets its arcs
// simplified again with a quarter of the tolerance, up to the original points: a small
// face at a low zoom keeps a minimal shape instead of vanishing, and its neighbours
// take the same arcs, so they still meet it.
func (t *topology) generalised(tol float64, rings []checkedRing) []orb.LineString {
	const maxLevel = 4 // tol/4^4, then the original points
	arcs := make([]orb.LineString, len(t.arcs))
	areas := make([]float64, len(t.arcs))
	level := make([]uint8, len(t.arcs))
	for i, a := range t.arcs {
		arcs[i] = douglasPeucker(a, tol)
		areas[i] = arcArea(arcs[i])
	}
	for pass := 0; pass <= maxLevel+1; pass++ {
		var dirty []int
		bumped := map[int]bool{}
		for _, r := range rings {
			var area float64
			points := 0
			for _, ref := range r.refs {
				i := ref.index()
				points += len(arcs[i]) - 1
				if ref.reversed() {
					area -= areas[i]
				} else {
					area += areas[i]
				}
			}
			if points >= 3 && (area > 0) == r.shell && area != 0 {
				continue
			}
			for _, ref := range r.refs {
				i := ref.index()
				if level[i] <= maxLevel && !bumped[i] {
					bumped[i] = true
					level[i]++
					dirty = append(dirty, i)
				}
			}
		}
		if len(dirty) == 0 {
			break
		}
		for _, i := range dirty {
			if level[i] > maxLevel {
				arcs[i] = t.arcs[i]
			} else {
				arcs[i] = douglasPeucker(t.arcs[i], tol/math.Pow(4, float64(level[i])))
			}
			areas[i] = arcArea(arcs[i])
		}
	}
	return arcs
}

// ringOf rebuilds a closed ring from arcs.
func ringOf(refs topoRing, arcs []orb.LineString) orb.Ring {
	var r orb.Ring
	for k, ref := range refs {
		a := arcs[ref.index()]
		if ref.reversed() {
			for j := len(a) - 1; j >= 0; j-- {
				if k > 0 && j == len(a)-1 {
					continue
				}
				r = append(r, a[j])
			}
		} else {
			for j := range a {
				if k > 0 && j == 0 {
					continue
				}
				r = append(r, a[j])
			}
		}
	}
	return r
}

// multiPolygonOf rebuilds a feature's geometry from arcs.
func multiPolygonOf(polys []topoPolygon, arcs []orb.LineString) orb.MultiPolygon {
	mp := make(orb.MultiPolygon, 0, len(polys))
	for _, p := range polys {
		poly := make(orb.Polygon, 0, len(p))
		for _, r := range p {
			poly = append(poly, ringOf(r, arcs))
		}
		mp = append(mp, poly)
	}
	return mp
}

func (t *topology) refStart(r arcRef) orb.Point {
	a := t.arcs[r.index()]
	if r.reversed() {
		return a[len(a)-1]
	}
	return a[0]
}

func (t *topology) refEnd(r arcRef) orb.Point {
	a := t.arcs[r.index()]
	if r.reversed() {
		return a[0]
	}
	return a[len(a)-1]
}

// dissolve merges the faces of each group (group[i] < 0: face i belongs to none) into
// the group's polygons, made of the same arcs: the arcs used once within the group are
// its boundary. A commune, a circonscription or a département therefore shares its
// borders, vertex for vertex and at every band, with the bureaux it is made of.
func (t *topology) dissolve(faces [][]topoPolygon, group []int, ngroups int) [][]topoPolygon {
	members := make([][]int, ngroups)
	for i, g := range group {
		if g >= 0 {
			members[g] = append(members[g], i)
		}
	}
	out := make([][]topoPolygon, ngroups)
	for g, ms := range members {
		net := map[int]int{}
		for _, f := range ms {
			for _, p := range faces[f] {
				for _, r := range p {
					for _, ref := range r {
						if ref.reversed() {
							net[ref.index()]--
						} else {
							net[ref.index()]++
						}
					}
				}
			}
		}
		var refs []arcRef
		for i, c := range net {
			if c != 0 {
				refs = append(refs, refTo(i, c < 0))
			}
		}
		sort.Slice(refs, func(a, b int) bool { return refs[a].index() < refs[b].index() })
		out[g] = t.chain(refs)
	}
	return out
}

// chain links boundary arcs end to start into rings, then gives each hole to the
// smallest shell containing it.
func (t *topology) chain(refs []arcRef) []topoPolygon {
	byStart := map[orb.Point][]int{}
	for i, r := range refs {
		s := t.refStart(r)
		byStart[s] = append(byStart[s], i)
	}
	used := make([]bool, len(refs))
	type built struct {
		refs  topoRing
		area  float64
		bound orb.Bound
		ring  orb.Ring
	}
	var shells, holes []built
	for i := range refs {
		if used[i] {
			continue
		}
		used[i] = true
		ring := topoRing{refs[i]}
		start, end := t.refStart(refs[i]), t.refEnd(refs[i])
		for end != start {
			next := -1
			for _, j := range byStart[end] {
				if !used[j] {
					next = j
					break
				}
			}
			if next < 0 {
				break // an open chain: source polygons overlap or do not close
			}
			used[next] = true
			ring = append(ring, refs[next])
			end = t.refEnd(refs[next])
		}
		r := ringOf(ring, t.arcs)
		b := built{refs: ring, ring: r, bound: r.Bound()}
		for _, ref := range ring {
			a := arcArea(t.arcs[ref.index()])
			if ref.reversed() {
				a = -a
			}
			b.area += a
		}
		switch {
		case b.area > 0:
			shells = append(shells, b)
		case b.area < 0:
			holes = append(holes, b)
		}
	}
	polys := make([]topoPolygon, len(shells))
	for i, s := range shells {
		polys[i] = topoPolygon{s.refs}
	}
	for _, h := range holes {
		best := -1
		for i, s := range shells {
			if !s.bound.Contains(h.bound.Min) || !s.bound.Contains(h.bound.Max) {
				continue
			}
			if !planar.RingContains(s.ring, h.ring[len(h.ring)/2]) && !planar.RingContains(s.ring, h.ring[0]) {
				continue
			}
			if best < 0 || s.area < shells[best].area {
				best = i
			}
		}
		if best >= 0 {
			polys[best] = append(polys[best], h.refs)
		}
	}
	return polys
}
