package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/realdata"
)

// TestRun_IngestCensusVintages loads the real Paris diploma files of 2010 and 2015 (the
// pre-2017 layout, comma-separated) through the command line: both load, side by side,
// with the published totals; a file of two vintages and a Filosofi file of the 2015
// layout go through the same command.
func TestRun_IngestCensusVintages(t *testing.T) {
	t.Parallel()
	_, url := pgtest.New(t)
	sum := func(name string) float64 {
		return pgtest.QueryFloat(t, url, `SELECT coalesce(sum(v.value), 0) FROM census_values v
			JOIN census_variables c ON c.id = v.variable_id WHERE c.name = $1`, name)
	}
	for _, f := range []struct{ file, scope string }{
		{"paris/diplomes-2015_paris.csv", "diplomes-formation/2015"},
		{"paris/diplomes-2010_paris.csv", "diplomes-formation/2010"},
	} {
		rep := ingestJSON(t, url, "census", realdata.Path(t, f.file), "--theme", "diplomes-formation")[0]
		if rep.Kind != "census" || rep.Scope != f.scope || rep.Rows != 992 || rep.Layout != "base-ic" {
			t.Errorf("%s: report %+v", f.file, rep)
		}
	}
	for name, want := range map[string]float64{"P15_NSCOL15P": 1595026, "P10_NSCOL15P": 1615019, "P15_POP0205": 85092, "P10_POP0205": 89094} {
		if got := sum(name); got != want {
			t.Errorf("Σ %s = %v, want %v", name, got, want)
		}
	}
	if n := pgtest.QueryFloat(t, url, `SELECT count(*)::float8 FROM census_variables WHERE name IN ('LIBCOM', 'LIBIRIS', 'REG', 'UU2010', 'MODIF_IRIS')`); n != 0 {
		t.Errorf("%v identification columns stored as variables", n)
	}

	dir := t.TempDir()
	two := filepath.Join(dir, "base-ic-diplomes-formation-2015.csv")
	if err := os.WriteFile(two, []byte("IRIS,COM,TYP_IRIS,P15_NSCOL15P,P10_NSCOL15P\n751010101,75101,H,739,650\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb syncBuffer
	err := run(t.Context(), []string{"ingest", "census", two, "-db", url}, env(nil), &out, &errb)
	if err == nil || !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "base-ic-diplomes-formation-2015.csv:1:5: column \"P10_NSCOL15P\" is 2010") || !strings.Contains(err.Error(), "one vintage") {
		t.Fatalf("two vintages: err = %v", err)
	}
	if got := sum("P15_NSCOL15P"); got != 1595026 {
		t.Errorf("Σ P15_NSCOL15P = %v after a refused file, want 1,595,026", got)
	}

	filo := filepath.Join(dir, "BASE_TD_FILO_DISP_IRIS_2015.csv")
	if err := os.WriteFile(filo, []byte("IRIS,LIBIRIS,COM,LIBCOM,DISP_TP6015,DISP_MED15\n"+
		"751010101,Saint-Germain l'Auxerrois 1,75101,Paris 1er Arrondissement,\"9,8\",\"35123,4\"\n"+
		"751010102,Saint-Germain l'Auxerrois 2,75101,Paris 1er Arrondissement,ns,nd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := ingestJSON(t, url, "census", filo)[0]
	if rep.Kind != "filosofi_iris" || rep.Scope != "filosofi-disp/2015" || rep.Rows != 2 {
		t.Errorf("Filosofi 2015: report %+v", rep)
	}
	if got := sum("DISP_MED15"); got != 35123.4 {
		t.Errorf("Σ DISP_MED15 = %v, want 35123.4 (ns and nd not available, not zero)", got)
	}
	if n := pgtest.QueryFloat(t, url, `SELECT count(*)::float8 FROM census_values v JOIN census_variables c ON c.id = v.variable_id
		WHERE c.name LIKE 'DISP_%15' AND v.iris = '751010102'`); n != 0 {
		t.Errorf("%v values stored for an IRIS whose figures are all withheld, want 0", n)
	}
	if typ := pgtest.QueryFloat(t, url, `SELECT count(*)::float8 FROM iris WHERE code = '751010101' AND typ_iris = 'H'`); typ != 1 {
		t.Error("the Filosofi load overwrote the IRIS reference of the census")
	}
}
