package crosstab

import (
	"bufio"
	"cmp"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/paulmach/orb/geojson"

	"github.com/coopol/coopol/internal/generate"
	"github.com/coopol/coopol/internal/projection"
)

// territory is a generated territory as coopol apportion sees it: shapes projected
// and ordered by code, cells and their population.
type territory struct {
	bureaux, iris []Shape
	cells         []Cell
	pop           []float64
	clipped       map[clipKey][]CellPart // the oracle's parts, computed once
}

type clipKey struct {
	iris, local bool
}

// clip returns the former CellParts of the IRIS or the bureaux, on shapes without
// edge index, computed once per territory.
func (tr *territory) clip(t *testing.T, iris, local bool) []CellPart {
	k := clipKey{iris, local}
	if p, ok := tr.clipped[k]; ok {
		return p
	}
	shapes := tr.bureaux
	if iris {
		shapes = tr.iris
	}
	p, err := cellPartsClip(t.Context(), tr.cells, unindexed(shapes), 1, local)
	if err != nil {
		t.Fatal(err)
	}
	if tr.clipped == nil {
		tr.clipped = map[clipKey][]CellPart{}
	}
	tr.clipped[k] = p
	return p
}

// readTerritory reads the contours, IRIS and grid files that coopol generate writes.
func readTerritory(tb testing.TB, dir string) *territory {
	tb.Helper()
	t := &territory{}
	p := projection.NewLAEA3035()
	shapes := func(name, key string) []Shape {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		fc, err := geojson.UnmarshalFeatureCollection(b)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		out := make([]Shape, 0, len(fc.Features))
		for _, f := range fc.Features {
			out = append(out, NewShape(f.Properties.MustString(key, ""), f.Geometry, p))
		}
		slices.SortStableFunc(out, func(a, b Shape) int { return cmp.Compare(a.Code, b.Code) })
		return out
	}
	t.bureaux = shapes("contours.geojson", "codeBureauVote")
	t.iris = shapes("iris.geojson", "CODE_IRIS")
	f, err := os.Open(filepath.Join(dir, "carreaux_200m_met.csv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	sc.Scan() // header
	for sc.Scan() {
		// CRS3035RES200mN2672000E3568200,…,ind (the seventh field),…
		line := sc.Text()
		id, rest, _ := strings.Cut(line, ",")
		ns, es, _ := strings.Cut(strings.TrimPrefix(id, "CRS3035RES200mN"), "E")
		n, _ := strconv.Atoi(ns)
		e, _ := strconv.Atoi(es)
		fields := strings.SplitN(rest, ",", 7)
		ind, _ := strconv.ParseFloat(fields[5], 64)
		t.cells = append(t.cells, Cell{E: float64(e), N: float64(n), Size: 200})
		t.pop = append(t.pop, ind)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return t
}

var generated sync.Map // scale → *territory

// generatedTerritory generates a territory of the given scale once per test process.
func generatedTerritory(t *testing.T, scale string) *territory {
	t.Helper()
	if v, ok := generated.Load(scale); ok {
		return v.(*territory)
	}
	dir := t.TempDir()
	if _, err := generate.Run(t.Context(), generate.Options{Scale: scale, Seed: 3, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	tr := readTerritory(t, dir)
	generated.Store(scale, tr)
	return tr
}

// benchTerritory reads the France set of make bench-cross, or skips.
func benchTerritory(b *testing.B) *territory {
	dir := os.Getenv("BENCH_CROSS_DIR")
	if dir == "" {
		dir = "../../.data/bench-cross-france"
	}
	if _, err := os.Stat(filepath.Join(dir, "carreaux_200m_met.csv")); err != nil {
		b.Skipf("no generated France set in %s (scripts/bench-cross.sh writes it; BENCH_CROSS_DIR chooses it)", dir)
	}
	if v, ok := generated.Load("bench"); ok {
		return v.(*territory)
	}
	tr := readTerritory(b, dir)
	generated.Store("bench", tr)
	return tr
}

// TestCellParts_Oracle checks the rasteriser against clipping every cell of the box,
// on generated territories: the same (cell, shape) pairs and the same areas.
func TestCellParts_Oracle(t *testing.T) {
	for _, scale := range []string{"demo", "department"} {
		t.Run(scale, func(t *testing.T) {
			tr := generatedTerritory(t, scale)
			for _, side := range []struct {
				name   string
				shapes []Shape
				iris   bool
			}{{"bureaux", tr.bureaux, false}, {"iris", tr.iris, true}} {
				got, err := CellParts(t.Context(), tr.cells, side.shapes, 2)
				if err != nil {
					t.Fatal(err)
				}
				for _, local := range []bool{false, true} {
					want := tr.clip(t, side.iris, local)
					type key struct{ c, s int32 }
					m := map[key]float64{}
					for _, p := range want {
						m[key{p.Cell, p.Shape}] = p.Area
					}
					var worst, only float64
					for _, p := range got {
						a, ok := m[key{p.Cell, p.Shape}]
						if !ok {
							only = max(only, p.Area)
							continue
						}
						delete(m, key{p.Cell, p.Shape})
						worst = max(worst, math.Abs(a-p.Area))
					}
					for _, a := range m {
						only = max(only, a)
					}
					t.Logf("%s: %d parts, %d by clipping (local coordinates %v); worst area gap %.3g m², largest part found by one only %.3g m²",
						side.name, len(got), len(want), local, worst, only)
					// The former clipping loses about 1e-3 m² (1e-7 of a cell) to its shoelace
					// over coordinates of 4e6 m; clipping in the cell's own coordinates must
					// agree within 1e-9 of a 40,000 m² cell.
					tol := 4e-5
					if !local {
						tol = 4e-3
					}
					if worst > tol || only > tol {
						t.Errorf("%s (local %v): areas differ from clipping by %g m², a part of %g m² found by one only", side.name, local, worst, only)
					}
				}
			}
		})
	}
}

// unindexed returns a copy of shapes without edge indexes: every test scans every edge.
func unindexed(shapes []Shape) []Shape {
	out := slices.Clone(shapes)
	for i := range out {
		out[i].edges = nil
	}
	return out
}

// TestOverlaps_Oracle checks that the edge index changes no overlap area: the same
// pairs, the same areas bit for bit.
func TestOverlaps_Oracle(t *testing.T) {
	for _, scale := range []string{"demo", "department"} {
		t.Run(scale, func(t *testing.T) {
			tr := generatedTerritory(t, scale)
			got, err := Overlaps(t.Context(), tr.iris, tr.bureaux, 2)
			if err != nil {
				t.Fatal(err)
			}
			want, err := overlapsScan(t.Context(), unindexed(tr.iris), unindexed(tr.bureaux))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d pieces, want %d", len(got), len(want))
			}
			sortPieces := func(p []Piece) {
				slices.SortFunc(p, func(a, b Piece) int {
					return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Bureau, b.Bureau))
				})
			}
			sortPieces(got)
			sortPieces(want)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("piece %d: %+v, want %+v", i, got[i], want[i])
				}
			}
			t.Logf("%d pieces, identical", len(got))
		})
	}
}

