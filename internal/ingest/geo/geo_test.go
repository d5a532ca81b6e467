package geo

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/realdata"
)

func readAll(t *testing.T, r *Reader) []Feature {
	t.Helper()
	var out []Feature
	for {
		f, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		c := *f
		c.WKB = append([]byte(nil), f.WKB...)
		c.Properties = append(Properties(nil), f.Properties...)
		out = append(out, c)
	}
}

func openReal(t *testing.T, rel string) *Reader {
	t.Helper()
	f, err := os.Open(realdata.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return NewReader(filepath.Base(rel), f)
}

func TestReader_RealContours(t *testing.T) {
	t.Parallel()
	r := openReal(t, "hds9213/bv_contours_reu_circo9213.geojson")
	feats := readAll(t, r)
	if len(feats) != 91 {
		t.Fatalf("features = %d, want 91", len(feats))
	}
	if r.SRID() != WGS84 || r.CRS().SRID != WGS84 {
		t.Errorf("SRID = %d (crs %+v), want 4326 from CRS84", r.SRID(), r.CRS())
	}
	types := map[string]int{}
	communes := map[string]int{}
	for _, f := range feats {
		types[f.Type]++
		wkbType := binary.LittleEndian.Uint32(f.WKB[1:5])
		if (f.Type == "Polygon") != (wkbType == wkbPolygon) || f.WKB[0] != 1 {
			t.Errorf("line %d: WKB type %d for %s", f.Line, wkbType, f.Type)
		}
		code, _, _, err := f.Properties.Get("codeBureauVote")
		if err != nil {
			t.Fatal(err)
		}
		communes[code[:5]]++
		if f.Line != 1 || f.Col < 1 {
			t.Errorf("position %d:%d, want line 1 (the file is one line)", f.Line, f.Col)
		}
	}
	if types["Polygon"] != 39 || types["MultiPolygon"] != 52 {
		t.Errorf("types = %v, want 39 Polygon + 52 MultiPolygon", types)
	}
	want := map[string]int{"92002": 44, "92019": 19, "92014": 14, "92071": 14}
	for c, n := range want {
		if communes[c] != n {
			t.Errorf("commune %s: %d features, want %d", c, communes[c], n)
		}
	}
	// The first vertex of the first feature, as written in the file.
	x := math.Float64frombits(binary.LittleEndian.Uint64(feats[0].WKB[13:]))
	y := math.Float64frombits(binary.LittleEndian.Uint64(feats[0].WKB[21:]))
	if x != 2.291233 || y != 48.750555 {
		t.Errorf("first vertex = %v %v, want 2.291233 48.750555", x, y)
	}
}

func TestReader_RealCRS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		file  string
		n     int
		srid  int
		crsOK bool
	}{
		{"filosofi grid is Lambert-93", "hds9213/filosofi2019_carreaux200m_9213.geojson", 318, 2154, true},
		{"ODS export has no crs: lon/lat", "grenoble/iris_grenoble_georef_millesimes_2015_2023.geojson", 630, WGS84, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := openReal(t, tc.file)
			if n := len(readAll(t, r)); n != tc.n {
				t.Errorf("features = %d, want %d", n, tc.n)
			}
			if r.SRID() != tc.srid || (r.CRS().SRID != 0) != tc.crsOK {
				t.Errorf("SRID = %d, crs %+v; want %d", r.SRID(), r.CRS(), tc.srid)
			}
		})
	}
}

