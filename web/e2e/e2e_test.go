// Package e2e runs coopol's map in a headless browser and decodes its tiles with an
// independent decoder. It needs node, this folder's node_modules (npm ci) and Debian's
// chromium; make test installs them.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/server"
	"github.com/coopol/coopol/internal/tiles"
	"github.com/coopol/coopol/internal/tiles/tilestest"
	"github.com/coopol/coopol/web"
)

// requireTools skips without node, node_modules or chromium, except under REQUIRE_DB=1
// or CI=true, where a skip would hide a test that did not run.
func requireTools(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core")); err != nil {
		missing = append(missing, "web/e2e/node_modules (npm ci)")
	}
	if _, err := os.Stat(chromium()); err != nil {
		missing = append(missing, chromium())
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("REQUIRE_DB") == "1" || os.Getenv("CI") == "true" {
		t.Fatalf("missing %s (make test installs them)", strings.Join(missing, ", "))
	}
	t.Skipf("missing %s", strings.Join(missing, ", "))
}

func chromium() string {
	if c := os.Getenv("CHROMIUM"); c != "" {
		return c
	}
	return "/usr/bin/chromium"
}

func node(t *testing.T, timeout time.Duration, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %v: %v", args, err)
	}
	return out
}

// startServer serves the app on 127.0.0.1:0 with the 92-13 fixture loaded and built.
func startServer(t *testing.T) string {
	t.Helper()
	db, _ := pgtest.New(t)
	tilestest.LoadContours(t, db)
	tilestest.LoadResults(t, db)
	tilestest.Build(t, db)
	static, err := fs.Sub(web.FS, "static")
	if err != nil {
		t.Fatal(err)
	}
	h := server.New(server.Deps{Logger: slog.New(slog.DiscardHandler), Store: db, Web: static,
		Tiles: tiles.NewEngine(db, tiles.Options{})})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func tileOf(z int, lon, lat float64) (x, y int) {
	n := math.Exp2(float64(z))
	r := lat * math.Pi / 180
	return int((lon + 180) / 360 * n), int((1 - math.Log(math.Tan(r)+1/math.Cos(r))/math.Pi) / 2 * n)
}

func TestTilesDecodeWithMapboxVectorTile(t *testing.T) {
	requireTools(t)
	base := startServer(t)
	for _, tc := range []struct {
		layer string
		z     int
		want  map[string]int // features per layer
	}{
		{"carte", 0, map[string]int{"departements": 1}},
		{"carte", 8, map[string]int{"departements": 1, "circonscriptions": 1, "communes": 4}},
		{"bureaux", 10, map[string]int{"bureaux": 91}},
		{"carte", 10, map[string]int{"departements": 1, "circonscriptions": 1, "communes": 4, "bureaux": 91}},
	} {
		x, y := tileOf(tc.z, 2.29, 48.76)
		url := base + "/tiles/" + tc.layer + "/" + strconv.Itoa(tc.z) + "/" + strconv.Itoa(x) + "/" + strconv.Itoa(y) + ".mvt"
		res, err := http.Get(url) // Go's client asks for gzip and decompresses
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %v", url, res.StatusCode, err)
		}
		path := filepath.Join(t.TempDir(), "tile.mvt")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var got map[string]struct {
			Extent                 int
			IDs                    []string
			Types                  []int
			MinX, MinY, MaxX, MaxY float64
		}
		if err := json.Unmarshal(node(t, 30*time.Second, "decode.mjs", path), &got); err != nil {
			t.Fatal(err)
		}
		for layer, n := range tc.want {
			l := got[layer]
			seen := map[string]bool{}
			for _, id := range l.IDs {
				if id == "" || seen[id] {
					t.Errorf("%s/%d %s: id %q missing or repeated", tc.layer, tc.z, layer, id)
				}
				seen[id] = true
			}
			if len(l.IDs) != n {
				t.Errorf("%s/%d %s: %d features, want %d", tc.layer, tc.z, layer, len(l.IDs), n)
			}
			for _, typ := range l.Types {
				if typ != 3 {
					t.Errorf("%s/%d %s: geometry type %d, want 3 (polygon)", tc.layer, tc.z, layer, typ)
					break
				}
			}
			lo, hi := float64(-tiles.Buffer), float64(tiles.Extent+tiles.Buffer)
			if l.Extent != tiles.Extent || l.MinX < lo || l.MinY < lo || l.MaxX > hi || l.MaxY > hi {
				t.Errorf("%s/%d %s: extent %d, coordinates [%v,%v]–[%v,%v] beyond the extent plus buffer",
					tc.layer, tc.z, layer, l.Extent, l.MinX, l.MinY, l.MaxX, l.MaxY)
			}
		}
		if tc.z == 0 && len(got["bureaux"].IDs) > 0 {
			t.Errorf("carte/0 carries bureaux: they are aggregated below zoom 10")
		}
	}
}

func TestPreviewMapInChromium(t *testing.T) {
	requireTools(t)
	base := startServer(t)
	shot := os.Getenv("COOPOL_E2E_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "carte.png")
	}
	out := node(t, 3*time.Minute, "map.mjs", base+"/carte#12.3/48.757/2.287", shot)
	var r struct {
		Errors               []string
		Outside              []string
		Rendered             int
		Layers               []string
		Bureaux              int
		WithValue            int
		Legend               string
		Popup                string
		TilesFetchedBySwitch int
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("map: %s (screenshot %s)", out, shot)
	if len(r.Errors) > 0 {
		t.Errorf("browser errors: %v", r.Errors)
	}
	if len(r.Outside) > 0 {
		t.Errorf("the map fetched outside the server: %v", r.Outside)
	}
	if r.Rendered == 0 || r.Bureaux < 20 {
		t.Fatalf("rendered %d features, %d bureaux: want the bureaux of 92-13 drawn", r.Rendered, r.Bureaux)
	}
	if r.WithValue < r.Bureaux*9/10 {
		t.Errorf("%d of %d bureaux carry an indicator value (feature-state)", r.WithValue, r.Bureaux)
	}
	if !strings.Contains(r.Legend, "Abstention") || !strings.Contains(r.Legend, "%") {
		t.Errorf("legend = %q", r.Legend)
	}
	if !strings.Contains(r.Popup, "Bureau de vote") || !strings.Contains(r.Popup, "_0") {
		t.Errorf("popup after a click = %q, want a bureau's code and name", r.Popup)
	}
	if r.TilesFetchedBySwitch != 0 {
		t.Errorf("switching the indicator fetched %d tiles, want none", r.TilesFetchedBySwitch)
	}
	if _, err := os.Stat(shot); errors.Is(err, os.ErrNotExist) {
		t.Errorf("no screenshot at %s", shot)
	}
}
