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
		summary: "INSEE IRIS census bases (base-ic-*, every vintage since 2009) and Filosofi income by IRIS (DISP_…, 2015 on)",
		setup: func(fs *flag.FlagSet) loadFunc {
			theme := fs.String("theme", "", "theme of the file (default: from its name, base-ic-<theme>-<year>)")
			vintage := fs.Int("vintage", 0, "vintage of the columns without a year prefix; must agree with the P10_/C15_/DISP_…18 ones")
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
