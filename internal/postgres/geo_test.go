package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/geo"
	"github.com/coopol/coopol/internal/ingest/results"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/realdata"
)

// geoLoadContours loads data (GeoJSON) as file name with the given key fields.
func geoLoadContours(t testing.TB, db *postgres.DB, name string, data []byte, vintage string, fields geo.ContourFields, srid int) (*ingest.Report, error) {
	t.Helper()
	r := geo.NewReader(name, bytes.NewReader(data))
	r.DefaultSRID = srid
	cr, err := geo.NewContourReader(r, fields)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	l := postgres.Load{Kind: "contours", Scope: vintage, File: name, SHA256: hex.EncodeToString(sum[:]),
		Params: map[string]string{"vintage": vintage, "layout": cr.Layout()}}
	return db.LoadContours(context.Background(), l, vintage, cr)
}

func geoLoadIRIS(t testing.TB, db *postgres.DB, name string, data []byte, vintage string) (*ingest.Report, error) {
	t.Helper()
	vintages := []string{vintage}
	if vintage == "" {
		var err error
		if vintages, err = geo.IRISVintages(geo.NewReader(name, bytes.NewReader(data))); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256(data)
	scope := postgres.IRISScope(vintages)
	l := postgres.Load{Kind: "iris", Scope: scope, File: name, SHA256: hex.EncodeToString(sum[:]),
		Params: map[string]string{"vintages": scope}}
	return db.LoadIRIS(context.Background(), l, vintages, geo.NewIRISReader(geo.NewReader(name, bytes.NewReader(data)), vintage))
}

func geoOne(t testing.TB, url, sql string, args ...any) string {
	t.Helper()
	r := query(t, url, sql, args...)
	if len(r) != 1 {
		t.Fatalf("%s: %d rows, want 1", sql, len(r))
	}
	return r[0]
}

func geoReal(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(realdata.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func warningCodes(ws []ingest.Warning) map[string]int {
	m := map[string]int{}
	for _, w := range ws {
		m[w.Code]++
	}
	return m
}

// TestDB_LoadContours_Real loads the real 92-13 contours (data-formats.md §14.2, §14.4).
func TestDB_LoadContours_Real(t *testing.T) {
	t.Parallel()
	db, url := pgtest.New(t)
	data := geoReal(t, "hds9213/bv_contours_reu_circo9213.geojson")
	rep, err := geoLoadContours(t, db, "bv_contours_reu_circo9213.geojson", data, "2022", geo.ContourFields{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 91 || rep.Scope != "2022" || rep.Layout != "datagouv" || len(rep.Warnings) != 0 {
		t.Errorf("report: %d rows, scope %q, layout %q, warnings %v; want 91, 2022, datagouv, none", rep.Rows, rep.Scope, rep.Layout, rep.Warnings)
	}
	if m := rep.Match; m == nil || m.Against != "results (none loaded)" {
		t.Errorf("match = %+v, want against no results", m)
	}
	t.Run("per commune", func(t *testing.T) {
		got := query(t, url, `SELECT commune, count(*) FROM bureau_contours GROUP BY 1 ORDER BY 1`)
		want := []string{"92002|44", "92014|14", "92019|19", "92071|14"}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("all MultiPolygon, valid, WGS84", func(t *testing.T) {
		got := geoOne(t, url, `SELECT count(*), count(*) FILTER (WHERE GeometryType(geom) = 'MULTIPOLYGON'),
			count(*) FILTER (WHERE ST_IsValid(geom)), count(*) FILTER (WHERE ST_SRID(geom) = 4326),
			count(*) FILTER (WHERE ST_NumGeometries(geom) = 1) FROM bureau_contours`)
		if got != "91|91|91|91|39" { // the 39 Polygon features became one-part MultiPolygons
			t.Errorf("count, multi, valid, 4326, one part = %s, want 91|91|91|91|39", got)
		}
	})
	t.Run("keys are codeBureauVote, columns filled", func(t *testing.T) {
		got := geoOne(t, url, `SELECT count(*) FILTER (WHERE code = properties->>'codeBureauVote'
			AND commune = properties->>'codeCommune' AND bureau = properties->>'numeroBureauVote'),
			count(*) FILTER (WHERE circonscription = '9213'), count(*) FILTER (WHERE arrondissement IS NULL)
			FROM bureau_contours`)
		if got != "91|91|91" {
			t.Errorf("got %s, want 91|91|91", got)
		}
		if n := geoOne(t, url, `SELECT commune_name FROM bureau_contours WHERE code = '92019_0001'`); n != "Châtenay-Malabry" {
			t.Errorf("commune name %q", n)
		}
		if n := geoOne(t, url, `SELECT count(*) FROM bureau_contours WHERE code = '92019_0020'`); n != "0" {
			t.Errorf("92019_0020 present: the 2022 register has no such bureau")
		}
	})
	t.Run("first vertex unchanged", func(t *testing.T) {
		got := geoOne(t, url, `SELECT ST_AsText(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1)) FROM bureau_contours WHERE code = '92002_0001'`)
		if got != "POINT(2.291233 48.750555)" {
			t.Errorf("first vertex %s", got)
		}
	})
	t.Run("reload is unchanged", func(t *testing.T) {
		again, err := geoLoadContours(t, db, "bv_contours_reu_circo9213.geojson", data, "2022", geo.ContourFields{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Unchanged || again.DatasetID != rep.DatasetID || again.Rows != 91 {
			t.Errorf("reload: %+v", again)
		}
	})
	t.Run("another vintage is kept apart", func(t *testing.T) {
		other, err := geoLoadContours(t, db, "bv_contours_reu_circo9213.geojson", data, "2024", geo.ContourFields{}, 0)
		if err != nil || other.Unchanged || other.Rows != 91 {
			t.Fatalf("vintage 2024: %+v, %v", other, err)
		}
		got := query(t, url, `SELECT vintage, count(*) FROM bureau_contours GROUP BY 1 ORDER BY 1`)
		if !slices.Equal(got, []string{"2022|91", "2024|91"}) {
			t.Errorf("got %v", got)
		}
	})
}

// TestDB_LoadContours_Match matches the contours against the legislative 2024 results:
// 91 bureaux in both, 92019_0020 only in the results (§14.4).
func TestDB_LoadContours_Match(t *testing.T) {
	t.Parallel()
	db, _ := pgtest.New(t)
	e, err := electoral.ParseElection("lg2024", 1)
	if err != nil {
		t.Fatal(err)
	}
	res := geoReal(t, "hds9213/lg2024_t1_9213.csv")
	rd, err := results.NewReader("lg2024_t1_9213.csv", bytes.NewReader(res), results.Options{Election: e})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(res)
	if _, err := db.LoadResults(context.Background(), postgres.Load{File: "lg2024_t1_9213.csv", SHA256: hex.EncodeToString(sum[:]),
		Params: map[string]string{"election": e.ID, "round": "1"}}, e, rd); err != nil {
		t.Fatal(err)
	}
	rep, err := geoLoadContours(t, db, "bv_contours_reu_circo9213.geojson", geoReal(t, "hds9213/bv_contours_reu_circo9213.geojson"), "2022", geo.ContourFields{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Match
	if m == nil || m.Against != "results lg2024/1" || m.Matched != 91 || len(m.OnlyHere) != 0 || !slices.Equal(m.OnlyOther, []string{"92019_0020"}) {
		t.Errorf("match = %+v, want 91 matched against results lg2024/1, 92019_0020 only in the results", m)
	}
}

// lambert is a square of 200 m around (x, y) in Lambert-93, as a GeoJSON polygon.
func lambert(x, y float64) string {
	return fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%[1]g,%[2]g],[%[3]g,%[2]g],[%[3]g,%[4]g],[%[1]g,%[4]g],[%[1]g,%[2]g]]]}`, x-100, y-100, x+100, y+100)
}

func geoFeature(props, geom string) string {
	return `{"type":"Feature","properties":` + props + `,"geometry":` + geom + `}`
}

func geoCollection(crs string, features ...string) []byte {
	c := ""
	if crs != "" {
		c = `"crs":{"type":"name","properties":{"name":"` + crs + `"}},`
	}
	return []byte("{\"type\":\"FeatureCollection\"," + c + "\"features\":[\n" + strings.Join(features, ",\n") + "\n]}\n")
}

// TestDB_LoadContours_Synthetic covers reprojection, repair, duplicates and the key
// fields of city files, each on a small file written here.
func TestDB_LoadContours_Synthetic(t *testing.T) {
	t.Parallel()
	bowtie := `{"type":"Polygon","coordinates":[[[2.30,48.75],[2.31,48.76],[2.31,48.75],[2.30,48.76],[2.30,48.75]]]}`
	line := `{"type":"Polygon","coordinates":[[[2.30,48.75],[2.31,48.75],[2.32,48.75],[2.30,48.75]]]}`
	sq := func(x, y float64) string {
		return fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%[1]g,%[2]g],[%[3]g,%[2]g],[%[3]g,%[4]g],[%[1]g,%[4]g],[%[1]g,%[2]g]]]}`, x, y, x+0.01, y+0.01)
	}
	tests := []struct {
		name     string
		data     []byte
		fields   geo.ContourFields
		srid     int
		rows     int64
		warnings map[string]int
		check    string // query returning one row
		want     string
	}{
		{
			name: "Lambert-93 reprojected to WGS84",
			data: geoCollection("urn:ogc:def:crs:EPSG::2154", geoFeature(`{"codeBureauVote":"92002_1"}`, lambert(648355, 6850718))),
			rows: 1, warnings: map[string]int{},
			// Antony's town hall is at (648355, 6850718) in Lambert-93, lon 2.2975, lat 48.7545.
			check: `SELECT round(ST_X(ST_Centroid(geom))::numeric, 2)::text, round(ST_Y(ST_Centroid(geom))::numeric, 2)::text, ST_SRID(geom),
				round(ST_Area(geom::geography)) BETWEEN 39900 AND 40100 FROM bureau_contours WHERE code = '92002_0001'`,
			want: "2.30|48.75|4326|true",
		},
		{
			name: "--srid for a file without crs",
			data: geoCollection("", geoFeature(`{"codeBureauVote":"92002_0001"}`, lambert(648355, 6850718))),
			srid: 2154, rows: 1, warnings: map[string]int{},
			check: `SELECT round(ST_X(ST_Centroid(geom))::numeric, 2)::text, round(ST_Y(ST_Centroid(geom))::numeric, 2)::text FROM bureau_contours`,
			want:  "2.30|48.75",
		},
		{
			name: "feature crs overrides the collection's",
			data: geoCollection("", `{"type":"Feature","crs":{"type":"name","properties":{"name":"EPSG:2154"}},"properties":{"codeBureauVote":"92002_0001"},"geometry":`+lambert(648355, 6850718)+`}`,
				geoFeature(`{"codeBureauVote":"92002_0002"}`, sq(2.3, 48.7))),
			rows: 2, warnings: map[string]int{},
			check: `SELECT string_agg(round(ST_X(ST_Centroid(geom))::numeric, 2)::text, ',' ORDER BY code) FROM bureau_contours`,
			want:  "2.30,2.31",
		},
		{
			name:     "bowtie repaired into two triangles",
			data:     geoCollection("", geoFeature(`{"codeBureauVote":"92002_0001"}`, bowtie), geoFeature(`{"codeBureauVote":"92002_0002"}`, sq(2.3, 48.7))),
			rows:     2,
			warnings: map[string]int{"repaired_geometry": 1},
			check:    `SELECT ST_NumGeometries(geom), ST_IsValid(geom), GeometryType(geom) FROM bureau_contours WHERE code = '92002_0001'`,
			want:     "2|true|MULTIPOLYGON",
		},
		{
			name:     "polygon of no area skipped",
			data:     geoCollection("", geoFeature(`{"codeBureauVote":"92002_0001"}`, line), geoFeature(`{"codeBureauVote":"92002_0002"}`, sq(2.3, 48.7))),
			rows:     1,
			warnings: map[string]int{"empty_geometry": 1},
			check:    `SELECT string_agg(code, ',') FROM bureau_contours`,
			want:     "92002_0002",
		},
		{
			name:     "null geometry skipped",
			data:     geoCollection("", geoFeature(`{"codeBureauVote":"92002_0001"}`, `null`), geoFeature(`{"codeBureauVote":"92002_0002"}`, sq(2.3, 48.7))),
			rows:     1,
			warnings: map[string]int{"no_geometry": 1},
			check:    `SELECT string_agg(code, ',') FROM bureau_contours`,
			want:     "92002_0002",
		},
		{
			name: "duplicate keys merged",
			data: geoCollection("", geoFeature(`{"codeBureauVote":"92002_0001","n":1}`, sq(2.3, 48.7)), geoFeature(`{"codeBureauVote":"92002_0002"}`, sq(2.4, 48.7)),
				geoFeature(`{"codeBureauVote":"92002_1","n":2}`, sq(2.305, 48.7))),
			rows:     2,
			warnings: map[string]int{"duplicate_key": 1},
			check:    `SELECT ST_NumGeometries(geom), round(ST_XMax(geom)::numeric, 3)::text, properties->>'n' FROM bureau_contours WHERE code = '92002_0001'`,
			want:     "1|2.315|1", // two overlapping squares become one polygon; the first feature's properties are kept
		},
		{
			name:   "Toulouse: constant commune + uniq_bdv",
			data:   geoCollection("", geoFeature(`{"uniq_bdv":"55","nom":"Ecole Jules Julien"}`, sq(1.44, 43.6))),
			fields: geo.ContourFields{CommuneCode: "31555", Bureau: "uniq_bdv", Name: "nom"},
			rows:   1, warnings: map[string]int{},
			check: `SELECT code, commune, bureau, name FROM bureau_contours`,
			want:  "31555_0055|31555|0055|Ecole Jules Julien",
		},
		{
			name:   "whole key in another field",
			data:   geoCollection("", geoFeature(`{"id_bv":"92002_1"}`, sq(2.3, 48.7))),
			fields: geo.ContourFields{Code: "id_bv"},
			rows:   1, warnings: map[string]int{},
			check: `SELECT code FROM bureau_contours`,
			want:  "92002_0001",
		},
		{
			name:   "commune and bureau fields, lost zeros",
			data:   geoCollection("", geoFeature(`{"insee":"2002","bv":7}`, sq(2.3, 48.7))),
			fields: geo.ContourFields{Commune: "insee", Bureau: "bv"},
			rows:   1, warnings: map[string]int{},
			check: `SELECT code FROM bureau_contours`,
			want:  "02002_0007",
		},
		{
			name: "Paris: arrondissement + num_bv",
			data: geoCollection("", geoFeature(`{"arrondissement":19,"num_bv":5,"id_bv":"19-5"}`, sq(2.38, 48.88)),
				geoFeature(`{"arrondissement":"75115","num_bv":"12"}`, sq(2.29, 48.84))),
			fields: geo.ContourFields{Arrondissement: "arrondissement", Bureau: "num_bv"},
			rows:   2, warnings: map[string]int{},
			check: `SELECT string_agg(code || ':' || arrondissement, ',' ORDER BY code) FROM bureau_contours`,
			want:  "75056_1512:75115,75056_1905:75119",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, url := pgtest.New(t)
			rep, err := geoLoadContours(t, db, "city.geojson", tc.data, "2022", tc.fields, tc.srid)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Rows != tc.rows {
				t.Errorf("rows = %d, want %d", rep.Rows, tc.rows)
			}
			if got := warningCodes(rep.Warnings); fmt.Sprint(got) != fmt.Sprint(tc.warnings) {
				t.Errorf("warnings = %v (%v), want %v", got, rep.Warnings, tc.warnings)
			}
			if got := geoOne(t, url, tc.check); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			// The warnings are kept with the dataset.
			if n := geoOne(t, url, `SELECT count(*) FROM dataset_warnings WHERE dataset_id = $1`, rep.DatasetID); n != strconv.Itoa(len(rep.Warnings)) {
				t.Errorf("stored warnings = %s, want %d", n, len(rep.Warnings))
			}
		})
	}
	t.Run("repaired key reported", func(t *testing.T) {
		t.Parallel()
		db, _ := pgtest.New(t)
		rep, err := geoLoadContours(t, db, "city.geojson", geoCollection("", geoFeature(`{"codeBureauVote":"92002_0001"}`, sq(2.3, 48.7)),
			geoFeature(`{"codeBureauVote":"92002_0009"}`, bowtie)), "2022", geo.ContourFields{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		w := rep.Warnings
		if len(w) != 1 || w[0].Key != "92002_0009" || w[0].Line != 3 || w[0].Code != "repaired_geometry" {
			t.Errorf("warnings = %+v, want repaired_geometry for 92002_0009 at line 3", w)
		}
	})
}

// TestDB_LoadContours_Errors checks that a bad file is refused with its position and
// loads nothing, leaving the previous load in place.
func TestDB_LoadContours_Errors(t *testing.T) {
	t.Parallel()
	sq := `{"type":"Polygon","coordinates":[[[2.3,48.7],[2.31,48.7],[2.31,48.71],[2.3,48.7]]]}`
	good := geoFeature(`{"codeBureauVote":"92002_0001"}`, sq)
	tests := []struct {
		name   string
		data   []byte
		fields geo.ContourFields
		line   int64
		col    int
		msg    string
	}{
		{"not JSON", []byte("codeBureauVote;wkt\n92002_0001;POLYGON\n"), geo.ContourFields{}, 1, 1, "not valid JSON"},
		{"not a FeatureCollection", []byte(`{"type":"Topology","objects":{}}`), geo.ContourFields{}, 1, 2, "not a GeoJSON FeatureCollection"},
		{"feature without the key", geoCollection("", good, geoFeature(`{"codeCommune":"92002"}`, sq)), geo.ContourFields{}, 3, 1, "no codeBureauVote property"},
		{"feature without the city field", geoCollection("", geoFeature(`{"nom":"x"}`, sq)), geo.ContourFields{CommuneCode: "31555", Bureau: "uniq_bdv"}, 2, 1, "no uniq_bdv property"},
		{"bad key", geoCollection("", geoFeature(`{"codeBureauVote":"92002-1"}`, sq)), geo.ContourFields{}, 2, 1, "no underscore"},
		{"unknown CRS name", geoCollection("urn:ogc:def:crs:ESRI::102110", good), geo.ContourFields{}, 1, 35, "unknown CRS"},
		{"CRS unknown to PostGIS", geoCollection("EPSG:990000", good), geo.ContourFields{}, 1, 35, "unknown CRS EPSG:990000"},
		{"point geometry", geoCollection("", good, geoFeature(`{"codeBureauVote":"92002_0002"}`, `{"type":"Point","coordinates":[2.3,48.7]}`)), geo.ContourFields{}, 3, 75, "Point is not polygonal"},
		{"truncated", geoCollection("", good, good)[:150], geo.ContourFields{}, 2, 110, "unexpected end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, url := pgtest.New(t)
			// A previous good load, which a failed load must leave as it was.
			if _, err := geoLoadContours(t, db, "good.geojson", geoCollection("", good), "2022", geo.ContourFields{}, 0); err != nil {
				t.Fatal(err)
			}
			_, err := geoLoadContours(t, db, "bad.geojson", tc.data, "2022", tc.fields, 0)
			pe, ok := ingest.AsParseError(err)
			if !ok || !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("error %v, want a ParseError", err)
			}
			if pe.File != "bad.geojson" || pe.Line != tc.line || (tc.col != 0 && pe.Col != tc.col) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q at %d:%d, want %q at %d:%d", err, pe.Line, pe.Col, tc.msg, tc.line, tc.col)
			}
			got := geoOne(t, url, `SELECT (SELECT count(*) FROM bureau_contours), (SELECT string_agg(file_name, ',') FROM datasets)`)
			if got != "1|good.geojson" {
				t.Errorf("after the failed load: contours, datasets = %s, want 1|good.geojson", got)
			}
		})
	}
}

// TestDB_LoadContours_OGR loads a Shapefile and a GeoPackage built here by ogr2ogr from
// a Lambert-93 GeoJSON: the CRS comes through ogr2ogr's output.
func TestDB_LoadContours_OGR(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ogr2ogr"); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("REQUIRE_DB") == "1" {
			t.Fatal("ogr2ogr not found: install gdal-bin")
		}
		t.Skip("ogr2ogr not found (install gdal-bin): Shapefile and GeoPackage input untested")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "bv.geojson")
	data := geoCollection("urn:ogc:def:crs:EPSG::2154",
		geoFeature(`{"commune":"92002","bureau":"1"}`, lambert(648355, 6850718)),
		geoFeature(`{"commune":"92002","bureau":"2"}`, lambert(648555, 6850718)))
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file, driver string }{
		{"shapefile", "bv.shp", "ESRI Shapefile"},
		{"geopackage", "bv.gpkg", "GPKG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst := filepath.Join(dir, tc.file)
			if out, err := exec.Command("ogr2ogr", "-f", tc.driver, dst, src).CombinedOutput(); err != nil {
				t.Fatalf("ogr2ogr: %v: %s", err, out)
			}
			db, url := pgtest.New(t)
			rc, err := geo.Open(t.Context(), dst, "")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			cr, err := geo.NewContourReader(geo.NewReader(tc.file, rc), geo.ContourFields{Commune: "commune", Bureau: "bureau"})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := db.LoadContours(t.Context(), postgres.Load{Kind: "contours", Scope: "2022", File: tc.file, SHA256: "x"}, "2022", cr)
			if err != nil {
				t.Fatal(err)
			}
			got := geoOne(t, url, `SELECT string_agg(code, ','), round(avg(ST_X(ST_Centroid(geom)))::numeric, 2)::text, round(avg(ST_Y(ST_Centroid(geom)))::numeric, 2)::text FROM bureau_contours`)
			if rep.Rows != 2 || got != "92002_0001,92002_0002|2.30|48.75" {
				t.Errorf("rows %d, got %s", rep.Rows, got)
			}
		})
	}
}

