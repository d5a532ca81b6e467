package server_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/server"
	"github.com/coopol/coopol/internal/tiles"
	"github.com/coopol/coopol/internal/tiles/tilestest"
)

// tileOf returns the tile at zoom z holding lon, lat.
func tileOf(z int, lon, lat float64) (x, y int) {
	n := math.Exp2(float64(z))
	x = int((lon + 180) / 360 * n)
	r := lat * math.Pi / 180
	y = int((1 - math.Log(math.Tan(r)+1/math.Cos(r))/math.Pi) / 2 * n)
	return x, y
}

func newTileServer(t *testing.T, db *postgres.DB) *httptest.Server {
	t.Helper()
	// A TTL of -1 reads the versions on every request: the test sees each commit at once.
	eng := tiles.NewEngine(db, tiles.Options{VersionTTL: -1})
	srv := httptest.NewServer(server.New(server.Deps{Logger: slog.New(slog.DiscardHandler), Store: db, Tiles: eng}))
	t.Cleanup(srv.Close)
	return srv
}

type fetched struct {
	status int
	header http.Header
	body   []byte // decompressed
}

func fetch(t *testing.T, url string, hdr map[string]string) fetched {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return fetched{res.StatusCode, res.Header, b}
}

// ogrLayers decodes an MVT file with GDAL, an independent decoder, and returns the
// feature ids of each layer.
func ogrLayers(t *testing.T, mvt []byte, z, x, y int) map[string][]string {
	t.Helper()
	if _, err := exec.LookPath("ogrinfo"); err != nil {
		t.Skip("ogrinfo (gdal-bin) not installed")
	}
	path := filepath.Join(t.TempDir(), "tile.mvt")
	if err := os.WriteFile(path, mvt, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ogrinfo", "-ro", "-al", "-q", "-oo", "Z="+itoa(z), "-oo", "X="+itoa(x), "-oo", "Y="+itoa(y), path).CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo: %v\n%s", err, out)
	}
	layers := map[string][]string{}
	layerRe := regexp.MustCompile(`^Layer name: (\S+)`)
	idRe := regexp.MustCompile(`^\s+id \(String\) = (\S+)`)
	cur := ""
	for _, line := range strings.Split(string(out), "\n") {
		if m := layerRe.FindStringSubmatch(line); m != nil {
			cur = m[1]
			layers[cur] = []string{}
		} else if m := idRe.FindStringSubmatch(line); m != nil && cur != "" {
			layers[cur] = append(layers[cur], m[1])
		}
	}
	for _, ids := range layers {
		sort.Strings(ids)
	}
	return layers
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestTiles_real9213(t *testing.T) {
	t.Parallel()
	db, _ := pgtest.New(t)
	tilestest.LoadContours(t, db)
	tilestest.Build(t, db)
	srv := newTileServer(t, db)

	// TileJSON names versioned tile URLs.
	tj := fetch(t, srv.URL+"/tiles/carte.json", nil)
	var doc struct {
		TileJSON     string   `json:"tilejson"`
		Tiles        []string `json:"tiles"`
		VectorLayers []struct {
			ID string `json:"id"`
		} `json:"vector_layers"`
	}
	if err := json.Unmarshal(tj.body, &doc); err != nil || doc.TileJSON != "3.0.0" || len(doc.Tiles) != 1 ||
		!strings.HasPrefix(doc.Tiles[0], srv.URL+"/tiles/carte/{z}/{x}/{y}.mvt?v=") || len(doc.VectorLayers) != 4 {
		t.Fatalf("TileJSON = %s (%v)", tj.body, err)
	}
	// Its bounds are the data's, so the map opens on the 92-13 constituency (south of
	// Paris: lon 2.24–2.33, lat 48.73–48.81), not on the whole world.
	var bounds struct {
		Bounds []float64 `json:"bounds"`
	}
	if err := json.Unmarshal(tj.body, &bounds); err != nil || len(bounds.Bounds) != 4 ||
		bounds.Bounds[0] < 2.2 || bounds.Bounds[2] > 2.4 || bounds.Bounds[1] < 48.7 || bounds.Bounds[3] > 48.85 ||
		bounds.Bounds[0] >= bounds.Bounds[2] || bounds.Bounds[1] >= bounds.Bounds[3] {
		t.Errorf("TileJSON bounds = %v, want the box of the 92-13 contours", bounds.Bounds)
	}

	// Every feature is in the low-zoom tiles, with its id, decoded by GDAL: the
	// département at zoom 0, the communes at their minzoom, every bureau at zoom 10.
	x, y := tileOf(10, 2.29, 48.76)
	allBureaux := fetch(t, srv.URL+"/tiles/bureaux/10/"+itoa(x)+"/"+itoa(y)+".mvt", nil)
	if allBureaux.status != http.StatusOK || allBureaux.header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" {
		t.Fatalf("bureaux tile: %d %v", allBureaux.status, allBureaux.header)
	}
	got := ogrLayers(t, allBureaux.body, 10, x, y)
	if n := len(got["bureaux"]); n != 91 || got["bureaux"][0] != "92002_0001" {
		t.Fatalf("bureaux at zoom 10: %d features (%v), want the 91 bureaux of 92-13", n, got["bureaux"][:min(3, n)])
	}
	x, y = tileOf(0, 2.29, 48.76)
	got = ogrLayers(t, fetch(t, srv.URL+"/tiles/carte/0/0/0.mvt", nil).body, 0, x, y)
	if len(got["departements"]) != 1 || got["departements"][0] != "92" || len(got["bureaux"]) != 0 {
		t.Errorf("composite tile at zoom 0: %v, want département 92 alone", got)
	}
	x, y = tileOf(8, 2.29, 48.76)
	got = ogrLayers(t, fetch(t, srv.URL+"/tiles/communes/8/"+itoa(x)+"/"+itoa(y)+".mvt", nil).body, 8, x, y)
	if strings.Join(got["communes"], ",") != "92002,92014,92019,92071" {
		t.Errorf("communes at zoom 8: %v, want the four communes", got["communes"])
	}

	// Strong ETag, 304, and an immutable cache for the versioned URL.
	x, y = tileOf(13, 2.29, 48.76)
	url := srv.URL + "/tiles/carte/13/" + itoa(x) + "/" + itoa(y) + ".mvt"
	first := fetch(t, url, nil)
	etag := first.header.Get("ETag")
	if first.status != http.StatusOK || !strings.HasPrefix(etag, `"`) || len(first.body) == 0 {
		t.Fatalf("tile: %d, ETag %q, %d bytes", first.status, etag, len(first.body))
	}
	if cc := first.header.Get("Cache-Control"); !strings.Contains(cc, "must-revalidate") {
		t.Errorf("unversioned URL Cache-Control = %q, want revalidation", cc)
	}
	if r := fetch(t, url, map[string]string{"If-None-Match": etag}); r.status != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", r.status)
	}
	v := strings.TrimPrefix(doc.Tiles[0], srv.URL+"/tiles/carte/{z}/{x}/{y}.mvt?v=")
	if cc := fetch(t, url+"?v="+v, nil).header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("versioned URL Cache-Control = %q, want immutable", cc)
	}

	// A load commits, the tiles are rebuilt: the next fetch differs (registered voters
	// appear), and the old ETag no longer matches.
	tilestest.LoadResults(t, db)
	tilestest.Build(t, db)
	second := fetch(t, url, map[string]string{"If-None-Match": etag})
	if second.status != http.StatusOK || second.header.Get("ETag") == etag || string(second.body) == string(first.body) {
		t.Fatalf("after a load: status %d, ETag %q (was %q), body changed: %v", second.status, second.header.Get("ETag"), etag, string(second.body) != string(first.body))
	}

	// Indicators: one value per feature, rates recomputed from counts, ETag and 304.
	ind := fetch(t, srv.URL+"/api/indicators/communes?indicator=inscrits&election=lg2024&round=1", nil)
	var vals map[string]float64
	if err := json.Unmarshal(ind.body, &vals); err != nil {
		t.Fatal(err)
	}
	if vals["92002"] != 40957 || vals["92014"] != 13273 || len(vals) != 4 {
		t.Errorf("inscrits by commune = %v", vals)
	}
	ab := fetch(t, srv.URL+"/api/indicators/bureaux?indicator=abstention", nil)
	if err := json.Unmarshal(ab.body, &vals); err != nil {
		t.Fatal(err)
	}
	if len(vals) < 91 || vals["92002_0001"] <= 0 || vals["92002_0001"] >= 1 {
		t.Errorf("abstention by bureau: %d values, 92002_0001 = %v", len(vals), vals["92002_0001"])
	}
	if r := fetch(t, srv.URL+"/api/indicators/bureaux?indicator=abstention", map[string]string{"If-None-Match": ab.header.Get("ETag")}); r.status != http.StatusNotModified {
		t.Errorf("indicator If-None-Match: %d, want 304", r.status)
	}
	if r := fetch(t, srv.URL+"/api/indicators/bureaux?indicator=DROP", nil); r.status != http.StatusBadRequest {
		t.Errorf("unknown indicator: %d, want 400", r.status)
	}
	for _, q := range []string{"indicator=share:no_diploma&vintage=2015x", "indicator=change:no_diploma&from=15", "indicator=share:nope"} {
		if r := fetch(t, srv.URL+"/api/indicators/bureaux?"+q, nil); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, r.status)
		}
	}
	if r := fetch(t, srv.URL+"/api/indicators/bureaux?indicator=share:no_diploma&vintage=2015", nil); r.status != http.StatusNotFound {
		t.Errorf("a census share of a vintage not loaded: %d, want 404", r.status)
	}
	if r := fetch(t, srv.URL+"/tiles/nope/1/0/0.mvt", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown layer: %d, want 404", r.status)
	}
	if r := fetch(t, srv.URL+"/tiles/bureaux/3/9/0.mvt", nil); r.status != http.StatusBadRequest {
		t.Errorf("tile outside the grid: %d, want 400", r.status)
	}
}