func TestParseCRSName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"CRS84 urn", "urn:ogc:def:crs:OGC:1.3:CRS84", 4326, false},
		{"CRS84 urn no version", "urn:ogc:def:crs:OGC::CRS84", 4326, false},
		{"OGC:CRS84", "OGC:CRS84", 4326, false},
		{"CRS84 http", "http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, false},
		{"EPSG urn", "urn:ogc:def:crs:EPSG::2154", 2154, false},
		{"EPSG urn with version", "urn:ogc:def:crs:EPSG:6.6:2154", 2154, false},
		{"EPSG short", "EPSG:2154", 2154, false},
		{"EPSG lower case", "epsg:3035", 3035, false},
		{"EPSG http", "http://www.opengis.net/def/crs/EPSG/0/2975", 2975, false},
		{"EPSG gml", "http://www.opengis.net/gml/srs/epsg.xml#4326", 4326, false},
		{"EPSG 4326", "urn:ogc:def:crs:EPSG::4326", 4326, false},
		{"unknown authority", "ESRI:102110", 0, true},
		{"not a code", "EPSG:abc", 0, true},
		{"empty", "", 0, true},
		{"too large", "EPSG:99999999", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCRSName(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseCRSName(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseCRS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"named", `{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::2154"}}`, 2154, false},
		{"old EPSG type", `{"type":"EPSG","properties":{"code":2154}}`, 2154, false},
		{"null", `null`, 0, false},
		{"link", `{"type":"link","properties":{"href":"http://example.com/crs","type":"proj4"}}`, 0, true},
		{"string", `"EPSG:2154"`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCRS([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseCRS(%s) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

const square = `[[[0,0],[1,0],[1,1],[0,1],[0,0]]]`

func TestReader_Synthetic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		n     int
		srid  int
		types string
	}{
		{"crs after the features", `{"features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":` + square + `}}],"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:2154"}}}`, 1, 2154, "Polygon"},
		{"coordinates before type, 3D positions", `{"type":"FeatureCollection","features":[{"geometry":{"coordinates":[[[0,0,5],[1,0,5],[1,1,5],[0,0,5]]],"type":"Polygon"},"properties":null,"type":"Feature"}]}`, 1, WGS84, "Polygon"},
		{"multipolygon, null geometry, extra members", `{"type":"FeatureCollection","name":"x","bbox":[0,0,1,1],"features":[{"type":"Feature","id":7,"properties":{"a":[1]},"geometry":{"type":"MultiPolygon","coordinates":[` + square + `,` + square + `]}},{"type":"Feature","properties":{},"geometry":null}]}`, 2, WGS84, "MultiPolygon,"},
		{"empty collection", `{"type":"FeatureCollection","features":[]}`, 0, WGS84, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader("t.geojson", strings.NewReader(tc.in))
			feats := readAll(t, r)
			var types []string
			for _, f := range feats {
				types = append(types, f.Type)
			}
			if len(feats) != tc.n || r.SRID() != tc.srid || strings.Join(types, ",") != tc.types {
				t.Errorf("got %d features %v SRID %d; want %d %q SRID %d", len(feats), types, r.SRID(), tc.n, tc.types, tc.srid)
			}
		})
	}
}

func TestReader_WKB(t *testing.T) {
	t.Parallel()
	in := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"MultiPolygon","coordinates":[[[[651000,6852000],[651100,6852000],[651100,6852100],[651000,6852000]]]]}}]}`
	r := NewReader("t.geojson", strings.NewReader(in))
	f, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	w := f.WKB
	// MultiPolygon header (9), count (4), Polygon header (5), rings (4), points (4), 4 × 16.
	if len(w) != 9+9+4+4*16 || w[0] != 1 || le.Uint32(w[1:]) != 6 || le.Uint32(w[5:]) != 1 ||
		w[9] != 1 || le.Uint32(w[10:]) != 3 || le.Uint32(w[14:]) != 1 || le.Uint32(w[18:]) != 4 {
		t.Fatalf("WKB % x", w)
	}
	if x := math.Float64frombits(le.Uint64(w[22+16:])); x != 651100 {
		t.Errorf("second x = %v", x)
	}
}

func TestReader_Errors(t *testing.T) {
	t.Parallel()
	feat := func(geom string) string {
		return `{"type":"Feature","properties":{"k":"v"},"geometry":` + geom + `}`
	}
	coll := func(features ...string) string {
		return "{\"type\": \"FeatureCollection\",\n\"features\": [\n" + strings.Join(features, ",\n") + "\n]}\n"
	}
	ok := feat(`{"type":"Polygon","coordinates":` + square + `}`)
	tests := []struct {
		name string
		in   string
		line int64
		col  int
		msg  string
	}{
		{"not JSON", "codeBureauVote;geom\n92002_0001;x\n", 1, 1, "not valid JSON"},
		{"empty", "", 0, 0, "empty file"},
		{"array", `[1,2]`, 1, 1, "not a JSON object"},
		{"a single Feature", ok, 1, 2, `type is "Feature"`},
		{"no features", `{"type":"FeatureCollection"}`, 1, 1, `no "features"`},
		{"no type", `{"features":[]}`, 1, 1, `no "type"`},
		{"features not an array", `{"type":"FeatureCollection","features":{}}`, 1, 40, `"features" is not an array`},
		{"point", coll(ok, feat(`{"type":"Point","coordinates":[1,2]}`)), 4, 53, "Point is not polygonal"},
		{"line string", coll(feat(`{"type":"LineString","coordinates":[[1,2],[3,4]]}`)), 3, 53, "not polygonal"},
		{"unclosed ring", coll(ok, ok, feat(`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}`)), 5, 86, "not closed"},
		{"short ring", coll(feat(`{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`)), 3, 86, "at least 4"},
		{"string coordinate", coll(feat(`{"type":"Polygon","coordinates":[[["0",0],[1,0],[1,1],[0,0]]]}`)), 3, 88, "not a finite number"},
		{"one-dimensional position", coll(feat(`{"type":"Polygon","coordinates":[[[0],[1,0],[1,1],[0,0]]]}`)), 3, 86, "fewer than 2"},
		{"no geometry member", coll(`{"type":"Feature","properties":{}}`), 3, 1, "no geometry"},
		{"unknown crs", "{\"type\":\"FeatureCollection\",\n \"crs\":{\"type\":\"name\",\"properties\":{\"name\":\"ESRI:102110\"}},\"features\":[]}", 2, 8, "unknown CRS"},
		{"linked crs", `{"type":"FeatureCollection","crs":{"type":"link","properties":{}},"features":[]}`, 1, 35, "unsupported crs"},
		{"feature crs unknown", coll(`{"type":"Feature","crs":{"type":"name","properties":{"name":"foo"}},"properties":{},"geometry":null}`), 3, 25, "unknown CRS"},
		{"truncated", coll(ok, ok)[:80], 3, 37, "unexpected end"},
		{"syntax error in a feature", coll(ok, `{"type":"Feature",,}`), 4, 19, "not valid JSON"},
		{"trailing data", coll(ok) + "{}", 5, 1, "data after the end"},
		{"NUL in properties", coll(`{"type":"Feature","properties":{"a":"x\u0000"},"geometry":null}`), 3, 32, `\u0000`},
		{"properties not an object", coll(`{"type":"Feature","properties":[1],"geometry":null}`), 3, 32, "properties is not an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader("bad.geojson", strings.NewReader(tc.in))
			var err error
			for err == nil {
				_, err = r.Next()
			}
			if errors.Is(err, io.EOF) {
				t.Fatalf("no error")
			}
			pe, ok := ingest.AsParseError(err)
			if !ok || !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			if pe.File != "bad.geojson" || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want it to name the file and say %q", err, tc.msg)
			}
			if pe.Line != tc.line || (tc.col != 0 && pe.Col != tc.col) {
				t.Errorf("error at %d:%d, want %d:%d (%v)", pe.Line, pe.Col, tc.line, tc.col, err)
			}
		})
	}
}

func TestProperties_Get(t *testing.T) {
	t.Parallel()
	p := Properties(`{"CODE_IRIS":"381850107","n":19,"r":19.0,"f":1.5,"l":["38185"],"e":[],"z":null,"esc":"Is\u00e8re","many":["a","b"],"o":{"a":1}}`)
	tests := []struct {
		name    string
		names   []string
		want    string
		found   bool
		wantErr bool
	}{
		{"case-insensitive", []string{"code_iris"}, "381850107", true, false},
		{"integer", []string{"n"}, "19", true, false},
		{"integral float", []string{"r"}, "19", true, false},
		{"float", []string{"f"}, "1.5", true, false},
		{"one-element list", []string{"l"}, "38185", true, false},
		{"escape", []string{"esc"}, "Isère", true, false},
		{"null then next name", []string{"z", "e", "n"}, "19", true, false},
		{"absent", []string{"nope"}, "", false, false},
		{"several values", []string{"many"}, "", true, true},
		{"object", []string{"o"}, "", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, found, err := p.Get(tc.names...)
			if got != tc.want || found != tc.found || (err != nil) != tc.wantErr {
				t.Errorf("Get(%v) = %q, %v, %v; want %q, %v, error %v", tc.names, got, found, err, tc.want, tc.found, tc.wantErr)
			}
		})
	}
}

// TestOpen_OGR converts a GeoJSON file to a Shapefile and a GeoPackage with ogr2ogr,
// then reads them back through Open: same features, and the Lambert-93 CRS kept.
func TestOpen_OGR(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ogr2ogr"); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("REQUIRE_DB") == "1" {
			t.Fatal("ogr2ogr not found: install gdal-bin")
		}
		t.Skip("ogr2ogr not found (install gdal-bin): Shapefile and GeoPackage input untested")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "in.geojson")
	body := `{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::2154"}},"features":[` +
		`{"type":"Feature","properties":{"CODE_IRIS":"920020101","NOM_IRIS":"Centre"},"geometry":{"type":"Polygon","coordinates":[[[651000,6852000],[651100,6852000],[651100,6852100],[651000,6852100],[651000,6852000]]]}},` +
		`{"type":"Feature","properties":{"CODE_IRIS":"920020102","NOM_IRIS":"Fontaine"},"geometry":{"type":"Polygon","coordinates":[[[651100,6852000],[651200,6852000],[651200,6852100],[651100,6852000]]]}}]}`
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, driver, layer string
	}{
		{"shapefile", "iris.shp", "ESRI Shapefile", ""},
		{"geopackage", "iris.gpkg", "GPKG", "contours_iris"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(dir, tc.file)
			args := []string{"-f", tc.driver, dst, src}
			if tc.layer != "" {
				args = append(args, "-nln", tc.layer)
			}
			if out, err := exec.Command("ogr2ogr", args...).CombinedOutput(); err != nil {
				t.Fatalf("ogr2ogr: %v: %s", err, out)
			}
			rc, err := Open(t.Context(), dst, tc.layer)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			r := NewReader(tc.file, rc)
			feats := readAll(t, r)
			if len(feats) != 2 || r.SRID() != 2154 {
				t.Fatalf("%d features, SRID %d; want 2, 2154", len(feats), r.SRID())
			}
			if v, _, _, _ := feats[1].Properties.Get("code_iris"); v != "920020102" {
				t.Errorf("CODE_IRIS = %q", v)
			}
		})
	}
	t.Run("missing layer", func(t *testing.T) {
		rc, err := Open(t.Context(), filepath.Join(dir, "iris.gpkg"), "nope")
		if err == nil {
			defer rc.Close()
			_, err = io.Copy(io.Discard, rc)
		}
		if err == nil || !strings.Contains(err.Error(), "ogr2ogr") {
			t.Errorf("error = %v, want ogr2ogr's", err)
		}
	})
}