// TestDB_LoadIRIS_Grenoble loads the OpenDataSoft IRIS export of Grenoble (§14.3):
// 70 IRIS × 9 vintages, 68 habitat + 2 activité in each.
func TestDB_LoadIRIS_Grenoble(t *testing.T) {
	t.Parallel()
	data := geoReal(t, "grenoble/iris_grenoble_georef_millesimes_2015_2023.geojson")
	const name = "iris_grenoble_georef_millesimes_2015_2023.geojson"
	t.Run("one vintage", func(t *testing.T) {
		t.Parallel()
		db, url := pgtest.New(t)
		rep, err := geoLoadIRIS(t, db, name, data, "2023")
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 70 || rep.Scope != "2023" || rep.Layout != "opendatasoft" || len(rep.Warnings) != 0 {
			t.Errorf("report: %d rows, scope %s, layout %s, warnings %v", rep.Rows, rep.Scope, rep.Layout, rep.Warnings)
		}
		got := query(t, url, `SELECT vintage, type, count(*), count(DISTINCT commune), bool_and(ST_IsValid(geom)) FROM iris_contours GROUP BY 1, 2 ORDER BY 1, 2`)
		if !slices.Equal(got, []string{"2023|A|2|1|true", "2023|H|68|1|true"}) {
			t.Errorf("got %v", got)
		}
		if n := geoOne(t, url, `SELECT name || '|' || commune || '|' || round(ST_X(ST_Centroid(geom))::numeric, 1) FROM iris_contours WHERE code = '381850101'`); n != "Polygone|38185|5.7" {
			t.Errorf("381850101: %s", n)
		}
	})
	t.Run("every vintage, then one replaced", func(t *testing.T) {
		t.Parallel()
		db, url := pgtest.New(t)
		all, err := geoLoadIRIS(t, db, name, data, "")
		if err != nil {
			t.Fatal(err)
		}
		if all.Rows != 630 || all.Scope != "2015+2016+2017+2018+2019+2020+2021+2022+2023" {
			t.Errorf("all vintages: %d rows, scope %s", all.Rows, all.Scope)
		}
		got := query(t, url, `SELECT vintage, count(*) FROM iris_contours GROUP BY 1 ORDER BY 1`)
		if len(got) != 9 || got[0] != "2015|70" || got[8] != "2023|70" {
			t.Errorf("per vintage: %v", got)
		}
		// Loading 2023 alone replaces 2023 and nothing else.
		one, err := geoLoadIRIS(t, db, name, data, "2023")
		if err != nil {
			t.Fatal(err)
		}
		got = query(t, url, `SELECT dataset_id = $1, count(*) FROM iris_contours GROUP BY 1 ORDER BY 1`, one.DatasetID)
		if !slices.Equal(got, []string{"false|560", "true|70"}) {
			t.Errorf("after loading 2023 alone: %v", got)
		}
		// Reloading the multi-vintage file is not "unchanged": it takes 2023 back.
		again, err := geoLoadIRIS(t, db, name, data, "")
		if err != nil {
			t.Fatal(err)
		}
		if again.Unchanged || again.Rows != 630 {
			t.Errorf("reload: %+v", again)
		}
		if n := geoOne(t, url, `SELECT count(*) FROM iris_contours WHERE dataset_id = $1`, again.DatasetID); n != "630" {
			t.Errorf("rows of the reload = %s", n)
		}
		same, err := geoLoadIRIS(t, db, name, data, "")
		if err != nil || !same.Unchanged {
			t.Errorf("second reload: %+v, %v; want unchanged", same, err)
		}
	})
}

