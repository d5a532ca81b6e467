package tiles

import (
	"encoding/binary"
	"math"

	"github.com/paulmach/orb"
)

// geomFormat names the stored geometry encoding; a build whose format differs from the
// one a layer was built with rebuilds it.
const geomFormat = "mvt1"

// EncodeGeometry returns mp, in Web Mercator metres, as a feature's geometry is stored
// for a band: its rings rounded to the band's tile grid (Extent units per tile at zoom
// band, counted from the top-left of the world), repeated points and collapsed rings
// dropped, oriented as MVT wants them, and written as the MVT geometry commands of a
// tile whose origin is the world's corner, after a header of four varints (the bounds:
// min x, min y, width, height). A tile at the band's zoom that holds the whole feature
// then copies the commands, only the first MoveTo shifted to the tile's origin; any
// other tile decodes them, shifts, clips at the edge and re-encodes, in integers. A
// feature that rounds to nothing is stored as a one-unit square at its place.
func EncodeGeometry(mp orb.MultiPolygon, band int) []byte {
	scale := Extent * math.Exp2(float64(band)) / worldSize
	pm := make(orb.MultiPolygon, 0, len(mp))
	for _, p := range mp {
		tp := make(orb.Polygon, 0, len(p))
		for _, r := range p {
			tr := make(orb.Ring, len(r))
			for i, pt := range r {
				tr[i] = orb.Point{(pt[0] + worldSize/2) * scale, (worldSize/2 - pt[1]) * scale}
			}
			tp = append(tp, tr)
		}
		pm = append(pm, tp)
	}
	if len(pm) == 0 {
		return nil
	}
	geom := roundMultiPolygon(pm)
	if len(geom) == 0 {
		c := pm.Bound().Center()
		cx, cy := math.Floor(c[0]), math.Floor(c[1])
		geom = orb.MultiPolygon{{{{cx, cy}, {cx + 1, cy}, {cx + 1, cy + 1}, {cx, cy + 1}, {cx, cy}}}}
	}
	b := geom.Bound()
	out := binary.AppendUvarint(nil, uint64(b.Min[0]))
	out = binary.AppendUvarint(out, uint64(b.Min[1]))
	out = binary.AppendUvarint(out, uint64(b.Max[0]-b.Min[0]))
	out = binary.AppendUvarint(out, uint64(b.Max[1]-b.Min[1]))
	g := geomEncoder{cmds: out}
	var cx, cy int64
	for _, p := range geom {
		for _, r := range p {
			ring := make([]ipt, len(r)-1) // rings are closed; MVT rings are not
			for i, pt := range r[:len(r)-1] {
				ring[i] = ipt{int64(pt[0]), int64(pt[1])}
			}
			cx, cy = g.appendRing(ring, cx, cy)
		}
	}
	return g.cmds
}

// xform maps a band's grid to the units of tile z/x/y.
type xform struct {
	down, up int   // band - z when z <= band, z - band when z > band
	ox, oy   int64 // the tile's origin: in band units when down, in tile units when up
}

func newXform(band, z, x, y int) xform {
	if z > band {
		return xform{up: z - band, ox: int64(x) * Extent, oy: int64(y) * Extent}
	}
	s := band - z
	return xform{down: s, ox: int64(x) * Extent << s, oy: int64(y) * Extent << s}
}

func (t xform) apply(x, y int64) (int64, int64) {
	switch {
	case t.up > 0:
		return x<<t.up - t.ox, y<<t.up - t.oy
	case t.down > 0:
		h := int64(1) << (t.down - 1) // round half up
		return (x - t.ox + h) >> t.down, (y - t.oy + h) >> t.down
	}
	return x - t.ox, y - t.oy
}

type ipt struct{ x, y int64 }

// ringSpan is one decoded ring of the geometry encoder's point buffer.
type ringSpan struct {
	start, end int
	shell      bool
}

// geomEncoder turns stored geometry into MVT commands for one tile; its buffers are
// reused from feature to feature.
type geomEncoder struct {
	pts   []ipt
	rings []ringSpan
	a, b  []ipt
	cmds  []byte // the packed varints of the MVT geometry field
}

const (
	clipLo = -Buffer
	clipHi = Extent + Buffer
)

