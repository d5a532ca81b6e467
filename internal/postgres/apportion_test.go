package postgres_test

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
)

// TestDB_Apportion_Grid9213 apportions the real 92-13 Filosofi cells onto the real
// bureau contours: every cell centroid lies in a bureau, so the whole population must
// arrive (data-formats.md §14.4), and a second run must find nothing stale.
func TestDB_Apportion_Grid9213(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	ctx := context.Background()
	loadContours(t, url)
	if _, err := loadGrid(t, db, "filosofi2019_carreaux200m_9213.geojson", readReal(t, "filosofi2019_carreaux200m_9213.geojson"), 2019); err != nil {
		t.Fatal(err)
	}
	st, err := db.Apportion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Unchanged || st.Bureaux != 91 || st.Cells != 318 {
		t.Errorf("stats %+v: want 91 bureaux, 318 cells", st)
	}
	q := func(sql string) float64 { return pgtest.QueryFloat(t, url, sql) }
	ind := q(`SELECT sum(counts[array_position(p.keys, 'grid_ind')]) FROM bureau_profiles b JOIN profile_columns p USING (contour_vintage)`)
	if math.Abs(ind-101053) > 1e-6*101053 {
		t.Errorf("Σ grid_ind over bureaux = %v, want 101053", ind)
	}
	men := q(`SELECT sum(counts[array_position(p.keys, 'grid_men')]) FROM bureau_profiles b JOIN profile_columns p USING (contour_vintage)`)
	if math.Abs(men-43251.1) > 0.05 {
		t.Errorf("Σ grid_men = %v, want 43251.1", men)
	}
	// Each cell's weights sum to 1.
	if bad := q(`SELECT count(*)::float8 FROM (SELECT cell FROM grid_weights GROUP BY cell HAVING abs(sum(weight) - 1) > 1e-9) x`); bad != 0 {
		t.Errorf("%v cells whose weights do not sum to 1", bad)
	}
	// Cell areas from the Go clipping equal PostGIS's in EPSG:3035.
	diff := q(`SELECT max(abs(w.area_m2 - ST_Area(ST_Intersection(ST_Transform(b.geom, 3035),
		ST_MakeEnvelope(c.easting, c.northing, c.easting + c.size, c.northing + c.size, 3035))))) FROM grid_weights w
		JOIN grid_cells c ON c.id = w.cell JOIN bureau_contours b ON b.code = w.bureau`)
	if diff > 0.04 { // m² on 40,000 m² cells: 1e-6 relative (PROJ and our LAEA differ by micrometres)
		t.Errorf("cell ∩ bureau areas differ from PostGIS by up to %v m²", diff)
	}
	again, err := db.Apportion(ctx)
	if err != nil || !again.Unchanged {
		t.Errorf("second run: %+v, %v: want unchanged", again, err)
	}
	forced, err := db.ApportionWith(ctx, postgres.ApportionOptions{Force: true})
	if err != nil || forced.Unchanged {
		t.Errorf("forced run: %+v, %v", forced, err)
	}
	// A newer grid vintage: its run comes beside the first, whose weights stay. Forced
	// twice, its weights are deleted row by row, not by emptying the table.
	n := q(`SELECT count(*)::float8 FROM grid_weights`)
	if rep, err := loadGrid(t, db, "filosofi2020_carreaux200m_9213.geojson", readReal(t, "filosofi2019_carreaux200m_9213.geojson"), 2020); err != nil || rep.Unchanged {
		t.Fatalf("second vintage: %+v, %v", rep, err)
	}
	for range 2 {
		if st, err := db.ApportionWith(ctx, postgres.ApportionOptions{Force: true}); err != nil || st.GridVintage != "2020" || st.CellPairs == 0 {
			t.Fatalf("second vintage: %+v, %v", st, err)
		}
	}
	for _, v := range []string{"2019", "2020"} {
		if got := pgtest.QueryFloat(t, url, `SELECT count(*)::float8 FROM grid_weights w JOIN apportion_runs r ON r.id = w.run_id WHERE r.source = 'grid' AND r.source_vintage = $1`, v); got != n {
			t.Errorf("grid %s: %v weights, want %v", v, got, n)
		}
	}
	if orphans := q(`SELECT count(*)::float8 FROM grid_weights WHERE run_id NOT IN (SELECT id FROM apportion_runs)`); orphans != 0 {
		t.Errorf("%v weights without their run", orphans)
	}
}

// benchDB opens the France database of make bench-cross (BENCH_CROSS_DATABASE_URL), or skips.
func benchDB(b *testing.B) *postgres.DB {
	url := os.Getenv("BENCH_CROSS_DATABASE_URL")
	if url == "" {
		b.Skip("BENCH_CROSS_DATABASE_URL not set: scripts/bench-cross.sh loads coopol_bench_cross_france")
	}
	db, err := postgres.Open(b.Context(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	return db
}

// BenchmarkDB_Crosstab_France is the national crosstab of make bench-cross, without
// the process start.
func BenchmarkDB_Crosstab_France(b *testing.B) {
	db := benchDB(b)
	e, err := electoral.ParseElection("lg2024", 1)
	if err != nil {
		b.Fatal(err)
	}
	m, err := crosstab.ParseMeasure("nuance:UG")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := db.Crosstab(b.Context(), crosstab.Query{Election: e, Measure: m, Indicator: "share_60p", Quantiles: 5}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDB_Apportion_France recomputes every weight and profile of the France
// database of make bench-cross (it rewrites them).
func BenchmarkDB_Apportion_France(b *testing.B) {
	db := benchDB(b)
	for b.Loop() {
		if _, err := db.ApportionWith(b.Context(), postgres.ApportionOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
	}
}