func FuzzGeoJSON(f *testing.F) {
	for _, rel := range []string{"hds9213/bv_contours_reu_circo9213.geojson", "grenoble/iris_grenoble_georef_millesimes_2015_2023.geojson"} {
		b, err := os.ReadFile(realdata.Path(f, rel))
		if err != nil {
			f.Fatal(err)
		}
		// The whole files are too large to mutate usefully: seed their first features.
		if i := strings.Index(string(b[20000:]), `{"type": "Feature"`); i > 0 {
			b = append(b[:20000+i-2], "]}"...)
		} else if len(b) > 20000 {
			b = b[:20000]
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:2154"}},"features":[{"type":"Feature","properties":{"codeBureauVote":"92002_1","iris_code":["381850107"],"year":"2023"},"geometry":{"type":"MultiPolygon","coordinates":[` + square + `]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader("fuzz.geojson", strings.NewReader(string(b)))
		c, _ := NewContourReader(r, ContourFields{})
		for range 1000 {
			ct, err := c.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					if _, ok := ingest.AsParseError(err); !ok {
						t.Fatalf("error %v is not a ParseError", err)
					}
				}
				return
			}
			if ct.Feature.WKB != nil && ct.Feature.WKB[0] != 1 {
				t.Fatal("bad WKB")
			}
			ct.Feature.Properties.Get("iris_code", "year")
		}
	})
}

