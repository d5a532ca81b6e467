package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/insee"
	"github.com/coopol/coopol/internal/postgres"
)

func gridKind() kindSpec {
	return kindSpec{
		summary: "Filosofi 200 m / 1 km gridded data (CSV, GeoJSON, or GeoPackage through ogr2ogr)",
		setup: func(fs *flag.FlagSet) loadFunc {
			vintage := fs.Int("vintage", 0, "vintage of the grid (default: from the file name, Filosofi2019… → 2019)")
			return func(ctx context.Context, db *postgres.DB, f *ingestFile) (*ingest.Report, error) {
				v := *vintage
				if v == 0 {
					v = insee.GridVintage(f.Name)
				}
				if v == 0 {
					return nil, fmt.Errorf("ingest grid %s: no vintage in the file name: give --vintage", f.Name)
				}
				var (
					src  io.Reader
					wait = func() error { return nil }
				)
				if strings.HasSuffix(strings.ToLower(f.Name), ".gpkg") {
					// GeoPackage attributes through GDAL as CSV: the geometry is not needed,
					// cells are rebuilt from their ids.
					cmd := exec.CommandContext(ctx, "ogr2ogr", "-f", "CSV", "/vsistdout/", f.Path)
					out, err := cmd.StdoutPipe()
					if err != nil {
						return nil, err
					}
					var stderr strings.Builder
					cmd.Stderr = &stderr
					if err := cmd.Start(); err != nil {
						return nil, fmt.Errorf("ingest grid %s: ogr2ogr: %w", f.Name, err)
					}
					defer cmd.Process.Kill()
					src = out
					wait = func() error {
						if err := cmd.Wait(); err != nil {
							return fmt.Errorf("ingest grid %s: ogr2ogr: %w: %s", f.Name, err, stderr.String())
						}
						return nil
					}
				} else {
					rc, err := f.Open()
					if err != nil {
						return nil, err
					}
					defer rc.Close()
					src = rc
				}
				r, err := insee.NewGridReader(f.Path, src, insee.GridOptions{OnRows: f.Progress.AddRows})
				if err != nil {
					return nil, errors.Join(err, wait())
				}
				params := map[string]string{}
				if *vintage != 0 {
					params["vintage"] = strconv.Itoa(*vintage)
				}
				rep, err := db.LoadGrid(ctx, f.Load("grid", strconv.Itoa(v), params), v, r)
				if err != nil {
					return nil, err
				}
				return rep, wait()
			}
		},
	}
}
