package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/generate"
	"github.com/coopol/coopol/internal/postgres/pgtest"
)

// TestRun_DemoGeneratedScales generates each scale but france, ingests every file
// through the command line as make run does, and checks what the database holds against
// the generator's manifest; a second run must change nothing.
func TestRun_DemoGeneratedScales(t *testing.T) {
	for _, scale := range []string{"demo", "department"} {
		t.Run(scale, func(t *testing.T) {
			t.Parallel()
			_, url := pgtest.New(t)
			dir := t.TempDir()
			var out, errb syncBuffer
			args := []string{"demo", "-db", url, "-dir", dir, "-scale", scale, "-seed", "7"}
			if err := run(t.Context(), args, env(nil), &out, &errb); err != nil {
				t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errb.String())
			}
			b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var m generate.Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			checkLoaded(t, url, m)

			var again syncBuffer
			if err := run(t.Context(), args, env(nil), &again, &errb); err != nil {
				t.Fatalf("second demo: %v\n%s", err, errb.String())
			}
			for _, line := range strings.Split(strings.TrimSpace(again.String()), "\n") {
				if strings.Contains(line, ": loaded,") {
					t.Errorf("second run reloaded a file: %s", line)
				}
			}
			if !strings.Contains(again.String(), "reusing") {
				t.Errorf("second run regenerated the files:\n%s", again.String())
			}
			checkLoaded(t, url, m)
		})
	}
}

func checkLoaded(t *testing.T, url string, m generate.Manifest) {
	t.Helper()
	q := func(sql string, args ...any) float64 { return pgtest.QueryFloat(t, url, sql, args...) }
	eq := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	tot := m.Totals
	eq("communes", q(`SELECT count(*)::float8 FROM communes`), float64(tot.Communes+tot.Arrondissements))
	eq("departements", q(`SELECT count(*)::float8 FROM departements`), float64(tot.Departements))
	eq("bureau contours", q(`SELECT count(*)::float8 FROM bureau_contours`), float64(tot.Bureaux))
	eq("iris contours", q(`SELECT count(*)::float8 FROM iris_contours`), float64(tot.IRIS))
	eq("grid cells", q(`SELECT count(*)::float8 FROM grid_cells`), float64(tot.Cells))
	eq("Σ ind of the grid", q(`SELECT sum(ind) FROM grid_cells`), tot.GridInd)
	eq("Σ P20_POP", q(`SELECT sum(v.value) FROM census_values v JOIN census_variables c ON c.id = v.variable_id WHERE c.name = 'P20_POP'`), tot.P20Pop)
	eq("addresses", q(`SELECT count(*)::float8 FROM addresses`), float64(tot.Addresses))
	eq("bureau profiles", q(`SELECT count(*)::float8 FROM bureau_profiles`), float64(tot.Bureaux))
	eq("bureaux in the built tiles", q(`SELECT count(DISTINCT id)::float8 FROM tile_features WHERE layer = 'bureaux'`), float64(tot.Bureaux))
	for _, f := range m.Files {
		if f.Kind != "results" {
			continue
		}
		got := q(`SELECT sum(inscrits)::float8 FROM bureau_results WHERE election = $1 AND round = $2`, f.Election, f.Round)
		eq("Σ inscrits of "+f.Path, got, float64(f.Inscrits))
		eq("Σ exprimés of "+f.Path, q(`SELECT sum(exprimes)::float8 FROM bureau_results WHERE election = $1 AND round = $2`, f.Election, f.Round), float64(f.Exprimes))
		eq("bureaux of "+f.Path, q(`SELECT count(*)::float8 FROM bureau_results WHERE election = $1 AND round = $2`, f.Election, f.Round), float64(f.Rows))
		missing := q(`SELECT count(*)::float8 FROM bureau_results r WHERE election = $1 AND round = $2
			AND NOT EXISTS (SELECT 1 FROM bureau_contours c WHERE c.code = r.bureau)`, f.Election, f.Round)
		eq("results without contour in "+f.Path, missing, float64(len(f.WithoutContour)))
	}
	if warnings := q(`SELECT count(*)::float8 FROM dataset_warnings WHERE code NOT IN ('no_contour')`); warnings > 0 {
		t.Logf("warnings other than no_contour on generated data: %v", warnings)
	}
}
