package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/export"
)

// runExport writes the bureau table: coopol export bureaux --election E --round R
// --format F [--out FILE]. Every export is logged in the audit log.
func runExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "bureaux" {
		return errors.New("usage: coopol export bureaux --election E --round R --format csv|parquet|arrow|geojson|geoparquet [--out FILE]")
	}
	fs := flag.NewFlagSet("export bureaux", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	elections := fs.String("election", "", "election ids, comma-separated (lg2024,pres2022); the first one is scored")
	round := fs.Int("round", 1, "round of every election, unless given as lg2024/2")
	format := fs.String("format", "csv", "csv, parquet, arrow, geojson or geoparquet")
	out := fs.String("out", "", "output file (default stdout)")
	sep := fs.String("sep", ",", `CSV separator: "," or ";" (";" also writes decimal commas, for French spreadsheets)`)
	geometry := fs.Bool("geometry", false, "add a WKB geometry column to parquet and arrow")
	minPop := fs.Float64("min-population", 0, "blank the indicators of bureaux under this population (small cells)")
	area := fs.Bool("area", false, "census counts apportioned by area instead of through the grid population")
	scope := scopeFlags(fs)
	score := scoreFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	q := export.Query{Format: *format, Scope: scope(), Options: export.Options{Geometry: *geometry}, MinPopulation: *minPop, AreaWeighted: *area}
	switch *sep {
	case ",":
	case ";":
		q.Options.Sep = ';'
	default:
		return fmt.Errorf("export: --sep %q: want , or ;", *sep)
	}
	for _, id := range strings.Split(*elections, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		r := *round
		if i, rs, ok := strings.Cut(id, "/"); ok {
			id = i
			fmt.Sscan(rs, &r)
		}
		e, err := electoral.ParseElection(id, r)
		if err != nil {
			return err
		}
		q.Elections = append(q.Elections, e)
	}
	var err error
	if q.Score, q.Reference, err = score(); err != nil {
		return err
	}
	if err := q.Validate(); err != nil {
		return err
	}
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer f.Close()
		w = f
	}
	n, err := export.Bureaux(ctx, db, q, w)
	if err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok && *out != "" {
		if err := f.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	// The command line has no member: the entry records the act, not the person.
	return db.Audit(ctx, auth.AuditEntry{Action: export.AuditAction, Details: exportDetails(q, n, "cli")})
}

// exportDetails is what the audit log keeps of an export.
func exportDetails(q export.Query, rows int, via string) map[string]any {
	var es []string
	for _, e := range q.Elections {
		es = append(es, e.Scope())
	}
	return map[string]any{"kind": "bureaux", "format": q.Format, "elections": es, "scope": q.Scope, "rows": rows,
		"min_population": q.MinPopulation, "via": via}
}