// TestDasymetric_Oracle checks the weights through the grid population against the
// former algorithm (clipping, then lattice points tested against whole shapes) on
// generated territories.
func TestDasymetric_Oracle(t *testing.T) {
	for _, scale := range []string{"demo", "department"} {
		t.Run(scale, func(t *testing.T) {
			tr := generatedTerritory(t, scale)
			ctx := t.Context()
			pieces, err := Overlaps(ctx, tr.iris, tr.bureaux, 2)
			if err != nil {
				t.Fatal(err)
			}
			iParts, err := CellParts(ctx, tr.cells, tr.iris, 2)
			if err != nil {
				t.Fatal(err)
			}
			bParts, err := CellParts(ctx, tr.cells, tr.bureaux, 2)
			if err != nil {
				t.Fatal(err)
			}
			// The oracle scans every edge, as before the edge index.
			ui, ub := unindexed(tr.iris), unindexed(tr.bureaux)
			got := slices.Clone(pieces)
			if err := Dasymetric(ctx, tr.cells, tr.pop, tr.iris, tr.bureaux, iParts, bParts, got, 8, 2); err != nil {
				t.Fatal(err)
			}
			// The same parts through the former sampling: the same populations.
			same := slices.Clone(pieces)
			dasymetricSampled(tr.cells, tr.pop, ui, ub, iParts, bParts, same, 8)
			// The whole former chain, clipping in the cell's own coordinates (the
			// former clipping's rounding, 1e-3 m², can tip a cell between sampling and
			// sharing by area).
			oi, ob := tr.clip(t, true, true), tr.clip(t, false, true)
			chain := slices.Clone(pieces)
			dasymetricSampled(tr.cells, tr.pop, ui, ub, oi, ob, chain, 8)
			// The former chain as it was: within its own rounding.
			ri, rb := tr.clip(t, true, false), tr.clip(t, false, false)
			raw := slices.Clone(pieces)
			dasymetricSampled(tr.cells, tr.pop, ui, ub, ri, rb, raw, 8)
			var total float64
			for _, p := range got {
				total += p.Pop
			}
			if total == 0 {
				t.Fatal("no population apportioned")
			}
			for _, ref := range []struct {
				name   string
				pieces []Piece
				tol    float64
			}{{"same parts", same, 1e-9}, {"former chain", chain, 1e-9}, {"former chain, raw clipping", raw, 1e-6}} {
				gw, rw := PieceWeights(got, len(tr.iris)), PieceWeights(ref.pieces, len(tr.iris))
				var worstPop, worstW float64
				for i := range got {
					worstPop = max(worstPop, math.Abs(got[i].Pop-ref.pieces[i].Pop)/math.Max(ref.pieces[i].Pop, 1))
					worstW = max(worstW, math.Abs(gw[i].Pop-rw[i].Pop), math.Abs(gw[i].Area-rw[i].Area))
				}
				t.Logf("%s: %d pieces, Σ pop %.1f; worst relative gap in pop %.3g, in weights %.3g", ref.name, len(got), total, worstPop, worstW)
				if worstPop > ref.tol || worstW > ref.tol {
					t.Errorf("%s: populations differ by %g relative, weights by %g", ref.name, worstPop, worstW)
				}
			}
		})
	}
}

