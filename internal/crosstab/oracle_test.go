package crosstab

// The former algorithms, kept as oracles: CellParts clipped every shape by every cell
// of its box (Sutherland–Hodgman) and Dasymetric tested lattice points against whole
// shapes, on one goroutine. The new ones must give the same weights.

import (
	"context"
	"math"
	"sync"

	"github.com/paulmach/orb"
)

// cellPartsClip is the former CellParts, kept as the oracle of the rasteriser: it returns, for every shape, the area of each grid cell it overlaps. Cells are
// exact squares in EPSG:3035, so clipping a shape by a cell is exact.
func cellPartsClip(ctx context.Context, cells []Cell, shapes []Shape, workers int, local bool) ([]CellPart, error) {
	type key struct{ e, n, size int32 }
	at := make(map[key]int32, len(cells))
	sizes := map[float64]bool{}
	for i, c := range cells {
		at[key{int32(c.E / c.Size), int32(c.N / c.Size), int32(c.Size)}] = int32(i)
		sizes[c.Size] = true
	}
	workers = max(workers, 1)
	parts := make([][]CellPart, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [2][]orb.Point
			for s := w; s < len(shapes); s += workers {
				if s%256 == w && ctx.Err() != nil {
					return
				}
				sh := &shapes[s]
				if len(sh.Rings) == 0 {
					continue
				}
				for size := range sizes {
					for x := int32(math.Floor(sh.Bound.Min[0] / size)); float64(x)*size < sh.Bound.Max[0]; x++ {
						for y := int32(math.Floor(sh.Bound.Min[1] / size)); float64(y)*size < sh.Bound.Max[1]; y++ {
							c, ok := at[key{x, y, int32(size)}]
							if !ok {
								continue
							}
							area := RectArea
							if local {
								area = rectAreaLocal
							}
							if a := area(sh, cells[c].Bound(), &buf); a > 1e-6 {
								parts[w] = append(parts[w], CellPart{Cell: c, Shape: int32(s), Area: a})
							}
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []CellPart
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, nil
}

// dasymetricSampled is the former Dasymetric, kept as the oracle: it fills pieces' Pop: the population of each IRIS × bureau overlap, read from
// the grid. A cell lying in one IRIS gives its population to the bureaux it overlaps
// by area (and likewise for a cell in one bureau); a cell split by IRIS and bureau
// borders both is sampled on a samples × samples lattice of points,
// each point giving its share to the IRIS and bureau it falls in. pop[c] is the cell's
// population, irisParts and bureauParts the cells' overlaps with sources and bureaux.
func dasymetricSampled(cells []Cell, pop []float64, sources, bureaux []Shape, irisParts, bureauParts []CellPart, pieces []Piece, samples int) {
	byCellI := groupPartsOld(irisParts, len(cells))
	byCellB := groupPartsOld(bureauParts, len(cells))
	at := make(map[[2]int32]int, len(pieces))
	for i, p := range pieces {
		at[[2]int32{p.Source, p.Bureau}] = i
	}
	add := func(s, b int32, v float64) {
		if i, ok := at[[2]int32{s, b}]; ok {
			pieces[i].Pop += v
		}
	}
	counts := map[[2]int32]int{}
	for c := range cells {
		is, bs := byCellI[c], byCellB[c]
		if pop[c] == 0 || len(is) == 0 || len(bs) == 0 {
			continue
		}
		// A cell in one IRIS (or one bureau) shares its population by the areas of
		// the other side: exact for a uniform density within the cell, and no sampling.
		if len(is) == 1 || len(bs) == 1 {
			var ai, ab float64
			for _, x := range is {
				ai += x.Area
			}
			for _, y := range bs {
				ab += y.Area
			}
			for _, x := range is {
				for _, y := range bs {
					add(x.Shape, y.Shape, pop[c]*x.Area/ai*y.Area/ab)
				}
			}
			continue
		}
		clear(counts)
		n := 0
		cell := cells[c]
		for i := range samples {
			for j := range samples {
				p := orb.Point{cell.E + (float64(i)+0.5)*cell.Size/float64(samples), cell.N + (float64(j)+0.5)*cell.Size/float64(samples)}
				si, bi := locateOld(p, is, sources), locateOld(p, bs, bureaux)
				if si < 0 || bi < 0 {
					continue
				}
				counts[[2]int32{si, bi}]++
				n++
			}
		}
		if n == 0 { // slivers too thin for the lattice: share by area, as if independent
			var ai, ab float64
			for _, x := range is {
				ai += x.Area
			}
			for _, y := range bs {
				ab += y.Area
			}
			for _, x := range is {
				for _, y := range bs {
					add(x.Shape, y.Shape, pop[c]*x.Area/ai*y.Area/ab)
				}
			}
			continue
		}
		for k, v := range counts {
			add(k[0], k[1], pop[c]*float64(v)/float64(n))
		}
	}
}

func groupPartsOld(parts []CellPart, n int) [][]CellPart {
	g := make([][]CellPart, n)
	for _, p := range parts {
		g[p.Cell] = append(g[p.Cell], p)
	}
	return g
}

// locate returns the shape among parts containing p, or -1; with one candidate
// covering the whole cell, no test is needed.
func locateOld(p orb.Point, parts []CellPart, shapes []Shape) int32 {
	for _, x := range parts {
		if shapes[x.Shape].Inside(p) {
			return x.Shape
		}
	}
	return -1
}

// rectAreaLocal is RectArea in coordinates relative to the rectangle's corner, where
// the shoelace formula no longer loses a millimetre² to coordinates of 4e6 m; a shape
// inside the rectangle is clipped too, as its Area has that rounding.
func rectAreaLocal(s *Shape, r orb.Bound, buf *[2][]orb.Point) float64 {
	if !s.Bound.Intersects(r) {
		return 0
	}
	o := r.Min
	lr := orb.Bound{Max: orb.Point{r.Max[0] - o[0], r.Max[1] - o[1]}}
	var total float64
	var ring []orb.Point
	for _, rg := range s.Rings {
		ring = ring[:0]
		for _, p := range rg {
			ring = append(ring, orb.Point{p[0] - o[0], p[1] - o[1]})
		}
		total += clipRingArea(ring, lr, buf)
	}
	return total
}

// overlapsScan is Overlaps on one goroutine over shapes without edge index: every
// edge against every edge, as before.
func overlapsScan(ctx context.Context, sources, bureaux []Shape) ([]Piece, error) {
	ix := newIndex(bureaux, 4000)
	seen := make([]int32, len(bureaux))
	var out []Piece
	var cand []int32
	for s := range sources {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		src := &sources[s]
		cand = ix.query(cand[:0], src.Bound, seen, int32(s+1))
		for _, b := range cand {
			bu := &bureaux[b]
			if !bu.Bound.Intersects(src.Bound) {
				continue
			}
			if a := IntersectionArea(src, bu); a > 1e-6 {
				out = append(out, Piece{Source: int32(s), Bureau: b, Area: a})
			}
		}
	}
	return out, nil
}