// TestOpen_NoOGR checks the message given when a Shapefile arrives and GDAL is missing.
func TestOpen_NoOGR(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Open(t.Context(), "CONTOURS-IRIS.shp", "")
	if err == nil || !strings.Contains(err.Error(), "ogr2ogr was not found") || !strings.Contains(err.Error(), "gdal-bin") {
		t.Errorf("error = %v, want one saying ogr2ogr is missing and how to install it", err)
	}
}

func TestContourFields_Check(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fields  ContourFields
		layout  string
		wantErr bool
	}{
		{"data.gouv default", ContourFields{}, "datagouv", false},
		{"code field", ContourFields{Code: "id_bv"}, "code:id_bv", false},
		{"commune and bureau", ContourFields{Commune: "insee", Bureau: "bv"}, "commune:insee+bureau:bv", false},
		{"constant commune", ContourFields{CommuneCode: "31555", Bureau: "uniq_bdv"}, "commune=31555+bureau:uniq_bdv", false},
		{"Paris", ContourFields{Arrondissement: "arrondissement", Bureau: "num_bv"}, "arrondissement:arrondissement+bureau:num_bv", false},
		{"Lyon", ContourFields{Arrondissement: "arr", Bureau: "num", CommuneCode: "69123"}, "arrondissement:arr+bureau:num", false},
		{"code with bureau", ContourFields{Code: "k", Bureau: "b"}, "", true},
		{"bureau alone", ContourFields{Bureau: "b"}, "", true},
		{"commune alone", ContourFields{Commune: "c"}, "", true},
		{"both communes", ContourFields{Commune: "c", CommuneCode: "31555", Bureau: "b"}, "", true},
		{"arrondissement outside PLM", ContourFields{Arrondissement: "a", Bureau: "b", CommuneCode: "31555"}, "", true},
		{"bad constant commune", ContourFields{CommuneCode: "315", Bureau: "b"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fields.Check()
			if (err != nil) != tc.wantErr || (!tc.wantErr && tc.fields.Layout() != tc.layout) {
				t.Errorf("Check() = %v, Layout() = %q; want error %v, layout %q", err, tc.fields.Layout(), tc.wantErr, tc.layout)
			}
		})
	}
}

func TestPLMBureau(t *testing.T) {
	t.Parallel()
	tests := []struct {
		city, arr, num, want string
	}{
		{"75056", "19", "5", "1905"},
		{"75056", "75115", "12", "1512"},
		{"69123", "69383", "5", "0305"},
		{"13055", "16", "4", "1604"},
		{"75056", "21", "1", ""},    // no 21st arrondissement
		{"75056", "69383", "1", ""}, // Lyon's
		{"75056", "x", "1", ""},
		{"75056", "1", "100", ""},
	}
	for _, tc := range tests {
		got, err := plmBureau(tc.city, tc.arr, tc.num)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("plmBureau(%s, %s, %s) = %q, %v; want %q", tc.city, tc.arr, tc.num, got, err, tc.want)
		}
	}
}
