package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/results"
	"github.com/coopol/coopol/internal/postgres"
)

func resultsKind() kindSpec {
	return kindSpec{
		summary: "election results by bureau de vote (any Ministère layout 2014–2024, data.gouv, OpenDataSoft)",
		setup: func(fs *flag.FlagSet) loadFunc {
			election := fs.String("election", "", "election id, letters then year: pres2022, lg2024, eu2024, mun2020, dep2021 (required)")
			round := fs.Int("round", 1, "round: 1 or 2")
			status := fs.String("status", "", "provisional or final, recorded with the load")
			return func(ctx context.Context, db *postgres.DB, f *ingestFile) (*ingest.Report, error) {
				if *election == "" {
					return nil, fmt.Errorf("ingest results: --election is required (e.g. --election lg2024)")
				}
				e, err := electoral.ParseElection(*election, *round)
				if err != nil {
					return nil, fmt.Errorf("ingest results: %w", err)
				}
				st, err := electoral.ParseStatus(*status)
				if err != nil {
					return nil, fmt.Errorf("ingest results: %w", err)
				}
				r, err := f.Open()
				if err != nil {
					return nil, fmt.Errorf("ingest results: %w", err)
				}
				defer r.Close()
				rd, err := results.NewReader(f.Name, r, results.Options{Election: e})
				if err != nil {
					return nil, err
				}
				params := map[string]string{"election": e.ID, "round": strconv.Itoa(e.Round)}
				if st != electoral.StatusUnknown {
					params["status"] = string(st)
				}
				return db.LoadResults(ctx, f.Load("results", "", params), e, progressSource{rd, f.Progress})
			}
		},
	}
}

// progressSource counts parsed rows on the progress display.
type progressSource struct {
	*results.Reader
	p *ingest.Progress
}

func (s progressSource) Next() (*electoral.BureauResult, error) {
	b, err := s.Reader.Next()
	if err == nil {
		s.p.AddRows(1)
	}
	return b, err
}
