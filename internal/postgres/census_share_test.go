package postgres_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/ingest/insee"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/realdata"
	"github.com/coopol/coopol/internal/tiles"
)

// parisColumns reads a real Paris census file with encoding/csv, apart from our reader:
// the values of the named columns by IRIS.
func parisColumns(t *testing.T, data []byte, names ...string) map[string][]float64 {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, rec := range recs[1:] {
		vals := make([]float64, len(names))
		for i, n := range names {
			j := slices.Index(recs[0], n)
			if j < 0 {
				t.Fatalf("no column %s", n)
			}
			if vals[i], err = strconv.ParseFloat(rec[j], 64); err != nil {
				t.Fatal(err)
			}
		}
		out[rec[0]] = vals
	}
	return out
}

// TestCensusVintages_Paris loads the real Paris 2015 and 2010 diploma files side by side,
// replaces one without touching the other, and maps the share without a diploma for
// each vintage and its change, on IRIS and on bureaux sharing the same weights, checked
// against values computed here from the files.
func TestCensusVintages_Paris(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	c := conn(t, url)
	read := func(rel string) []byte {
		b, err := os.ReadFile(realdata.Path(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	d15, d10 := read("paris/diplomes-2015_paris.csv"), read("paris/diplomes-2010_paris.csv")
	opt := insee.CensusOptions{Theme: "diplomes-formation"}
	for _, f := range []struct {
		name string
		data []byte
	}{{"diplomes-2015_paris.csv", d15}, {"diplomes-2010_paris.csv", d10}} {
		rep, err := loadCensus(t, db, f.name, f.data, opt)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 992 {
			t.Errorf("%s: %d rows, want 992", f.name, rep.Rows)
		}
	}
	sums := func() map[string]float64 {
		out := map[string]float64{}
		for _, n := range []string{"P15_NSCOL15P", "P10_NSCOL15P", "P15_NSCOL15P_DIPLMIN", "P10_NSCOL15P_DIPL0"} {
			out[n] = scan[float64](t, c, `SELECT coalesce(sum(v.value), 0) FROM census_values v JOIN census_variables c ON c.id = v.variable_id WHERE c.name = $1`, n)
		}
		return out
	}
	want := map[string]float64{"P15_NSCOL15P": 1595026, "P10_NSCOL15P": 1615019, "P15_NSCOL15P_DIPLMIN": 301219, "P10_NSCOL15P_DIPL0": 210207}
	check := func(when string) {
		t.Helper()
		got := sums()
		for n, w := range want {
			if got[n] != w {
				t.Errorf("%s: Σ %s = %v, want %v", when, n, got[n], w)
			}
		}
	}
	check("both loaded")
	refScope := `SELECT d.scope FROM iris i JOIN datasets d ON d.id = i.dataset_id WHERE i.code = '751010101'`
	if got := scan[string](t, c, refScope); got != "diplomes-formation/2015" {
		t.Errorf("IRIS reference from %s after loading 2010 over 2015, want the 2015 load", got)
	}

	// 2015 again, re-saved with ';': it replaces the 2015 load alone.
	recs, err := csv.NewReader(bytes.NewReader(d15)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var semi bytes.Buffer
	w := csv.NewWriter(&semi)
	w.Comma = ';'
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCensus(t, db, "diplomes-2015_paris_resaved.csv", semi.Bytes(), opt); err != nil {
		t.Fatal(err)
	}
	check("2015 reloaded")
	if n := scan[int64](t, c, `SELECT count(*) FROM datasets WHERE kind = 'census' AND superseded_at IS NULL`); n != 2 {
		t.Errorf("%d current census loads, want 2 (2010 and 2015)", n)
	}

	// Independent values: no diploma or at most the BEPC, among non-schooled 15+.
	v10 := parisColumns(t, d10, "P10_NSCOL15P_DIPL0", "P10_NSCOL15P_CEP", "P10_NSCOL15P_BEPC", "P10_NSCOL15P")
	v15 := parisColumns(t, d15, "P15_NSCOL15P_DIPLMIN", "P15_NSCOL15P")
	parts10 := func(iris string) (float64, float64) { v := v10[iris]; return v[0] + v[1] + v[2], v[3] }
	parts15 := func(iris string) (float64, float64) { v := v15[iris]; return v[0], v[1] }

	indicator := func(layer, ind string, vintage, from int) map[string]float64 {
		t.Helper()
		m, err := db.Indicator(ctx, tiles.IndicatorQuery{Layer: layer, Indicator: ind, Vintage: vintage, From: from})
		if err != nil {
			t.Fatalf("%s on %s: %v", ind, layer, err)
		}
		return m
	}
	const iris = "751010101"
	if got := indicator("iris", "census:P10_NSCOL15P", 0, 0); len(got) != 992 || got[iris] != 650 {
		t.Errorf("census:P10_NSCOL15P: %d IRIS, %s = %v, want 992 and 650", len(got), iris, got[iris])
	}
	if got := indicator("iris", "census:P10_NSCOL15P", 2015, 0); len(got) != 0 {
		t.Errorf("census:P10_NSCOL15P in vintage 2015: %d values, want none", len(got))
	}
	n10, d10s := parts10(iris)
	n15, d15s := parts15(iris)
	wantChange := math.Round(100*(n15/d15s-n10/d10s)*100) / 100
	if got := indicator("iris", "change:no_diploma", 0, 0)[iris]; got != wantChange || wantChange == 0 {
		t.Errorf("IRIS %s change 2010 → 2015 = %v points, want %v", iris, got, wantChange)
	}
	if got := indicator("iris", "share:no_diploma", 2010, 0)[iris]; got != math.Round(n10/d10s*1e4)/1e4 {
		t.Errorf("IRIS %s share 2010 = %v, want %v", iris, got, n10/d10s)
	}
	if got := indicator("iris", "share:no_diploma", 0, 0); len(got) < 900 || got[iris] != math.Round(n15/d15s*1e4)/1e4 {
		t.Errorf("share, latest vintage: %d IRIS, %s = %v, want %v", len(got), iris, got[iris], n15/d15s)
	}

	// Two bureaux over three IRIS, one IRIS split between them: both vintages go through
	// the same weights.
	if _, err := c.Exec(ctx, `WITH r AS (INSERT INTO apportion_runs (source, source_vintage, contour_vintage, inputs)
		VALUES ('iris', '2015', '2024', '{}') RETURNING id)
		INSERT INTO iris_weights (run_id, iris, bureau, area_weight, pop_weight, area_m2, pop)
		SELECT r.id, w.iris, w.bureau, w.pw, w.pw, 1, 1 FROM r, (VALUES
			('751010101', '75056_0101', 1.0), ('751010102', '75056_0101', 0.25),
			('751010102', '75056_0102', 0.75), ('751010103', '75056_0102', 1.0)) w(iris, bureau, pw)`); err != nil {
		t.Fatal(err)
	}
	weights := map[string]map[string]float64{
		"75056_0101": {"751010101": 1, "751010102": 0.25},
		"75056_0102": {"751010102": 0.75, "751010103": 1},
	}
	change := indicator("bureaux", "change:no_diploma", 2015, 2010)
	for bureau, ws := range weights {
		var a, b, x, y float64
		for iris, w := range ws {
			n, d := parts10(iris)
			a, b = a+n*w, b+d*w
			n, d = parts15(iris)
			x, y = x+n*w, y+d*w
		}
		want := math.Round(crosstab.ShareChange(a/b, x/y)*100) / 100
		if change[bureau] != want {
			t.Errorf("bureau %s: change = %v points, want %v", bureau, change[bureau], want)
		}
	}
	if len(change) != 2 {
		t.Errorf("change on bureaux: %v, want the two weighted bureaux", change)
	}

	// The bureau's profile lists the share in both vintages and the change, unrounded.
	if _, err := c.Exec(ctx, `WITH d AS (INSERT INTO datasets (kind, scope, file_name, sha256)
		VALUES ('contours', 'test', 'paris.geojson', 'x') RETURNING id)
		INSERT INTO bureau_contours (dataset_id, vintage, code, commune, bureau, geom)
		SELECT d.id, '2024', '75056_0101', '75056', '0101', ST_Multi(ST_MakeEnvelope(2.33, 48.85, 2.35, 48.87, 4326)) FROM d`); err != nil {
		t.Fatal(err)
	}
	prof, err := db.BureauProfile(ctx, "75056_0101")
	if err != nil {
		t.Fatal(err)
	}
	var a, b, x, y float64
	for iris, w := range weights["75056_0101"] {
		n, d := parts10(iris)
		a, b = a+n*w, b+d*w
		n, d = parts15(iris)
		x, y = x+n*w, y+d*w
	}
	var got *postgres.ProfileShare
	for i := range prof.CensusShares {
		if prof.CensusShares[i].Key == "no_diploma" {
			got = &prof.CensusShares[i]
		}
	}
	if got == nil || len(got.Vintages) != 2 || got.Vintages[0].Vintage != 2010 || *got.Vintages[0].Num != a || *got.Vintages[1].Den != y ||
		got.Change == nil || got.Change.From != 2010 || got.Change.To != 2015 || math.Abs(*got.Change.Points-100*(x/y-a/b)) > 1e-9 {
		t.Errorf("profile share = %+v, want 2010 %v/%v and 2015 %v/%v", got, a, b, x, y)
	}

	cat, err := db.IndicatorCatalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string][]int{}
	for _, s := range cat.Shares {
		found[s.Key] = s.Vintages
	}
	if !slices.Equal(found["no_diploma"], []int{2010, 2015}) || !slices.Equal(found["higher_education"], []int{2010, 2015}) || found["unemployment"] != nil {
		t.Errorf("catalogue shares = %v", found)
	}
	if _, err := db.Indicator(ctx, tiles.IndicatorQuery{Layer: "iris", Indicator: "change:no_diploma", Vintage: 2015, From: 2015}); err == nil {
		t.Error("a change within one vintage was accepted")
	}
	if _, err := db.Indicator(ctx, tiles.IndicatorQuery{Layer: "iris", Indicator: "share:unemployment"}); err == nil {
		t.Error("a share without its variables loaded was accepted")
	}
}

// Paris's IRIS carry arrondissement codes; the communes layer keys the city whole.
func TestCensusShares_Layers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := pgtest.New(t)
	data, err := os.ReadFile(realdata.Path(t, "paris/diplomes-2015_paris.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadCensus(t, db, "diplomes-2015_paris.csv", data, insee.CensusOptions{Theme: "diplomes-formation"}); err != nil {
		t.Fatal(err)
	}
	want := 301219.0 / 1595026
	for _, layer := range []string{"communes", "departements"} {
		id := map[string]string{"communes": "75056", "departements": "75"}[layer]
		got, err := db.Indicator(ctx, tiles.IndicatorQuery{Layer: layer, Indicator: "share:no_diploma"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[id] != math.Round(want*1e4)/1e4 {
			t.Errorf("%s: %v, want {%s: %.4f}", layer, got, id, want)
		}
	}
	if _, err := db.Indicator(ctx, tiles.IndicatorQuery{Layer: "circonscriptions", Indicator: "share:no_diploma"}); err == nil {
		t.Error("a census share on circonscriptions was accepted")
	}
}
