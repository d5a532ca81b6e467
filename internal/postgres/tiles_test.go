package postgres_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/planar"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/tiles"
	"github.com/coopol/coopol/internal/tiles/tilestest"
)

// On the real 92-13 contours: every layer is built at every band, each bureau once per
// band, and the four communes, the département and the circonscription are dissolved
// from them; rebuilding unchanged data keeps versions, a new load bumps them.
func TestDB_ReplaceTileLayers_real9213(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	tilestest.LoadContours(t, db)
	tilestest.LoadResults(t, db)
	start := time.Now()
	rep := tilestest.Build(t, db)
	t.Logf("build: %v", time.Since(start))
	bands := func(l string) int { lay, _ := tiles.LayerByName(l); return len(lay.Bands) }
	want := map[string]int{
		"bureaux": 91 * bands("bureaux"), "communes": 4 * bands("communes"),
		"departements": 1 * bands("departements"), "circonscriptions": 1 * bands("circonscriptions"), "iris": 0, "carreaux": 0,
	}
	if diff := cmp.Diff(want, rep.Layers); diff != "" {
		t.Fatalf("built features (-want +got):\n%s", diff)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var antony string
	var inscrits int64
	if err := conn.QueryRow(ctx, `SELECT name, inscrits FROM tile_features WHERE layer = 'communes' AND id = '92002' AND band = 14`).Scan(&antony, &inscrits); err != nil {
		t.Fatal(err)
	}
	if antony != "Antony" || inscrits != 40957 {
		t.Errorf("commune 92002 = %q, %d inscrits; want Antony, 40957", antony, inscrits)
	}
	var dept int64
	if err := conn.QueryRow(ctx, `SELECT inscrits FROM tile_features WHERE layer = 'departements' AND id = '92' AND band = 6`).Scan(&dept); err != nil {
		t.Fatal(err)
	}
	if dept != 89338 {
		t.Errorf("département 92 inscrits = %d, want 89338 (the four communes)", dept)
	}

	// Adjacent bureaux (sharing a border at full resolution) still touch at every band,
	// and overlap by no more than a sliver.
	const adjacencySQL = `WITH pairs AS MATERIALIZED (
	SELECT a.code AS a, b.code AS b,
		ST_Length(ST_Transform(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 2), 3857)) AS border
	FROM bureau_contours a JOIN bureau_contours b
		ON a.code < b.code AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
	WHERE ST_Length(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 2)) > 0)
SELECT fa.band, count(*),
	count(*) FILTER (WHERE NOT ST_Intersects(fa.geom, fb.geom)),
	-- Simplifying moves a border by at most the band's tolerance, so neighbours may
	-- overlap by at most tolerance × border length.
	COALESCE(max(ST_Area(ST_Intersection(fa.geom, fb.geom))
		/ (40075016.68557849 / (512 * 2 ^ fa.band) * p.border)), 0)
FROM pairs p
JOIN (SELECT band, id, ST_MakeValid(geom) AS geom FROM tile_features WHERE layer = 'bureaux') fa ON fa.id = p.a
JOIN (SELECT band, id, ST_MakeValid(geom) AS geom FROM tile_features WHERE layer = 'bureaux') fb ON fb.id = p.b AND fb.band = fa.band
GROUP BY fa.band ORDER BY fa.band`
	rows, err := conn.Query(ctx, adjacencySQL)
	if err != nil {
		t.Fatal(err)
	}
	var band, pairs, apart int
	var overlap float64
	seen := 0
	_, err = pgx.ForEachRow(rows, []any{&band, &pairs, &apart, &overlap}, func() error {
		seen++
		t.Logf("band %d: %d adjacent pairs, %d apart, largest overlap %.3f × tolerance × border length", band, pairs, apart, overlap)
		if pairs < 150 {
			t.Errorf("band %d: %d adjacent pairs, want the 92-13 network (> 150)", band, pairs)
		}
		if apart > 0 {
			t.Errorf("band %d: %d adjacent pairs no longer touch", band, apart)
		}
		if overlap > 1 {
			t.Errorf("band %d: two neighbours overlap by %.2f × tolerance × border length", band, overlap)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("adjacency: %v", time.Since(start))
	if seen != bands("bureaux") {
		t.Fatalf("adjacency checked on %d bands, want %d", seen, bands("bureaux"))
	}

	// Communes nest in their département and their bureaux: the dissolved borders are
	// the bureaux' own arcs, so a commune's outline covers its bureaux exactly.
	var worst float64
	if err := conn.QueryRow(ctx, `SELECT max(ST_Area(ST_SymDifference(ST_MakeValid(c.geom), ST_MakeValid(u.geom))) / ST_Area(c.geom))
FROM tile_features c JOIN (SELECT band, parent, ST_Union(ST_MakeValid(geom)) AS geom FROM tile_features WHERE layer = 'bureaux' GROUP BY band, parent) u
	ON u.parent = c.id AND u.band = c.band WHERE c.layer = 'communes'`).Scan(&worst); err != nil {
		t.Fatal(err)
	}
	if worst > 0.001 {
		t.Errorf("a commune differs from the union of its bureaux by %.3f%% of its area", worst*100)
	}

	before, err := db.DataVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&tiles.Builder{Store: db}).Build(ctx, true); err != nil {
		t.Fatal(err)
	}
	after, err := db.DataVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("a forced rebuild of unchanged data changed versions (-before +after):\n%s", diff)
	}
	if _, err := conn.Exec(ctx, `UPDATE bureau_results SET inscrits = inscrits + 1 WHERE bureau = '92002_0001'`); err != nil {
		t.Fatal(err)
	}
	if _, err := (&tiles.Builder{Store: db}).Build(ctx, true); err != nil {
		t.Fatal(err)
	}
	after, err = db.DataVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"bureaux", "communes", "departements", "circonscriptions"} {
		if before["tiles:"+l] == after["tiles:"+l] {
			t.Errorf("layer %s: version %s kept after its registered voters changed", l, after["tiles:"+l])
		}
	}
}

// BenchmarkEngine_Render renders the densest composite tile of zooms 8 to 11, uncached,
// on the database BENCH_TILES_DATABASE_URL names (make bench-tiles loads the France
// set into coopol_bench_tiles_france); skipped when it is unset.
func BenchmarkEngine_Render(b *testing.B) {
	url := os.Getenv("BENCH_TILES_DATABASE_URL")
	if url == "" {
		b.Skip("BENCH_TILES_DATABASE_URL not set")
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	eng := tiles.NewEngine(db, tiles.Options{})
	for _, z := range []int{8, 9, 10, 11, 12} {
		cands, err := db.TileDensity(ctx, z, 1)
		if err != nil || len(cands) == 0 {
			b.Fatal(err)
		}
		c := cands[0]
		for _, layer := range []string{tiles.Composite, "carreaux"} {
			if layer == "carreaux" && z < 11 {
				continue
			}
			b.Run(fmt.Sprintf("%s/%d/%d/%d", layer, c[0], c[1], c[2]), func(b *testing.B) {
				for b.Loop() {
					if _, err := eng.Render(ctx, layer, c[0], c[1], c[2]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// The real 92-13 grid cells are built into the carreaux layer: every cell once, each
// served in the tile holding its centre with its values, and a rebuild of unchanged
// cells keeps the layer's version.
func TestDB_ReplaceTileCells_real9213(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	if _, err := loadGrid(t, db, "filosofi2019_carreaux200m_9213.geojson", readReal(t, "filosofi2019_carreaux200m_9213.geojson"), 2019); err != nil {
		t.Fatal(err)
	}
	rep := tilestest.Build(t, db)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var cells int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM grid_cells`).Scan(&cells); err != nil {
		t.Fatal(err)
	}
	if cells == 0 || rep.Layers["carreaux"] != cells {
		t.Fatalf("built %d cells of %d", rep.Layers["carreaux"], cells)
	}
	var id string
	var lon, lat, ind float64
	if err := conn.QueryRow(ctx, `SELECT id, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)), ind FROM grid_cells
ORDER BY ind DESC, id LIMIT 1`).Scan(&id, &lon, &lat, &ind); err != nil {
		t.Fatal(err)
	}
	eng := tiles.NewEngine(db, tiles.Options{VersionTTL: -1})
	for z := 11; z <= 14; z++ {
		n := math.Exp2(float64(z))
		x := int((lon + 180) / 360 * n)
		y := int((1 - math.Log(math.Tan(lat*math.Pi/180)+1/math.Cos(lat*math.Pi/180))/math.Pi) / 2 * n)
		raw, err := eng.Render(ctx, "carreaux", z, x, y)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := mvt.Unmarshal(raw)
		if err != nil || len(ls) != 1 || ls[0].Name != "carreaux" {
			t.Fatalf("zoom %d: %d layers (%v)", z, len(ls), err)
		}
		found := false
		for _, f := range ls[0].Features {
			if f.Properties["id"] == id {
				found = true
				if f.Properties["ind"] != math.Round(ind*10)/10 {
					t.Errorf("zoom %d: cell %s ind = %v, want %v", z, id, f.Properties["ind"], ind)
				}
				if a := planar.Area(f.Geometry); a <= 0 {
					t.Errorf("zoom %d: cell %s area %v, want an exterior ring", z, id, a)
				}
			}
		}
		if !found {
			t.Errorf("zoom %d: cell %s not in tile %d/%d (%d features)", z, id, x, y, len(ls[0].Features))
		}
	}
	before, err := db.DataVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&tiles.Builder{Store: db}).Build(ctx, true); err != nil {
		t.Fatal(err)
	}
	after, err := db.DataVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before["tiles:carreaux"] == "" || before["tiles:carreaux"] != after["tiles:carreaux"] {
		t.Errorf("carreaux version %q, then %q after a rebuild of the same cells", before["tiles:carreaux"], after["tiles:carreaux"])
	}
}

// New results change no geometry: a build after them refreshes the registered voters of
// the stored features in SQL, keeps every geometry row as it was and bumps the versions
// of the layers whose content changed; a refresh that changes nothing keeps versions,
// and so does a full rebuild of what a refresh wrote.
func TestDB_ReplaceTileLayers_refresh9213(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	tilestest.LoadContours(t, db)
	tilestest.LoadResults(t, db)
	tilestest.Build(t, db)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const geomSQL = `SELECT md5(string_agg(concat_ws('|', layer, band, id, parent, md5(enc), md5(ST_AsBinary(geom))), ',' ORDER BY layer, band, id)) FROM tile_features`
	var geomBefore, geomAfter string
	if err := conn.QueryRow(ctx, geomSQL).Scan(&geomBefore); err != nil {
		t.Fatal(err)
	}
	before, err := db.DataVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Round 2, with one bureau's registered voters changed so that the round's file
	// differs from round 1 wherever it is read.
	data := readReal(t, "lg2024_t2_9213.csv")
	e, err := electoral.ParseElection("lg2024", 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadResults(ctx, db, e, "lg2024_t2_9213.csv", data); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE bureau_results SET inscrits = inscrits + 7 WHERE election = 'lg2024' AND round = 2 AND bureau = '92002_0001'`); err != nil {
		t.Fatal(err)
	}
	var wantAntony, wantBureau, oldBureau int64
	if err := conn.QueryRow(ctx, `SELECT sum(inscrits) FILTER (WHERE round = 2 AND commune = '92002'),
	sum(inscrits) FILTER (WHERE round = 2 AND bureau = '92002_0001'), sum(inscrits) FILTER (WHERE round = 1 AND bureau = '92002_0001')
FROM bureau_results WHERE election = 'lg2024'`).Scan(&wantAntony, &wantBureau, &oldBureau); err != nil {
		t.Fatal(err)
	}
	if wantBureau == oldBureau {
		t.Fatalf("bureau 92002_0001: %d inscrits in both rounds, want a change", wantBureau)
	}
	rep := tilestest.Build(t, db)
	if diff := cmp.Diff(map[string]int{}, rep.Layers); diff != "" {
		t.Errorf("rebuilt layers after new results (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"bureaux", "circonscriptions", "communes", "departements"}, rep.Refreshed); diff != "" {
		t.Errorf("refreshed layers (-want +got):\n%s", diff)
	}
	if err := conn.QueryRow(ctx, geomSQL).Scan(&geomAfter); err != nil {
		t.Fatal(err)
	}
	if geomAfter != geomBefore {
		t.Error("a refresh changed stored geometry")
	}
	var antony, bureau, dept int64
	var name string
	if err := conn.QueryRow(ctx, `SELECT
	(SELECT inscrits FROM tile_features WHERE layer = 'communes' AND id = '92002' AND band = 14),
	(SELECT name FROM tile_features WHERE layer = 'communes' AND id = '92002' AND band = 8),
	(SELECT inscrits FROM tile_features WHERE layer = 'bureaux' AND id = '92002_0001' AND band = 10),
	(SELECT inscrits FROM tile_features WHERE layer = 'departements' AND id = '92' AND band = 2)`).Scan(&antony, &name, &bureau, &dept); err != nil {
		t.Fatal(err)
	}
	if antony != wantAntony || name != "Antony" || bureau != wantBureau {
		t.Errorf("after the refresh: commune %q %d inscrits, bureau 92002_0001 %d; want Antony %d, %d", name, antony, bureau, wantAntony, wantBureau)
	}
	var wantDept int64
	if err := conn.QueryRow(ctx, `SELECT sum(inscrits) FROM bureau_results WHERE election = 'lg2024' AND round = 2`).Scan(&wantDept); err != nil {
		t.Fatal(err)
	}
	if dept != wantDept {
		t.Errorf("département 92: %d inscrits, want %d", dept, wantDept)
	}
	after, err := db.DataVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"bureaux", "communes", "departements", "circonscriptions"} {
		if before["tiles:"+l] == after["tiles:"+l] {
			t.Errorf("layer %s: version %s kept after its registered voters changed", l, after["tiles:"+l])
		}
	}

	// Nothing changed since: a build skips everything, a refresh and a full rebuild of
	// the same content keep every version.
	rep = tilestest.Build(t, db)
	if len(rep.Layers) != 0 || len(rep.Refreshed) != 0 {
		t.Errorf("a build of unchanged data rebuilt %v and refreshed %v", rep.Layers, rep.Refreshed)
	}
	var refresh []tiles.BuiltLayer
	_, built, err := db.TileBuildState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"bureaux", "communes", "departements", "circonscriptions"} {
		refresh = append(refresh, tiles.BuiltLayer{Name: l, Sources: built[l], Refresh: true})
	}
	if err := db.ReplaceTileLayers(ctx, refresh); err != nil {
		t.Fatal(err)
	}
	again, err := db.DataVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(after, again); diff != "" {
		t.Errorf("a refresh of unchanged data changed versions (-before +after):\n%s", diff)
	}
	if _, err := (&tiles.Builder{Store: db}).Build(ctx, true); err != nil {
		t.Fatal(err)
	}
	if again, err = db.DataVersions(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(after, again); diff != "" {
		t.Errorf("a forced rebuild after a refresh changed versions (-before +after):\n%s", diff)
	}
	if err := conn.QueryRow(ctx, geomSQL).Scan(&geomAfter); err != nil {
		t.Fatal(err)
	}
	if geomAfter != geomBefore {
		t.Error("a forced rebuild of the same contours changed stored geometry")
	}
}
