package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/geo"
	"github.com/coopol/coopol/internal/postgres"
)

func irisKind() kindSpec {
	return kindSpec{
		summary: "IRIS contours: IGN CONTOURS-IRIS (Shapefile, GeoPackage via ogr2ogr, GeoJSON) or OpenDataSoft georef exports",
		setup: func(fs *flag.FlagSet) loadFunc {
			vintage := fs.String("vintage", "", "keep only this vintage (year) of a multi-year file; required for IGN files, which do not say")
			gf := geoFlags(fs)
			return func(ctx context.Context, db *postgres.DB, f *ingestFile) (*ingest.Report, error) {
				vintages := []string{*vintage}
				if *vintage == "" {
					// A first pass finds the vintages the file holds: they are the scope of
					// the load, known before anything is replaced.
					rc, r, err := gf.open(ctx, f)
					if err != nil {
						return nil, fmt.Errorf("ingest iris: %w", err)
					}
					r.OnFeature = nil
					vintages, err = geo.IRISVintages(r)
					rc.Close()
					if err != nil {
						return nil, err
					}
					if len(vintages) == 0 {
						return nil, fmt.Errorf("ingest iris: %s holds no feature", f.Name)
					}
				}
				rc, r, err := gf.open(ctx, f)
				if err != nil {
					return nil, fmt.Errorf("ingest iris: %w", err)
				}
				defer rc.Close()
				params := gf.params()
				params["vintages"] = postgres.IRISScope(vintages)
				if *vintage != "" {
					params["vintage"] = *vintage
				}
				l := f.Load("iris", postgres.IRISScope(vintages), params)
				return db.LoadIRIS(ctx, l, vintages, geo.NewIRISReader(r, *vintage))
			}
		},
	}
}