// encode appends the MVT commands of a stored geometry in tile t to g.cmds (reset
// first). It returns false when the geometry does not reach the tile grown by the
// buffer. A geometry that reaches the tile but rounds to nothing becomes a one-unit
// square at its place: no feature is dropped for being small.
func (g *geomEncoder) encode(enc []byte, t xform) bool {
	g.cmds, g.pts, g.rings = g.cmds[:0], g.pts[:0], g.rings[:0]
	i := 0
	bx, ok1 := uvarint(enc, &i)
	by, ok2 := uvarint(enc, &i)
	bw, ok3 := uvarint(enc, &i)
	bh, ok4 := uvarint(enc, &i)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return false
	}
	// The shift is monotonic: the stored bounds, shifted, bound the shifted points.
	minX, minY := t.apply(int64(bx), int64(by))
	maxX, maxY := t.apply(int64(bx+bw), int64(by+bh))
	if maxX < clipLo || maxY < clipLo || minX > clipHi || minY > clipHi {
		return false
	}
	inside := minX >= clipLo && minY >= clipLo && maxX <= clipHi && maxY <= clipHi
	if inside && t.down == 0 && t.up == 0 {
		// The tile of the feature's band holds it whole: its commands are the tile's,
		// but for the first MoveTo, relative to the world's corner.
		j := i
		c, _ := uvarint(enc, &j)
		zx, _ := uvarint(enc, &j)
		zy, ok := uvarint(enc, &j)
		if !ok || c != 1|1<<3 {
			return false
		}
		g.cmds = append(g.cmds, 1|1<<3)
		g.cmds = binary.AppendUvarint(g.cmds, zig(unzig(zx)-t.ox))
		g.cmds = binary.AppendUvarint(g.cmds, zig(unzig(zy)-t.oy))
		g.cmds = append(g.cmds, enc[j:]...)
		return true
	}
	// Decode the rings; a stored ring is a shell when its area is positive (MVT's
	// orientation, set by the build).
	var px, py int64    // the stored commands' cursor
	var fx, fy, a int64 // the ring's first point, and its doubled area relative to it
	var lx, ly int64    // the previous point, relative to the first
	for i < len(enc) {
		c, ok := uvarint(enc, &i)
		if !ok {
			return false
		}
		switch id, n := c&7, int(c>>3); id {
		case 1, 2:
			for k := 0; k < n; k++ {
				ux, ok1 := uvarint(enc, &i)
				uy, ok2 := uvarint(enc, &i)
				if !ok1 || !ok2 {
					return false
				}
				px, py = px+unzig(ux), py+unzig(uy)
				if id == 1 {
					g.rings = append(g.rings, ringSpan{start: len(g.pts)})
					fx, fy, a, lx, ly = px, py, 0, 0, 0
				} else {
					rx, ry := px-fx, py-fy
					a += lx*ry - rx*ly
					lx, ly = rx, ry
				}
				x, y := t.apply(px, py)
				g.pts = append(g.pts, ipt{x, y})
			}
		case 7:
			if len(g.rings) == 0 {
				return false
			}
			r := &g.rings[len(g.rings)-1]
			r.end, r.shell = len(g.pts), a > 0
		default:
			return false
		}
	}
	var cx, cy int64 // the command cursor
	reached := false
	var rb [4]int64 // bounds of what reached the tile, for the minimal square
	rb[0], rb[1], rb[2], rb[3] = math.MaxInt64, math.MaxInt64, math.MinInt64, math.MinInt64
	skipHoles := false
	for _, r := range g.rings {
		if !r.shell && skipHoles {
			continue
		}
		ring := g.pts[r.start:r.end]
		if !inside {
			ring = g.clip(ring)
		}
		if len(ring) > 0 {
			reached = true
			for _, p := range ring {
				rb[0], rb[1], rb[2], rb[3] = min(rb[0], p.x), min(rb[1], p.y), max(rb[2], p.x), max(rb[3], p.y)
			}
		}
		ring = dedupe(ring)
		a := area2(ring)
		if len(ring) < 3 || a == 0 {
			if r.shell {
				skipHoles = true // a hole without its shell means nothing
			}
			continue
		}
		if r.shell {
			skipHoles = false
		}
		if r.shell != (a > 0) {
			for i, j := 0, len(ring)-1; i < j; i, j = i+1, j-1 {
				ring[i], ring[j] = ring[j], ring[i]
			}
		}
		cx, cy = g.appendRing(ring, cx, cy)
	}
	if len(g.cmds) == 0 {
		if !reached {
			return false // its box met the tile, its shape does not
		}
		x, y := (rb[0]+rb[2])/2, (rb[1]+rb[3])/2
		g.appendRing([]ipt{{x, y}, {x + 1, y}, {x + 1, y + 1}, {x, y + 1}}, 0, 0)
	}
	return true
}

