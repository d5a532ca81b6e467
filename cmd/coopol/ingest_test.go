package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/realdata"
)

// ingestJSON runs coopol ingest with --json and decodes the report of each file.
func ingestJSON(t *testing.T, url string, args ...string) []ingest.Report {
	t.Helper()
	var out, errb syncBuffer
	argv := append([]string{"ingest"}, args...)
	argv = append(argv, "-db", url, "--json")
	if err := run(t.Context(), argv, env(nil), &out, &errb); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, errb.String())
	}
	if errb.String() != "" {
		t.Errorf("--json must keep standard error quiet, got %q", errb.String())
	}
	dec := json.NewDecoder(strings.NewReader(out.String()))
	var reps []ingest.Report
	for dec.More() {
		var r ingest.Report
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("report: %v\n%s", err, out.String())
		}
		reps = append(reps, r)
	}
	return reps
}

// TestRun_IngestRealReports loads real files through the command line and checks the
// machine-readable reports: provenance, rows, the match between results and contours,
// idempotence, and a refused file that loads nothing.
func TestRun_IngestRealReports(t *testing.T) {
	t.Parallel()
	_, url := pgtest.New(t)
	contours := realdata.Path(t, "hds9213/bv_contours_reu_circo9213.geojson")
	results := realdata.Path(t, "hds9213/lg2024_t1_9213.csv")

	c := ingestJSON(t, url, "contours", contours)[0]
	sum, err := ingest.FileSHA256(contours)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != "contours" || c.File != "bv_contours_reu_circo9213.geojson" || c.SHA256 != sum || c.Rows != 91 || c.Unchanged {
		t.Errorf("contours report = %+v", c)
	}
	if c.Match == nil || !strings.Contains(c.Match.Against, "none loaded") {
		t.Errorf("contours before any results: match = %+v", c.Match)
	}

	r := ingestJSON(t, url, "results", results, "--election", "lg2024", "--round", "1")[0]
	if r.Kind != "results" || r.Scope != "lg2024/1" || r.Rows != 92 || r.Layout != "2024-blocks" {
		t.Errorf("results report = %+v", r)
	}
	if r.Match == nil || r.Match.Matched != 91 || !reflect.DeepEqual(r.Match.OnlyHere, []string{"92019_0020"}) || len(r.Match.OnlyOther) != 0 {
		t.Errorf("results match = %+v, want 91 matched and 92019_0020 without contour", r.Match)
	}
	if len(r.Warnings) != 1 || r.Warnings[0].Key != "92019_0020" || r.Warnings[0].Line == 0 {
		t.Errorf("results warnings = %+v, want one for 92019_0020 with its line", r.Warnings)
	}

	again := ingestJSON(t, url, "results", results, "--election", "lg2024", "--round", "1")[0]
	if !again.Unchanged || again.DatasetID != r.DatasetID || again.Rows != 92 {
		t.Errorf("same file twice: %+v, want unchanged dataset %d", again, r.DatasetID)
	}
	if n := pgtest.QueryFloat(t, url, `SELECT count(*)::float8 FROM datasets WHERE kind = 'results'`); n != 1 {
		t.Errorf("datasets of kind results = %v after loading the same file twice, want 1", n)
	}

	// A corrupt copy: a count that is not a number on line 3. The error names file, line
	// and column; the previous load of the same election and round stays whole.
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	fields := strings.Split(lines[2], ";")
	fields[5] = "12a"
	lines[2] = strings.Join(fields, ";")
	bad := filepath.Join(t.TempDir(), "lg2024_t1_corrupt.csv")
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb syncBuffer
	err = run(t.Context(), []string{"ingest", "results", bad, "--election", "lg2024", "--round", "1", "-db", url}, env(nil), &out, &errb)
	if err == nil || !errors.Is(err, errs.ErrInvalid) || !strings.HasPrefix(err.Error(), "lg2024_t1_corrupt.csv:3:6:") {
		t.Fatalf("corrupt file: err = %v, want lg2024_t1_corrupt.csv:3:6: …", err)
	}
	if n := pgtest.QueryFloat(t, url, `SELECT sum(inscrits)::float8 FROM bureau_results WHERE election = 'lg2024' AND round = 1`); n != 89338 {
		t.Errorf("Σ inscrits after a refused file = %v, want the previous load's 89,338", n)
	}

	// The bureau names file keys bureaux without padding (92002_19): every key must
	// normalise to a loaded contour.
	names, err := os.Open(realdata.Path(t, "hds9213/noms_bureaux_votes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer names.Close()
	csv, err := ingest.NewCSV("noms_bureaux_votes.csv", names)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for {
		rec, err := csv.Read()
		if err != nil {
			break
		}
		key, _, _, err := electoral.ParseBureauKey(rec[0])
		if err != nil {
			t.Fatalf("line %d: %v", csv.Line(), err)
		}
		keys = append(keys, key)
	}
	if len(keys) != 91 {
		t.Fatalf("%d names, want 91", len(keys))
	}
	if n := pgtest.QueryFloat(t, url, `SELECT count(*)::float8 FROM bureau_contours WHERE code = ANY($1)`, keys); n != 91 {
		t.Errorf("%v of the 91 named bureaux match a contour, want all", n)
	}
}
