package main

import (
	"context"
	"flag"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/insee"
	"github.com/coopol/coopol/internal/postgres"
)

func addressesKind() kindSpec {
	return kindSpec{
		summary: "BAN addresses of one département (adresses-XX.csv or .csv.gz); replaces that département only",
		setup: func(fs *flag.FlagSet) loadFunc {
			return func(ctx context.Context, db *postgres.DB, f *ingestFile) (*ingest.Report, error) {
				rc, err := f.Open()
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				r, err := insee.NewAddressReader(f.Path, rc, f.Progress.AddRows)
				if err != nil {
					return nil, err
				}
				defer r.Close()
				return db.LoadAddresses(ctx, f.Load("addresses", r.Dept, nil), r)
			}
		},
	}
}
