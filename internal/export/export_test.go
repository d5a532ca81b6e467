package export

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

var testCols = []Column{{"bureau", String}, {"inscrits", Int}, {"share", Float}, {"note", String}}

type testRow struct {
	vals []Value
	geom orb.Geometry
}

func testRows() []testRow {
	sq := orb.MultiPolygon{{{{2.3, 48.7}, {2.31, 48.7}, {2.31, 48.71}, {2.3, 48.71}, {2.3, 48.7}}}}
	return []testRow{
		{[]Value{{S: "92002_0001"}, {I: 1234}, {F: 0.25}, {S: `école "Jean Moulin"; préau`}}, sq},
		{[]Value{{S: "92002_0002"}, {Null: true}, {F: math.NaN()}, {S: "é"}}, nil},
	}
}

// write writes the test rows in format to dir/name.
func write(t *testing.T, dir, name, format string, o Options) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(format, &buf, testCols, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range testRows() {
		var g []byte
		if r.geom != nil {
			if g, err = wkb.Marshal(r.geom); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Write(r.vals, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCSV(t *testing.T) {
	dir := t.TempDir()
	b, _ := os.ReadFile(write(t, dir, "a.csv", "csv", Options{}))
	want := "bureau,inscrits,share,note\r\n92002_0001,1234,0.25,\"école \"\"Jean Moulin\"\"; préau\"\r\n92002_0002,,,é\r\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("csv (-want +got):\n%s", diff)
	}
	b, _ = os.ReadFile(write(t, dir, "b.csv", "csv", Options{Sep: ';'}))
	want = "bureau;inscrits;share;note\r\n92002_0001;1234;0,25;\"école \"\"Jean Moulin\"\"; préau\"\r\n92002_0002;;;é\r\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("csv ; (-want +got):\n%s", diff)
	}
}

// TestIndependentReaders opens the files with DuckDB and apache-arrow (Node, in
// web/e2e-exports) and the GeoJSON with GDAL's ogrinfo.
func TestIndependentReaders(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "bureaux.parquet", "parquet", Options{})
	write(t, dir, "bureaux.geoparquet", "geoparquet", Options{})
	write(t, dir, "bureaux.arrow", "arrow", Options{})
	gj := write(t, dir, "bureaux.geojson", "geojson", Options{})

	t.Run("ogrinfo", func(t *testing.T) {
		if _, err := exec.LookPath("ogrinfo"); err != nil {
			t.Skip("ogrinfo not installed (apt-get install gdal-bin)")
		}
		out, err := exec.Command("ogrinfo", "-ro", "-al", gj).CombinedOutput()
		if err != nil {
			t.Fatalf("ogrinfo: %v\n%s", err, out)
		}
		for _, want := range []string{"Feature Count: 2", "Geometry: Multi Polygon", "inscrits (Integer", "bureau (String) = 92002_0001",
			"inscrits (Integer) = 1234", "share (Real) = 0.25", `note (String) = école "Jean Moulin"; préau`, "MULTIPOLYGON (((2.3 48.7,2.31 48.7"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("ogrinfo output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("node", func(t *testing.T) {
		modDir := filepath.Join("..", "..", "web", "e2e-exports")
		if _, err := os.Stat(filepath.Join(modDir, "node_modules", "@duckdb", "node-api")); err != nil {
			if os.Getenv("REQUIRE_DB") == "1" || os.Getenv("CI") == "true" { // make test installs them: a skip would hide a test that did not run
				t.Fatal("web/e2e-exports/node_modules missing: run npm ci there")
			}
			t.Skip("web/e2e-exports/node_modules missing: cd web/e2e-exports && npm ci")
		}
		out, err := exec.Command("node", filepath.Join(modDir, "read.mjs"), dir).Output()
		if err != nil {
			t.Fatalf("node: %v", err)
		}
		var got struct {
			Parquet []map[string]any
			Arrow   []map[string]any
			Geo     map[string]any
			WKB     []map[string]any
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		want := []map[string]any{
			{"bureau": "92002_0001", "inscrits": "1234", "share": 0.25, "note": `école "Jean Moulin"; préau`},
			{"bureau": "92002_0002", "inscrits": nil, "share": nil, "note": "é"},
		}
		if diff := cmp.Diff(want, got.Parquet); diff != "" {
			t.Errorf("DuckDB read of Parquet (-want +got):\n%s", diff)
		}
		want[0]["inscrits"] = 1234.0
		if diff := cmp.Diff(want, got.Arrow); diff != "" {
			t.Errorf("apache-arrow read of Arrow IPC (-want +got):\n%s", diff)
		}
		col, _ := got.Geo["columns"].(map[string]any)["geometry"].(map[string]any)
		if got.Geo["primary_column"] != "geometry" || col["encoding"] != "WKB" || got.Geo["version"] != "1.1.0" {
			t.Errorf("geo metadata %v", got.Geo)
		}
		if bbox, _ := col["bbox"].([]any); len(bbox) != 4 || bbox[0] != 2.3 || bbox[3] != 48.71 {
			t.Errorf("geo bbox %v", col["bbox"])
		}
		wantGeom := map[string]any{"type": "MultiPolygon", "coordinates": []any{[]any{[]any{
			[]any{2.3, 48.7}, []any{2.31, 48.7}, []any{2.31, 48.71}, []any{2.3, 48.71}, []any{2.3, 48.7}}}}}
		if len(got.WKB) != 2 || !cmp.Equal(got.WKB[0]["geometry"], any(wantGeom)) || got.WKB[1]["geometry"] != nil {
			t.Errorf("WKB read back %v", got.WKB)
		}
	})
}
