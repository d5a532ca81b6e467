// Package tilestest loads the real 92-13 fixture (91 bureau contours of four communes and
// the legislative 2024 round-1 results) into a test database and builds its tiles.
package tilestest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/ingest/geo"
	"github.com/coopol/coopol/internal/ingest/results"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/realdata"
	"github.com/coopol/coopol/internal/tiles"
)

// ContoursFile and ResultsFile are the fixture files, relative to the real data directory.
const (
	ContoursFile = "hds9213/bv_contours_reu_circo9213.geojson"
	ResultsFile  = "hds9213/lg2024_t1_9213.csv"
)

// LoadContours loads the 92-13 bureau contours through the contours ingestion.
func LoadContours(t testing.TB, db *postgres.DB) {
	t.Helper()
	ctx := context.Background()
	path := realdata.Path(t, ContoursFile)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr, err := geo.NewContourReader(geo.NewReader(filepath.Base(path), f), geo.ContourFields{})
	if err != nil {
		t.Fatal(err)
	}
	l := postgres.Load{Kind: "contours", Scope: "2022", File: filepath.Base(path), SHA256: fileHash(t, path),
		Params: map[string]string{"vintage": "2022"}}
	if _, err := db.LoadContours(ctx, l, "2022", cr); err != nil {
		t.Fatal(err)
	}
}

// LoadResults loads the legislative 2024 round-1 results of 92-13.
func LoadResults(t testing.TB, db *postgres.DB) {
	t.Helper()
	ctx := context.Background()
	path := realdata.Path(t, ResultsFile)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e, err := electoral.ParseElection("lg2024", 1)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := results.NewReader(filepath.Base(path), f, results.Options{Election: e})
	if err != nil {
		t.Fatal(err)
	}
	l := postgres.Load{Kind: "results", Scope: e.Scope(), File: filepath.Base(path), SHA256: fileHash(t, path),
		Params: map[string]string{"election": e.ID, "round": "1"}}
	if _, err := db.LoadResults(ctx, l, e, rd); err != nil {
		t.Fatal(err)
	}
}

// Build builds every tile layer.
func Build(t testing.TB, db *postgres.DB) *tiles.BuildReport {
	t.Helper()
	rep, err := (&tiles.Builder{Store: db}).Build(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func fileHash(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
