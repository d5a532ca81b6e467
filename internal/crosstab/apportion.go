// Package crosstab crosses election results with census and income data per bureau de
// vote: the apportionment of IRIS and grid counts onto bureaux, the indicators of a
// bureau's profile, crosstabs by quantile, correlations and between-rounds targeting
// scores. It does no I/O; docs/apportionment.md describes the method and its limits.
package crosstab

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/paulmach/orb"
)

// Piece is the overlap of a source zone (an IRIS) and a bureau, by index.
type Piece struct {
	Source, Bureau int32
	Area           float64 // m² of the overlap (EPSG:3035)
	Pop            float64 // grid population in the overlap (dasymetric), filled by Dasymetric
}

// index is a uniform grid over shapes' bounding boxes: queries return candidates whose
// box overlaps, each once.
type index struct {
	size  float64
	cells map[[2]int32][]int32
}

func newIndex(shapes []Shape, size float64) *index {
	ix := &index{size: size, cells: map[[2]int32][]int32{}}
	for i := range shapes {
		b := shapes[i].Bound
		if len(shapes[i].Rings) == 0 {
			continue
		}
		for x := int32(math.Floor(b.Min[0] / size)); x <= int32(math.Floor(b.Max[0]/size)); x++ {
			for y := int32(math.Floor(b.Min[1] / size)); y <= int32(math.Floor(b.Max[1]/size)); y++ {
				ix.cells[[2]int32{x, y}] = append(ix.cells[[2]int32{x, y}], int32(i))
			}
		}
	}
	return ix
}

// query appends to out the shapes whose box may overlap b; seen is a per-caller stamp
// array (len(shapes)) and stamp a value new to it.
func (ix *index) query(out []int32, b orb.Bound, seen []int32, stamp int32) []int32 {
	for x := int32(math.Floor(b.Min[0] / ix.size)); x <= int32(math.Floor(b.Max[0]/ix.size)); x++ {
		for y := int32(math.Floor(b.Min[1] / ix.size)); y <= int32(math.Floor(b.Max[1]/ix.size)); y++ {
			for _, i := range ix.cells[[2]int32{x, y}] {
				if seen[i] != stamp {
					seen[i] = stamp
					out = append(out, i)
				}
			}
		}
	}
	return out
}

