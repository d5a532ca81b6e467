package main

import (
	"context"
	"flag"
	"strconv"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/insee"
	"github.com/coopol/coopol/internal/postgres"
)

func censusKind() kindSpec {
	return kindSpec{
		summary: "INSEE IRIS census bases (base-ic-*.CSV) and Filosofi income by IRIS (IRIS;DISP_…)",
		setup: func(fs *flag.FlagSet) loadFunc {
			theme := fs.String("theme", "", "theme of the file (default: from its name, base-ic-<theme>-<year>)")
			vintage := fs.Int("vintage", 0, "vintage of every column (default: from the P20_/C22_/DISP_…18 prefixes)")
			return func(ctx context.Context, db *postgres.DB, f *ingestFile) (*ingest.Report, error) {
				rc, err := f.Open()
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				r, err := insee.NewCensusReader(f.Path, rc, insee.CensusOptions{Theme: *theme, Vintage: *vintage, OnRows: f.Progress.AddRows})
				if err != nil {
					return nil, err
				}
				params := map[string]string{}
				if *theme != "" {
					params["theme"] = *theme
				}
				if *vintage != 0 {
					params["vintage"] = strconv.Itoa(*vintage)
				}
				kind := "census"
				if r.Layout == insee.LayoutFiloIRIS {
					kind = "filosofi_iris"
				}
				return db.LoadCensus(ctx, f.Load(kind, r.Scope(), params), r)
			}
		},
	}
}
