package main

import (
	"context"
	"flag"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/insee"
	"github.com/coopol/coopol/internal/postgres"
)

func communesKind() kindSpec {
	return kindSpec{
		summary: "COG commune list (INSEE v_commune_YYYY.csv or etalab communes.json) or etalab departements.json",
		setup: func(fs *flag.FlagSet) loadFunc {
			return func(ctx context.Context, db *postgres.DB, f *ingestFile) (*ingest.Report, error) {
				rc, err := f.Open()
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				r, err := insee.NewCOGReader(f.Path, rc)
				if err != nil {
					return nil, err
				}
				if r.Departements() {
					return db.LoadDepartements(ctx, f.Load("communes", "departements", nil), r)
				}
				return db.LoadCommunes(ctx, f.Load("communes", "cog", nil), r)
			}
		},
	}
}