func unzig(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// appendRing writes MoveTo, LineTo and ClosePath for a ring without its closing point.
func (g *geomEncoder) appendRing(ring []ipt, cx, cy int64) (int64, int64) {
	c := append(g.cmds, 1|1<<3)
	c = binary.AppendUvarint(c, zig(ring[0].x-cx))
	c = binary.AppendUvarint(c, zig(ring[0].y-cy))
	c = binary.AppendUvarint(c, uint64(2|uint32(len(ring)-1)<<3))
	for i := 1; i < len(ring); i++ {
		c = appendSmall(c, zig(ring[i].x-ring[i-1].x))
		c = appendSmall(c, zig(ring[i].y-ring[i-1].y))
	}
	g.cmds = append(c, 7|1<<3)
	last := ring[len(ring)-1]
	return last.x, last.y
}

// zig is MVT's zigzag encoding of a parameter (a 32-bit value).
func zig(v int64) uint64 { return uint64(uint32((v << 1) ^ (v >> 63))) }

// appendSmall appends a varint, with a fast path for the one- and two-byte deltas of
// most vertices.
func appendSmall(b []byte, v uint64) []byte {
	switch {
	case v < 1<<7:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, byte(v)|0x80, byte(v>>7))
	}
	return binary.AppendUvarint(b, v)
}

// uvarint reads a varint at b[*i], advancing *i.
func uvarint(b []byte, i *int) (uint64, bool) {
	var v uint64
	for shift := uint(0); *i < len(b) && shift < 64; shift += 7 {
		c := b[*i]
		*i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, true
		}
	}
	return 0, false
}

// dedupe drops repeated points, the closing one included.
func dedupe(r []ipt) []ipt {
	if len(r) == 0 {
		return r
	}
	out := r[:1]
	for _, p := range r[1:] {
		if p != out[len(out)-1] {
			out = append(out, p)
		}
	}
	for len(out) > 1 && out[len(out)-1] == out[0] {
		out = out[:len(out)-1]
	}
	return out
}

// area2 is twice the surveyor's area of a ring without its closing point; positive
// for a ring clockwise on screen (y down), as MVT wants exterior rings.
func area2(r []ipt) int64 {
	if len(r) < 3 {
		return 0
	}
	var s int64
	prev := r[len(r)-1]
	for _, p := range r {
		s += prev.x*p.y - p.x*prev.y
		prev = p
	}
	return s
}

// clip cuts a ring to the tile grown by the buffer (Sutherland–Hodgman, one edge at a
// time, intersections rounded to the grid). The result lives in g's buffers.
func (g *geomEncoder) clip(r []ipt) []ipt {
	in := append(g.a[:0], r...)
	out := g.b[:0]
	for edge := range 4 {
		out = out[:0]
		if len(in) == 0 {
			break
		}
		prev := in[len(in)-1]
		pin := inside(prev, edge)
		for _, p := range in {
			cin := inside(p, edge)
			if cin != pin {
				out = append(out, cross(prev, p, edge))
			}
			if cin {
				out = append(out, p)
			}
			prev, pin = p, cin
		}
		in, out = out, in
	}
	g.a, g.b = in, out // keep both buffers
	return in
}

func inside(p ipt, edge int) bool {
	switch edge {
	case 0:
		return p.x >= clipLo
	case 1:
		return p.x <= clipHi
	case 2:
		return p.y >= clipLo
	}
	return p.y <= clipHi
}

// cross is where segment a-b meets the clip edge, rounded to the grid.
func cross(a, b ipt, edge int) ipt {
	var v int64
	if edge < 2 {
		v = clipLo
		if edge == 1 {
			v = clipHi
		}
		f := float64(v-a.x) / float64(b.x-a.x)
		return ipt{v, a.y + int64(math.Round(f*float64(b.y-a.y)))}
	}
	v = clipLo
	if edge == 3 {
		v = clipHi
	}
	f := float64(v-a.y) / float64(b.y-a.y)
	return ipt{a.x + int64(math.Round(f*float64(b.x-a.x))), v}
}
