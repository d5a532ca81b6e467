package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/postgres"
)

func censusKind() kindSpec {
	return kindSpec{
		summary: "(not yet available)",
		setup: func(fs *flag.FlagSet) loadFunc {
			return func(ctx context.Context, db *postgres.DB, f *ingestFile) (*ingest.Report, error) {
				return nil, fmt.Errorf("ingest census: not yet available")
			}
		},
	}
}
