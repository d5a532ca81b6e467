// Command benchingest measures `coopol ingest` on generated data: rows, seconds, rows/s
// and peak memory for every file, at two scales (so that peak memory can be compared
// across file sizes), and the same contours file loaded by ogr2ogr with COPY into the
// same database. Run it through `make bench-ingest`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/generate"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchingest:", err)
		os.Exit(1)
	}
}

type measure struct {
	kind, file, scale string
	bytes, rows       int64
	seconds           float64
	peakMB            float64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchingest", flag.ContinueOnError)
	admin := fs.String("db", os.Getenv("DATABASE_URL"), "PostgreSQL URL of a server where databases may be created")
	bin := fs.String("bin", "bin/coopol", "the coopol binary")
	dataDir := fs.String("data", ".data/bench", "where generated files are kept between runs")
	seed := fs.Uint64("seed", 1, "generator seed")
	grid := fs.Bool("grid", true, "include the France-scale 200 m grid (≈ 1 GB of CSV)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *admin == "" {
		return errors.New("no database: pass -db or set DATABASE_URL")
	}
	var all []measure
	for _, scale := range []string{"department", "france"} {
		dir := filepath.Join(*dataDir, scale)
		m, err := manifest(ctx, dir, scale, *seed, *grid, stderr)
		if err != nil {
			return err
		}
		dbURL, err := freshDatabase(ctx, *admin, "coopol_bench_"+scale)
		if err != nil {
			return err
		}
		if out, err := exec.CommandContext(ctx, *bin, "migrate", "-db", dbURL).CombinedOutput(); err != nil {
			return fmt.Errorf("migrate: %v: %s", err, out)
		}
		for _, f := range loadOrder(m.Files) {
			argv, ok := ingestArgs(f)
			if !ok {
				continue
			}
			path := filepath.Join(dir, f.Path)
			fmt.Fprintf(stderr, "%s: ingest %s %s\n", scale, f.Kind, f.Path)
			ms, err := ingest(ctx, *bin, dbURL, append(argv, path))
			if err != nil {
				return err
			}
			ms.scale, ms.file, ms.bytes = scale, f.Path, f.Bytes
			all = append(all, ms)
			if f.Kind == "contours" {
				ogr, err := ogr2ogr(ctx, dbURL, path)
				if err != nil {
					fmt.Fprintf(stderr, "ogr2ogr: %v (comparison skipped)\n", err)
					continue
				}
				ogr.scale, ogr.file, ogr.bytes, ogr.rows = scale, f.Path, f.Bytes, ms.rows
				all = append(all, ogr)
			}
		}
	}
	report(stdout, all)
	return nil
}

func manifest(ctx context.Context, dir, scale string, seed uint64, grid bool, stderr io.Writer) (generate.Manifest, error) {
	var m generate.Manifest
	if b, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err == nil && json.Unmarshal(b, &m) == nil &&
		m.Scale == scale && m.Seed == seed && (scale != "france" || !grid || m.Totals.Cells > 0) {
		return m, nil
	}
	fmt.Fprintf(stderr, "generating %s scale into %s …\n", scale, dir)
	start := time.Now()
	m, err := generate.Run(ctx, generate.Options{Scale: scale, Seed: seed, Dir: dir, Grid: grid})
	if err != nil {
		return m, err
	}
	fmt.Fprintf(stderr, "generated in %s\n", time.Since(start).Round(time.Second))
	return m, nil
}

// Communes first, geometry next, results last, as a real deployment loads them.
var kindOrder = map[string]int{"communes": 0, "contours": 1, "iris": 2, "census": 3, "grid": 4, "addresses": 5, "results": 6}

func loadOrder(files []generate.File) []generate.File {
	out := append([]generate.File(nil), files...)
	for i := 1; i < len(out); i++ { // insertion sort: stable, and the lists are short
		for j := i; j > 0 && kindOrder[out[j].Kind] < kindOrder[out[j-1].Kind]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func ingestArgs(f generate.File) ([]string, bool) {
	switch f.Kind {
	case "results":
		return []string{"results", "-election", f.Election, "-round", strconv.Itoa(f.Round)}, f.Election != ""
	case "grid":
		return []string{"grid", "-vintage", "2019"}, true
	case "iris":
		return []string{"iris", "-vintage", "2024"}, true
	case "":
		return nil, false
	}
	return []string{f.Kind}, true
}

func ingest(ctx context.Context, bin, dbURL string, args []string) (measure, error) {
	argv := append([]string{"ingest"}, args...)
	argv = append(argv, "-db", dbURL, "-json", "-derive=false")
	cmd := exec.CommandContext(ctx, bin, argv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	el := time.Since(start).Seconds()
	if err != nil {
		return measure{}, fmt.Errorf("%s %s: %v: %s", bin, strings.Join(argv, " "), err, errb.String())
	}
	var rep struct {
		Kind string `json:"kind"`
		Rows int64  `json:"rows"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return measure{}, fmt.Errorf("ingest report: %v: %s", err, out.String())
	}
	return measure{kind: rep.Kind, rows: rep.Rows, seconds: el, peakMB: peakMB(cmd)}, nil
}

func ogr2ogr(ctx context.Context, dbURL, path string) (measure, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return measure{}, err
	}
	conn := fmt.Sprintf("PG:host=%s port=%s user=%s dbname=%s", u.Hostname(), u.Port(), u.User.Username(), strings.TrimPrefix(u.Path, "/"))
	cmd := exec.CommandContext(ctx, "ogr2ogr", "-f", "PostgreSQL", conn, path, "-nln", "bench_ogr_contours",
		"-overwrite", "-lco", "GEOMETRY_NAME=geom", "-nlt", "PROMOTE_TO_MULTI")
	cmd.Env = append(os.Environ(), "PG_USE_COPY=YES")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	el := time.Since(start).Seconds()
	if err != nil {
		return measure{}, fmt.Errorf("%v: %s", err, out)
	}
	return measure{kind: "ogr2ogr contours", seconds: el, peakMB: peakMB(cmd)}, nil
}

func peakMB(cmd *exec.Cmd) float64 {
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	return 0
}

func freshDatabase(ctx context.Context, admin, name string) (string, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, name)); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %q`, name)); err != nil {
		return "", err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func report(w io.Writer, ms []measure) {
	fmt.Fprintf(w, "| scale | kind | file | MB | rows | seconds | rows/s | peak RSS MB |\n|---|---|---|---:|---:|---:|---:|---:|\n")
	for _, m := range ms {
		rate := 0.0
		if m.seconds > 0 {
			rate = float64(m.rows) / m.seconds
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.1f | %d | %.2f | %.0f | %.0f |\n",
			m.scale, m.kind, m.file, float64(m.bytes)/1e6, m.rows, m.seconds, rate, m.peakMB)
	}
	for i, m := range ms {
		if m.kind == "ogr2ogr contours" && i > 0 {
			fmt.Fprintf(w, "\n%s contours: coopol %.2f s, ogr2ogr %.2f s, ratio %.2f\n", m.scale, ms[i-1].seconds, m.seconds, ms[i-1].seconds/m.seconds)
		}
	}
}