// BenchmarkApportion_France times each geometric step of coopol apportion on the France
// set of make bench-cross (69,001 bureaux, 48,000 IRIS, 2.65 M cells).
func BenchmarkApportion_France(b *testing.B) {
	tr := benchTerritory(b)
	ctx := b.Context()
	workers := 2
	var bParts, iParts []CellPart
	var pieces []Piece
	b.Run("CellParts/bureaux", func(b *testing.B) {
		for b.Loop() {
			bParts, _ = CellParts(ctx, tr.cells, tr.bureaux, workers)
		}
	})
	b.Run("CellParts/iris", func(b *testing.B) {
		for b.Loop() {
			iParts, _ = CellParts(ctx, tr.cells, tr.iris, workers)
		}
	})
	b.Run("Overlaps", func(b *testing.B) {
		for b.Loop() {
			pieces, _ = Overlaps(ctx, tr.iris, tr.bureaux, workers)
		}
	})
	b.Run("Dasymetric", func(b *testing.B) {
		for b.Loop() {
			p := slices.Clone(pieces)
			if err := Dasymetric(ctx, tr.cells, tr.pop, tr.iris, tr.bureaux, iParts, bParts, p, 8, workers); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestApportion_OracleFrance compares cell areas and dasymetric weights with the
// former algorithms on the France set of make bench-cross; it takes a minute and a
// half, so it runs when COOPOL_ORACLE_FRANCE=1.
func TestApportion_OracleFrance(t *testing.T) {
	if os.Getenv("COOPOL_ORACLE_FRANCE") != "1" {
		t.Skip("COOPOL_ORACLE_FRANCE=1 runs it")
	}
	dir := os.Getenv("BENCH_CROSS_DIR")
	if dir == "" {
		dir = "../../.data/bench-cross-france"
	}
	tr := readTerritory(t, dir)
	parts := map[clipKey][]CellPart{} // the new ones, and the oracle's in the cells' coordinates
	for _, side := range []struct {
		name   string
		shapes []Shape
		iris   bool
	}{{"bureaux", tr.bureaux, false}, {"iris", tr.iris, true}} {
		got, err := CellParts(t.Context(), tr.cells, side.shapes, 2)
		if err != nil {
			t.Fatal(err)
		}
		parts[clipKey{side.iris, false}] = got
		for _, local := range []bool{false, true} {
			want, err := cellPartsClip(t.Context(), tr.cells, side.shapes, 2, local)
			if err != nil {
				t.Fatal(err)
			}
			if local {
				parts[clipKey{side.iris, true}] = want
			}
			type key struct{ c, s int32 }
			m := make(map[key]float64, len(want))
			for _, p := range want {
				m[key{p.Cell, p.Shape}] = p.Area
			}
			var worst, only float64
			nonly := 0
			for _, p := range got {
				a, ok := m[key{p.Cell, p.Shape}]
				if !ok {
					only, nonly = max(only, p.Area), nonly+1
					continue
				}
				delete(m, key{p.Cell, p.Shape})
				worst = max(worst, math.Abs(a-p.Area))
			}
			for _, a := range m {
				only, nonly = max(only, a), nonly+1
			}
			t.Logf("%s: %d parts, %d by clipping (local %v); worst gap %.3g m²; %d parts found by one only, the largest %.3g m²",
				side.name, len(got), len(want), local, worst, nonly, only)
			tol := 4e-5
			if !local {
				tol = 1e-2
			}
			if worst > tol || only > tol {
				t.Errorf("%s (local %v): gap %g m², a part of %g m² found by one only", side.name, local, worst, only)
			}
		}
	}
	// The weights through the grid population, against the former sampling over the
	// oracle's parts.
	pieces, err := Overlaps(t.Context(), tr.iris, tr.bureaux, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(pieces)
	if err := Dasymetric(t.Context(), tr.cells, tr.pop, tr.iris, tr.bureaux, parts[clipKey{true, false}], parts[clipKey{false, false}], got, 8, 2); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(pieces)
	dasymetricSampled(tr.cells, tr.pop, unindexed(tr.iris), unindexed(tr.bureaux), parts[clipKey{true, true}], parts[clipKey{false, true}], want, 8)
	gw, ww := PieceWeights(got, len(tr.iris)), PieceWeights(want, len(tr.iris))
	var worstPop, worstW float64
	for i := range got {
		worstPop = max(worstPop, math.Abs(got[i].Pop-want[i].Pop)/math.Max(want[i].Pop, 1))
		worstW = max(worstW, math.Abs(gw[i].Pop-ww[i].Pop), math.Abs(gw[i].Area-ww[i].Area))
	}
	t.Logf("%d IRIS × bureau pieces: worst relative gap in pop %.3g, in weights %.3g", len(got), worstPop, worstW)
	if worstPop > 1e-9 || worstW > 1e-9 {
		t.Errorf("populations differ by %g relative, weights by %g", worstPop, worstW)
	}
}