func TestDB_LoadIRIS_IGN(t *testing.T) {
	t.Parallel()
	sq := func(x, y float64) string { return lambert(x, y) }
	tests := []struct {
		name     string
		data     []byte
		vintage  string
		want     []string
		warnings map[string]int
		msg      string // error expected
		line     int64
	}{
		{
			name: "shapefile names, Lambert-93",
			data: geoCollection("urn:ogc:def:crs:EPSG::2154",
				geoFeature(`{"INSEE_COM":"92002","CODE_IRIS":"920020101","NOM_IRIS":"Centre","TYP_IRIS":"H"}`, sq(648355, 6850718)),
				geoFeature(`{"INSEE_COM":"92071","CODE_IRIS":"920710000","NOM_IRIS":"Sceaux","TYP_IRIS":"Z"}`, sq(648355, 6853000))),
			vintage:  "2022",
			want:     []string{"2022|920020101|92002|Centre|H|2.30", "2022|920710000|92071|Sceaux|Z|2.30"},
			warnings: map[string]int{},
		},
		{
			name: "geopackage names, Paris arrondissement, unknown type",
			data: geoCollection("EPSG:2154",
				geoFeature(`{"code_insee":"75115","code_iris":"751155810","nom_iris":"Javel 1","type_iris":"X"}`, sq(648000, 6860000))),
			vintage:  "2024",
			want:     []string{"2024|751155810|75115|Javel 1|X|2.29"},
			warnings: map[string]int{"unknown_iris_type": 1},
		},
		{
			name:    "bad IRIS code",
			data:    geoCollection("EPSG:2154", geoFeature(`{"CODE_IRIS":"92002010"}`, sq(648355, 6850718))),
			vintage: "2022",
			msg:     "is not an IRIS code", line: 2,
		},
		{
			name:    "no IRIS code",
			data:    geoCollection("EPSG:2154", geoFeature(`{"CODE_IRIS":"920020101"}`, sq(648355, 6850718)), geoFeature(`{"INSEE_COM":"92002"}`, sq(648355, 6850718))),
			vintage: "2022",
			msg:     "no IRIS code", line: 3,
		},
		{
			name:    "no year and no --vintage",
			data:    geoCollection("EPSG:2154", geoFeature(`{"CODE_IRIS":"920020101"}`, sq(648355, 6850718))),
			vintage: "",
			msg:     "no year property", line: 2,
		},
		{
			name:    "vintage absent from the file",
			data:    geoCollection("", geoFeature(`{"iris_code":["920020101"],"year":"2019"}`, `{"type":"Polygon","coordinates":[[[2.3,48.7],[2.31,48.7],[2.31,48.71],[2.3,48.7]]]}`)),
			vintage: "2023",
			msg:     "no IRIS of vintage 2023", line: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, url := pgtest.New(t)
			rep, err := geoLoadIRIS(t, db, "CONTOURS-IRIS.geojson", tc.data, tc.vintage)
			if tc.msg != "" {
				pe, ok := ingest.AsParseError(err)
				if !ok || pe.Line != tc.line || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %v, want a ParseError at line %d saying %q", err, tc.line, tc.msg)
				}
				if n := geoOne(t, url, `SELECT (SELECT count(*) FROM iris_contours) + (SELECT count(*) FROM datasets)`); n != "0" {
					t.Errorf("a failed load left %s rows", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := query(t, url, `SELECT vintage, code, commune, name, type, round(ST_X(ST_Centroid(geom))::numeric, 2)::text FROM iris_contours ORDER BY code`)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if w := warningCodes(rep.Warnings); fmt.Sprint(w) != fmt.Sprint(tc.warnings) {
				t.Errorf("warnings %v, want %v", rep.Warnings, tc.warnings)
			}
		})
	}
}

// nationalContours writes a data.gouv-shaped contours file of n bureaux: polygons of 30
// to 60 vertices (irregular, star-shaped so always valid), two thirds Polygon, a third
// MultiPolygon, coordinates with 6 decimals as in the real file.
func nationalContours(tb testing.TB, path string, n int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bytes.NewBuffer(make([]byte, 0, 1<<20))
	rng := rand.New(rand.NewPCG(1, 2))
	w.WriteString(`{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "features": [`)
	ring := func(cx, cy, r float64, k int) {
		w.WriteByte('[')
		var fx, fy float64
		for i := 0; i < k; i++ {
			a := 2 * math.Pi * float64(i) / float64(k)
			rr := r * (0.6 + 0.4*rng.Float64())
			x, y := cx+rr*math.Cos(a), cy+rr*math.Sin(a)*0.7
			if i == 0 {
				fx, fy = x, y
			}
			fmt.Fprintf(w, "[%.6f, %.6f], ", x, y)
		}
		fmt.Fprintf(w, "[%.6f, %.6f]]", fx, fy)
	}
	for i := range n {
		if i > 0 {
			w.WriteString(", ")
		}
		dept := 1 + i/(n/95+1)
		com := fmt.Sprintf("%02d%03d", dept, 1+(i/20)%900)
		key := fmt.Sprintf("%s_%04d", com, i%20+1)
		cx, cy := -4.5+9*float64(i%300)/300, 42.5+8*float64(i/300)/float64(n/300+1)
		k := 30 + rng.IntN(31)
		if i%3 == 2 {
			w.WriteString(`{"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [[`)
			ring(cx, cy, 0.004, k/2)
			w.WriteString(`], [`)
			ring(cx+0.012, cy, 0.003, k/2)
			w.WriteString(`]]}`)
		} else {
			w.WriteString(`{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [`)
			ring(cx, cy, 0.005, k)
			w.WriteString(`]}`)
		}
		fmt.Fprintf(w, `, "properties": {"codeDepartement": "%02d", "nomDepartement": "D\u00e9partement %d", "codeCirconscription": "%02d01", "nomCirconscription": "1\u00e8re circonscription", "codeCommune": "%s", "nomCommune": "Commune %s", "numeroBureauVote": "%04d", "codeBureauVote": "%s", "id_bv": "%s_%d"}}`,
			dept, dept, dept, com, com, i%20+1, key, com, i%20+1)
		if w.Len() > 1<<20 {
			if _, err := f.Write(w.Bytes()); err != nil {
				tb.Fatal(err)
			}
			w.Reset()
		}
	}
	w.WriteString("]}\n")
	if _, err := f.Write(w.Bytes()); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkLoadContours loads a national-size contours file (69,000 bureaux): parse,
// COPY, validity check, insert with the GiST index. Set COOPOL_BENCH_KEEP=path to keep
// the file, for comparison with ogr2ogr.
func BenchmarkLoadContours(b *testing.B) {
	path := filepath.Join(b.TempDir(), "contours-national.geojson")
	if keep := os.Getenv("COOPOL_BENCH_KEEP"); keep != "" {
		path = keep
	}
	const n = 69000
	nationalContours(b, path, n)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	db, _ := pgtest.New(b)
	b.SetBytes(st.Size())
	i := 0
	for b.Loop() {
		i++
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		cr, err := geo.NewContourReader(geo.NewReader("contours-national.geojson", f), geo.ContourFields{})
		if err != nil {
			b.Fatal(err)
		}
		// A new sha each time: the same file would be skipped as unchanged.
		l := postgres.Load{Kind: "contours", Scope: "2022", File: "contours-national.geojson", SHA256: strconv.Itoa(i)}
		rep, err := db.LoadContours(b.Context(), l, "2022", cr)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if rep.Rows != n {
			b.Fatalf("rows = %d", rep.Rows)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "bureaux/s")
}

// TestValidityChecker_AgreesWithGEOS checks the Go validity filter against PostGIS on
// random polygons, most of them self-intersecting: whatever Go proves valid, GEOS must
// find valid, and Go must prove most star-shaped polygons (the usual bureau) valid.
func TestValidityChecker_AgreesWithGEOS(t *testing.T) {
	t.Parallel()
	_, url := pgtest.New(t)
	rng := rand.New(rand.NewPCG(3, 4))
	var (
		geoms []string
		star  []bool
	)
	ring := func(k int, starShaped bool, cx, cy float64) string {
		var pts []string
		for i := range k {
			var x, y float64
			if starShaped {
				a := 2 * math.Pi * float64(i) / float64(k)
				r := 0.3 + 0.7*rng.Float64()
				x, y = cx+r*math.Cos(a), cy+r*math.Sin(a)
			} else {
				x, y = cx+float64(rng.IntN(5)), cy+float64(rng.IntN(5)) // a small grid: many touches
			}
			pts = append(pts, fmt.Sprintf("[%g,%g]", x, y))
		}
		pts = append(pts, pts[0])
		return "[" + strings.Join(pts, ",") + "]"
	}
	for i := range 3000 {
		s := i%2 == 0
		switch i % 6 {
		case 0, 1, 2, 3:
			geoms = append(geoms, `{"type":"Polygon","coordinates":[`+ring(4+rng.IntN(40), s, 0, 0)+`]}`)
		default: // two parts, sometimes overlapping
			dx := float64(rng.IntN(4))
			geoms = append(geoms, `{"type":"MultiPolygon","coordinates":[[`+ring(4+rng.IntN(20), s, 0, 0)+`],[`+ring(4+rng.IntN(20), s, dx, 0)+`]]}`)
		}
		star = append(star, s)
	}
	var feats []string
	for _, g := range geoms {
		feats = append(feats, geoFeature(`{}`, g))
	}
	r := geo.NewReader("random.geojson", bytes.NewReader(geoCollection("", feats...)))
	var (
		wkbs   [][]byte
		goSays []bool
		v      geo.ValidityChecker
	)
	for range geoms {
		f, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		wkbs = append(wkbs, append([]byte(nil), f.WKB...))
		goSays = append(goSays, v.SurelyValid(f.WKB))
	}
	got := query(t, url, `SELECT ST_IsValid(ST_GeomFromWKB(w)) FROM unnest($1::bytea[]) WITH ORDINALITY u(w, i) ORDER BY i`, wkbs)
	var proven, starValid, starProven, invalid int
	for i, g := range got {
		geos := g == "true"
		if !geos {
			invalid++
		}
		if goSays[i] {
			proven++
			if !geos {
				t.Errorf("Go proved valid what GEOS finds invalid: %s", geoms[i])
			}
		}
		if star[i] && geos {
			starValid++
			if goSays[i] {
				starProven++
			}
		}
	}
	t.Logf("%d polygons: %d invalid for GEOS, %d proven valid by Go; star-shaped valid %d, of which proven %d", len(got), invalid, proven, starValid, starProven)
	if invalid < 500 || starProven < starValid*9/10 {
		t.Errorf("the test lacks invalid polygons (%d) or Go proves too few valid ones (%d of %d)", invalid, starProven, starValid)
	}
}
