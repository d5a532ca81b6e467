package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/coopol/coopol/internal/generate"
)

// runDemo generates the demo territory (once: a second run reuses the files) and ingests
// every file; loads already current are reported unchanged, so make run can be repeated.
func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	dir := fs.String("dir", ".data/demo", "where the generated files are kept")
	scale := fs.String("scale", "demo", "demo or department")
	seed := fs.Uint64("seed", 1, "random seed of the synthetic territory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := requireDB(*dbURL); err != nil {
		return err
	}
	m, err := demoManifest(ctx, *dir, *scale, *seed, stdout)
	if err != nil {
		return err
	}
	for _, f := range demoLoadOrder(m.Files) {
		ingestArgs, ok := demoIngestArgs(f)
		if !ok {
			continue
		}
		// Derived data once at the end, not after every file.
		ingestArgs = append(ingestArgs, filepath.Join(*dir, f.Path), "-db", *dbURL, "-quiet", "-derive=false")
		if err := runIngest(ctx, ingestArgs, getenv, stdout, stderr); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	if err := runApportion(ctx, []string{"-db", *dbURL}, getenv, io.Discard, stderr); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := runTiles(ctx, []string{"build", "-db", *dbURL}, getenv, io.Discard, stderr); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// Sections over the loaded communes, then the demo accounts, whose logins are printed.
	if err := runTerritory(ctx, []string{"demo", "-db", *dbURL}, getenv, stdout, stderr); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := runMember(ctx, []string{"demo", "-db", *dbURL}, getenv, stdout, stderr); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// demoManifest returns the manifest of the files in dir, generating them first unless
// they are already there for the same scale and seed.
func demoManifest(ctx context.Context, dir, scale string, seed uint64, stdout io.Writer) (generate.Manifest, error) {
	var m generate.Manifest
	if b, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err == nil && json.Unmarshal(b, &m) == nil &&
		m.Scale == scale && m.Seed == seed && allExist(dir, m.Files) {
		fmt.Fprintf(stdout, "demo: reusing the %s territory in %s\n", scale, dir)
		return m, nil
	}
	fmt.Fprintf(stdout, "demo: generating the %s territory (seed %d) in %s\n", scale, seed, dir)
	m, err := generate.Run(ctx, generate.Options{Scale: scale, Seed: seed, Dir: dir})
	if err != nil {
		return generate.Manifest{}, err
	}
	return m, nil
}

func allExist(dir string, files []generate.File) bool {
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, f.Path)); err != nil {
			return false
		}
	}
	return len(files) > 0
}

// Communes first (everything refers to them), then geometry, then what is matched
// against geometry.
var demoKindOrder = map[string]int{"communes": 0, "contours": 1, "iris": 2, "census": 3, "grid": 4, "addresses": 5, "results": 6}

func demoLoadOrder(files []generate.File) []generate.File {
	out := append([]generate.File(nil), files...)
	sort.SliceStable(out, func(i, j int) bool { return demoKindOrder[out[i].Kind] < demoKindOrder[out[j].Kind] })
	return out
}

// demoIngestArgs returns the ingest KIND and flags of a generated file. The INSEE CSV
// form of the COG says the same as the JSON, which carries more (populations): the demo
// loads the JSON only.
func demoIngestArgs(f generate.File) ([]string, bool) {
	switch f.Kind {
	case "communes":
		if f.Format == "insee-cog-csv" {
			return nil, false
		}
	case "results":
		if f.Election == "" || f.Round == 0 {
			return nil, false
		}
		return []string{"results", "-election", f.Election, "-round", strconv.Itoa(f.Round)}, true
	case "grid":
		return []string{"grid", "-vintage", "2019"}, true
	case "iris":
		return []string{"iris", "-vintage", "2024"}, true
	case "":
		return nil, false
	}
	return []string{f.Kind}, true
}