// Overlaps returns every (source, bureau) pair whose overlap has a positive area, with
// that area, computed on workers goroutines. Pairs that only touch are left out. It
// indexes the shapes' edges, and keeps the indexes in them for later calls.
func Overlaps(ctx context.Context, sources, bureaux []Shape, workers int) ([]Piece, error) {
	// Edges indexed by strip make each pair cost O(edges near each other), not
	// O(edges × edges).
	if err := indexEdges(ctx, sources, nil, workers); err != nil {
		return nil, err
	}
	if err := indexEdges(ctx, bureaux, nil, workers); err != nil {
		return nil, err
	}
	ix := newIndex(bureaux, 4000)
	workers = max(workers, 1)
	parts := make([][]Piece, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := make([]int32, len(bureaux))
			var cand []int32
			for s := w; s < len(sources); s += workers {
				if s%1024 == w && ctx.Err() != nil {
					return
				}
				src := &sources[s]
				cand = ix.query(cand[:0], src.Bound, seen, int32(s+1))
				for _, b := range cand {
					bu := &bureaux[b]
					if !bu.Bound.Intersects(src.Bound) {
						continue
					}
					a := IntersectionArea(src, bu)
					// Below a square millimetre it is a rounding artefact of a shared border.
					if a > 1e-6 {
						parts[w] = append(parts[w], Piece{Source: int32(s), Bureau: b, Area: a})
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Piece
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, nil
}

// Cell is a grid cell: its lower-left corner and side in EPSG:3035 metres.
type Cell struct {
	E, N, Size float64
}

// Bound returns the cell's square.
func (c Cell) Bound() orb.Bound {
	return orb.Bound{Min: orb.Point{c.E, c.N}, Max: orb.Point{c.E + c.Size, c.N + c.Size}}
}

// CellPart is the overlap of a grid cell and a shape, by index.
type CellPart struct {
	Cell, Shape int32
	Area        float64
}

// CellParts returns, for every shape, the area of each grid cell it overlaps, shape by
// shape in index order. Cells are exact squares in EPSG:3035 on a lattice of their
// size, so the areas are exact: each shape's boundary is cut at the lattice lines and
// the cells it does not cross are filled row by row (see rasterizer), which costs
// O(boundary cells + cells) per shape instead of clipping the whole shape by every
// cell of its box.
func CellParts(ctx context.Context, cells []Cell, shapes []Shape, workers int) ([]CellPart, error) {
	lats := newLattices(cells)
	const chunk = 256
	chunks := make([][]CellPart, (len(shapes)+chunk-1)/chunk)
	err := parallel(ctx, len(chunks), workers, func(_, k int) {
		var r rasterizer
		var buf [2][]orb.Point
		var out []CellPart
		for s := k * chunk; s < min((k+1)*chunk, len(shapes)); s++ {
			for _, l := range lats {
				r.areas(&shapes[s], l, &buf, func(c int32, a float64) {
					out = append(out, CellPart{Cell: c, Shape: int32(s), Area: a})
				})
			}
		}
		chunks[k] = out
	})
	if err != nil {
		return nil, err
	}
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	out := make([]CellPart, 0, n)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// parallel calls fn(w, i) for i in 0…n-1 on workers goroutines numbered w, handing
// out indices in order, and stops early when ctx ends.
func parallel(ctx context.Context, n, workers int, fn func(w, i int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				fn(w, i)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// Shares turns cell parts into weights: the share of each cell going to each shape,
// over the part of the cell the shapes cover. A cell half outside every bureau gives
// all of its population to the bureaux it touches: totals are kept wherever bureaux
// cover the sources (a grid cell reaching past a coastline or a border is common).
func Shares(parts []CellPart, ncells int) []float64 {
	covered := make([]float64, ncells)
	for _, p := range parts {
		covered[p.Cell] += p.Area
	}
	w := make([]float64, len(parts))
	for i, p := range parts {
		w[i] = p.Area / covered[p.Cell]
	}
	return w
}

// Dasymetric fills pieces' Pop: the population of each IRIS × bureau overlap, read from
// the grid. A cell lying in one IRIS gives its population to the bureaux it overlaps
// by area (and likewise for a cell in one bureau); a cell split by IRIS and bureau
// borders both is sampled on a samples × samples lattice of points (samples ≤ 8),
// each point giving its share to the IRIS and bureau it falls in. pop[c] is the cell's
// population, irisParts and bureauParts the cells' overlaps with sources and bureaux,
// in CellParts order. It runs on workers goroutines, and indexes the edges of the
// shapes it samples as Overlaps does.
func Dasymetric(ctx context.Context, cells []Cell, pop []float64, sources, bureaux []Shape, irisParts, bureauParts []CellPart, pieces []Piece, samples, workers int) error {
	if samples < 1 || samples > maxSamples {
		return fmt.Errorf("crosstab: %d × %d samples per cell: 1 to %d a side", samples, samples, maxSamples)
	}
	byI := groupByCell(irisParts, len(cells))
	byB := groupByCell(bureauParts, len(cells))
	at := make(map[[2]int32]int32, len(pieces))
	for i, p := range pieces {
		at[[2]int32{p.Source, p.Bureau}] = int32(i)
	}
	// The shapes of cells split on both sides get their edges indexed by strip, so
	// that locating a point reads the edges near it only.
	needI, needB := make([]bool, len(sources)), make([]bool, len(bureaux))
	for c := range cells {
		is, bs := byI.of(c), byB.of(c)
		if pop[c] == 0 || len(is) < 2 || len(bs) < 2 {
			continue
		}
		for _, x := range is {
			needI[x.Shape] = true
		}
		for _, y := range bs {
			needB[y.Shape] = true
		}
	}
	if err := indexEdges(ctx, sources, func(i int) bool { return needI[i] }, workers); err != nil {
		return err
	}
	if err := indexEdges(ctx, bureaux, func(i int) bool { return needB[i] }, workers); err != nil {
		return err
	}
	workers = max(workers, 1)
	const chunk = 16384
	nchunks := (len(cells) + chunk - 1) / chunk
	acc := make([][]float64, workers) // per worker: no lock, and the sum at the end
	err := parallel(ctx, nchunks, workers, func(w, k int) {
		if acc[w] == nil {
			acc[w] = make([]float64, len(pieces))
		}
		sum := acc[w]
		add := func(s, b int32, v float64) {
			if i, ok := at[[2]int32{s, b}]; ok {
				sum[i] += v
			}
		}
		var own []uint64
		for c := k * chunk; c < min((k+1)*chunk, len(cells)); c++ {
			is, bs := byI.of(c), byB.of(c)
			if pop[c] == 0 || len(is) == 0 || len(bs) == 0 {
				continue
			}
			// A cell in one IRIS (or one bureau) shares its population by the areas of
			// the other side: exact for a uniform density within the cell, and no sampling.
			if len(is) == 1 || len(bs) == 1 {
				byArea(pop[c], is, bs, add)
				continue
			}
			// Each point goes to the first IRIS and the first bureau holding it: own
			// holds, per candidate, the points it is first to hold.
			cell := cells[c]
			own = own[:0]
			var inI, inB uint64
			for _, x := range is {
				m := mask(&sources[x.Shape], cell, samples)
				own = append(own, m&^inI)
				inI |= m
			}
			for _, y := range bs {
				m := mask(&bureaux[y.Shape], cell, samples)
				own = append(own, m&^inB)
				inB |= m
			}
			n := bits.OnesCount64(inI & inB)
			if n == 0 { // slivers too thin for the lattice: share by area, as if independent
				byArea(pop[c], is, bs, add)
				continue
			}
			for si, x := range is {
				for bi, y := range bs {
					if v := bits.OnesCount64(own[si] & own[len(is)+bi]); v > 0 {
						add(x.Shape, y.Shape, pop[c]*float64(v)/float64(n))
					}
				}
			}
		}
	})
	if err != nil {
		return err
	}
	for _, sum := range acc {
		for i, v := range sum {
			pieces[i].Pop += v
		}
	}
	return nil
}

// byArea shares v among the IRIS × bureau pairs of a cell by the product of their
// area shares: exact when one side is whole, an independence assumption otherwise.
func byArea(v float64, is, bs []CellPart, add func(s, b int32, v float64)) {
	var ai, ab float64
	for _, x := range is {
		ai += x.Area
	}
	for _, y := range bs {
		ab += y.Area
	}
	for _, x := range is {
		for _, y := range bs {
			add(x.Shape, y.Shape, v*x.Area/ai*y.Area/ab)
		}
	}
}

// cellGroups holds parts grouped by cell, keeping their order within a cell.
type cellGroups struct {
	off   []int32
	parts []CellPart
}

func groupByCell(parts []CellPart, n int) cellGroups {
	g := cellGroups{off: make([]int32, n+1), parts: make([]CellPart, len(parts))}
	for _, p := range parts {
		g.off[p.Cell+1]++
	}
	for c := range n {
		g.off[c+1] += g.off[c]
	}
	pos := slices.Clone(g.off[:n])
	for _, p := range parts {
		g.parts[pos[p.Cell]] = p
		pos[p.Cell]++
	}
	return g
}

func (g cellGroups) of(c int) []CellPart { return g.parts[g.off[c]:g.off[c+1]] }

// Weights are the apportionment weights of one source zone onto bureaux: each column
// sums to 1 over the bureaux the zone overlaps.
type Weights struct {
	Source, Bureau int32
	Area           float64 // share of the zone's covered area
	Pop            float64 // share of the zone's grid population; the area share when it has none
	AreaM2, PopN   float64 // the overlap's area and population, for the record
}

// PieceWeights normalises pieces per source zone.
func PieceWeights(pieces []Piece, nsources int) []Weights {
	area := make([]float64, nsources)
	pop := make([]float64, nsources)
	for _, p := range pieces {
		area[p.Source] += p.Area
		pop[p.Source] += p.Pop
	}
	out := make([]Weights, len(pieces))
	for i, p := range pieces {
		w := Weights{Source: p.Source, Bureau: p.Bureau, Area: p.Area / area[p.Source], AreaM2: p.Area, PopN: p.Pop}
		if pop[p.Source] > 0 {
			w.Pop = p.Pop / pop[p.Source]
		} else {
			w.Pop = w.Area
		}
		out[i] = w
	}
	return out
}
