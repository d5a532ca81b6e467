// Package crosstab crosses election results with census and income data per bureau de
// vote: the apportionment of IRIS and grid counts onto bureaux, the indicators of a
// bureau's profile, crosstabs by quantile, correlations and between-rounds targeting
// scores. It does no I/O; docs/apportionment.md describes the method and its limits.
package crosstab

import (
	"context"
	"math"
	"sync"

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
// that area, computed on workers goroutines. Pairs that only touch are left out.
func Overlaps(ctx context.Context, sources, bureaux []Shape, workers int) ([]Piece, error) {
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

// CellParts returns, for every shape, the area of each grid cell it overlaps. Cells are
// exact squares in EPSG:3035, so clipping a shape by a cell is exact.
func CellParts(ctx context.Context, cells []Cell, shapes []Shape, workers int) ([]CellPart, error) {
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
							if a := RectArea(sh, cells[c].Bound(), &buf); a > 1e-6 {
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
// borders both is sampled on a samples × samples lattice of points,
// each point giving its share to the IRIS and bureau it falls in. pop[c] is the cell's
// population, irisParts and bureauParts the cells' overlaps with sources and bureaux.
func Dasymetric(cells []Cell, pop []float64, sources, bureaux []Shape, irisParts, bureauParts []CellPart, pieces []Piece, samples int) {
	byCellI := groupParts(irisParts, len(cells))
	byCellB := groupParts(bureauParts, len(cells))
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
				si, bi := locate(p, is, sources), locate(p, bs, bureaux)
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

func groupParts(parts []CellPart, n int) [][]CellPart {
	g := make([][]CellPart, n)
	for _, p := range parts {
		g[p.Cell] = append(g[p.Cell], p)
	}
	return g
}

// locate returns the shape among parts containing p, or -1; with one candidate
// covering the whole cell, no test is needed.
func locate(p orb.Point, parts []CellPart, shapes []Shape) int32 {
	for _, x := range parts {
		if shapes[x.Shape].Inside(p) {
			return x.Shape
		}
	}
	return -1
}

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
