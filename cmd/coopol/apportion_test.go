package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/coopol/coopol/internal/generate"
	"github.com/coopol/coopol/internal/postgres/pgtest"
)

// TestRun_ApportionGenerated loads the generated demo territory, apportions it, and
// checks that totals are kept (census through the grid and by area, grid by area),
// that area-weighted values match a PostGIS reference built with ST_Intersection, and
// that the exported table adds up to the source files.
func TestRun_ApportionGenerated(t *testing.T) {
	t.Parallel()
	_, url := pgtest.New(t)
	dir := t.TempDir()
	var quiet, errb syncBuffer
	var out bytes.Buffer
	if err := run(t.Context(), []string{"demo", "-db", url, "-dir", dir, "-scale", "demo", "-seed", "3"}, env(nil), &quiet, &errb); err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	out.Reset()
	// The demo already apportioned: -force recomputes, so the run below reports its work.
	if err := run(t.Context(), []string{"apportion", "-db", url, "-force"}, env(nil), &out, &errb); err != nil {
		t.Fatalf("apportion: %v\n%s", err, errb.String())
	}
	var st struct {
		Unchanged   bool
		IRISPairs   int     `json:"iris_pairs"`
		CellPairs   int     `json:"cell_pairs"`
		GridCovered float64 `json:"grid_covered"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.Unchanged || st.IRISPairs == 0 || st.CellPairs == 0 {
		t.Fatalf("apportion said %s (%v)", out.String(), err)
	}
	q := func(sql string, args ...any) float64 { return pgtest.QueryFloat(t, url, sql, args...) }
	eq := func(what string, got, want, rel float64) {
		t.Helper()
		if math.Abs(got-want) > rel*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	count := func(arr, key string) float64 {
		return q(`SELECT sum(b.` + arr + `[array_position(p.keys, '` + key + `')]) FROM bureau_profiles b JOIN profile_columns p USING (contour_vintage)`)
	}
	// Census totals of the IRIS overlapping a bureau arrive whole, by either weighting.
	src := q(`SELECT sum(v.value) FROM census_values v JOIN census_variables c ON c.id = v.variable_id
		WHERE c.name = 'P20_POP' AND v.iris IN (SELECT iris FROM iris_weights)`)
	eq("Σ pop (dasymetric)", count("counts", "pop"), src, 1e-9)
	eq("Σ pop (area)", count("counts_area", "pop"), src, 1e-9)
	eq("Σ grid ind", count("counts", "grid_ind"), q(`SELECT sum(ind) FROM grid_cells WHERE id IN (SELECT cell FROM grid_weights)`), 1e-9)
	eq("Σ grid ind over all cells", count("counts", "grid_ind"), q(`SELECT sum(ind) FROM grid_cells`), 1e-6)

	// The PostGIS reference: IRIS populations shared by the area of ST_Intersection in
	// EPSG:3035, normalised per IRIS over the bureaux it overlaps.
	worst := q(`WITH inter AS (
		SELECT i.code iris, b.code bureau, ST_Area(ST_Transform(ST_Intersection(i.geom, b.geom), 3035)) a
		FROM iris_contours i JOIN bureau_contours b ON ST_Intersects(i.geom, b.geom)),
	w AS (SELECT iris, bureau, a / sum(a) OVER (PARTITION BY iris) w FROM inter WHERE a > 0),
	ref AS (SELECT w.bureau, sum(w.w * v.value) pop FROM w
		JOIN census_values v ON v.iris = w.iris JOIN census_variables c ON c.id = v.variable_id AND c.name = 'P20_POP'
		GROUP BY w.bureau)
	SELECT max(abs(ref.pop - b.counts_area[array_position(p.keys, 'pop')]) / greatest(ref.pop, 1))
	FROM ref JOIN bureau_profiles b ON b.bureau = ref.bureau JOIN profile_columns p USING (contour_vintage)`)
	t.Logf("Σ pop %v over %v bureaux; worst relative gap to the ST_Intersection reference %g", src, q(`SELECT count(*)::float8 FROM bureau_profiles`), worst)
	if worst > 1e-6 {
		t.Errorf("area-weighted population differs from the ST_Intersection reference by %g relative", worst)
	}

	// The exported table: one row per bureau, results as in the source files.
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m generate.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if f.Kind != "results" || f.Election == "" {
			continue
		}
		out.Reset()
		args := []string{"export", "bureaux", "-db", url, "--election", f.Election, "--round", strconv.Itoa(f.Round), "--format", "csv"}
		if err := run(t.Context(), args, env(nil), &out, &errb); err != nil {
			t.Fatalf("export: %v\n%s", err, errb.String())
		}
		recs, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		var ins, expr float64
		for _, r := range recs[1:] {
			v, _ := strconv.ParseFloat(r[col[f.Election+"_t"+strconv.Itoa(f.Round)+"_inscrits"]], 64)
			ins += v
			v, _ = strconv.ParseFloat(r[col[f.Election+"_t"+strconv.Itoa(f.Round)+"_exprimes"]], 64)
			expr += v
		}
		eq("exported Σ inscrits of "+f.Path, ins, float64(f.Inscrits), 0)
		eq("exported Σ exprimés of "+f.Path, expr, float64(f.Exprimes), 0)
		if n := q(`SELECT count(*)::float8 FROM audit_log WHERE action = 'data.export'`); n == 0 {
			t.Error("export not audited")
		}
		break
	}
	// A census-only change rebuilds the profiles from the stored weights and grid counts,
	// without geometry, to the same values; so do new IRIS weights (the grid read without
	// its values) and a grid run stored before grid_counts existed
	// (0013_apportion_perf.sql), whose grid weights are recomputed.
	checksum := func() float64 {
		return q(`SELECT sum(x * k * (abs(hashtext(bureau)) % 997 + 1)) FROM bureau_profiles,
			unnest(counts || counts_area) WITH ORDINALITY u(x, k) WHERE x <> 'NaN'`)
	}
	nans := `SELECT count(*)::float8 FROM bureau_profiles, unnest(counts || counts_area) u(x) WHERE x = 'NaN'`
	want, wantNaN := checksum(), q(nans)
	for _, tc := range []struct {
		name, prepare string
		geometry      bool
	}{
		{"census only", `WITH r AS (DELETE FROM apportion_runs WHERE source = 'profile' RETURNING 1),
			p AS (UPDATE bureau_profiles SET counts = '{}', counts_area = '{}' RETURNING 1)
			SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM p)::float8`, false},
		{"iris only", `WITH r AS (DELETE FROM apportion_runs WHERE source = 'iris' RETURNING 1),
			p AS (UPDATE bureau_profiles SET counts = '{}', counts_area = '{}' RETURNING 1)
			SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM p)::float8`, true},
		{"grid run without grid counts", `WITH g AS (UPDATE apportion_runs SET report = report - 'keys' WHERE source = 'grid' RETURNING 1),
			c AS (DELETE FROM grid_counts RETURNING 1),
			r AS (DELETE FROM apportion_runs WHERE source = 'profile' RETURNING 1),
			p AS (UPDATE bureau_profiles SET counts = '{}', counts_area = '{}' RETURNING 1)
			SELECT (SELECT count(*) FROM g) + (SELECT count(*) FROM c) + (SELECT count(*) FROM r) + (SELECT count(*) FROM p)::float8`, true},
	} {
		if n := q(tc.prepare); n == 0 {
			t.Fatalf("%s: nothing to change", tc.name)
		}
		out.Reset()
		if err := run(t.Context(), []string{"apportion", "-db", url}, env(nil), &out, &errb); err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, errb.String())
		}
		if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.Unchanged || (st.CellPairs > 0) != tc.geometry {
			t.Errorf("%s: apportion said %s (%v); want geometry %v", tc.name, out.String(), err, tc.geometry)
		}
		if got, gotNaN := checksum(), q(nans); math.Abs(got-want) > 1e-12*math.Abs(want) || gotNaN != wantNaN {
			t.Errorf("%s: profile checksum %v (%v NaN), want %v (%v NaN)", tc.name, got, gotNaN, want, wantNaN)
		}
	}

	// Nothing changed: the second run is a no-op.
	out.Reset()
	if err := run(t.Context(), []string{"apportion", "-db", url}, env(nil), &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || !st.Unchanged {
		t.Errorf("second apportion: %s", out.String())
	}
}
