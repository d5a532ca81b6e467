package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/postgres"
)

// scoreFlags declares the targeting flags shared by target and export.
func scoreFlags(fs *flag.FlagSet) func() (*crosstab.ScoreParams, *electoral.Election, error) {
	fav := fs.String("favourable", "", "favourable nuances (UG,LFI) or candidates (candidate:3)")
	ref := fs.String("reference", "", "reference election for the mobilisation gap: lg2022/1")
	refFav := fs.String("reference-favourable", "", "favourable nuances in the reference election (default: --favourable)")
	affinity := fs.String("affinity", "", "transfer affinities of other nuances: LFI:0.9,ECO:0.7")
	preset := fs.String("preset", "reserve", "score weights: reserve, mobilisation, transfer or between-rounds")
	weights := fs.String("weights", "", "explicit weights reserve,gap,transfer (overrides --preset): 1,0.5,1")
	return func() (*crosstab.ScoreParams, *electoral.Election, error) {
		if *fav == "" {
			return nil, nil, nil
		}
		p := &crosstab.ScoreParams{}
		var err error
		if p.Favourable, err = parseFavourable(*fav); err != nil {
			return nil, nil, err
		}
		if *refFav != "" {
			if p.RefFavourable, err = parseFavourable(*refFav); err != nil {
				return nil, nil, err
			}
		}
		if p.Affinity, err = crosstab.ParseAffinity(*affinity); err != nil {
			return nil, nil, err
		}
		w, ok := crosstab.Presets[*preset]
		if !ok {
			return nil, nil, fmt.Errorf("preset %q: want one of %s", *preset, strings.Join(presetNames(), ", "))
		}
		if *weights != "" {
			var r, g, t float64
			if _, err := fmt.Sscanf(*weights, "%g,%g,%g", &r, &g, &t); err != nil {
				return nil, nil, fmt.Errorf("weights %q: want reserve,gap,transfer", *weights)
			}
			w = crosstab.ScoreWeights{Reserve: r, Gap: g, Transfer: t}
		}
		p.Weights = w
		var re *electoral.Election
		if *ref != "" {
			id, r, _ := strings.Cut(*ref, "/")
			round := 1
			if r != "" {
				fmt.Sscan(r, &round)
			}
			e, err := electoral.ParseElection(id, round)
			if err != nil {
				return nil, nil, err
			}
			re = &e
		}
		return p, re, nil
	}
}

func presetNames() []string {
	var n []string
	for k := range crosstab.Presets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// parseFavourable reads "UG,LFI" (nuances) or "candidate:3,5".
func parseFavourable(s string) (crosstab.Measure, error) {
	if strings.HasPrefix(s, "candidate:") || strings.HasPrefix(s, "nuance:") {
		return crosstab.ParseMeasure(s)
	}
	return crosstab.ParseMeasure("nuance:" + s)
}

// runTarget ranks bureaux by a between-rounds score and, given volunteers and
// leaflets, plans which to cover first.
func runTarget(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("target", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	election := fs.String("election", "", "election id (lg2024)")
	round := fs.Int("round", 1, "round")
	limit := fs.Int("limit", 30, "bureaux to print (0: all)")
	volunteers := fs.Int("volunteers", 0, "volunteers available (with --leaflets: print a plan)")
	leaflets := fs.Int64("leaflets", 0, "leaflets available")
	per := fs.Int64("per-volunteer", 400, "leaflets one volunteer distributes")
	asJSON := fs.Bool("json", false, "print JSON")
	scope := scopeFlags(fs)
	score := scoreFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := electoral.ParseElection(*election, *round)
	if err != nil {
		return err
	}
	p, ref, err := score()
	if err != nil {
		return err
	}
	if p == nil {
		return fmt.Errorf("target: --favourable is required")
	}
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.Targets(ctx, postgres.TargetQuery{Election: e, Reference: ref, Params: *p, Scope: scope(), Limit: *limit,
		Volunteers: *volunteers, Leaflets: *leaflets, PerVolunteer: *per})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(jsonSafe(t))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "rank\tbureau\tinscrits\tabst. rate\tfav. share\treserve\tgap\ttransfer\tscore\tleaflets\t\n")
	for _, s := range t.Scores {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.3f\t%.3f\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t\n", s.Rank, s.Bureau, s.Inscrits, s.AbstentionRate, s.FavShare, s.Reserve, s.Gap, s.Transfer, s.Score, s.Leaflets)
	}
	if t.Plan != nil {
		fmt.Fprintf(tw, "\nplan: %d volunteers, %d leaflets (%d per volunteer): budget %d\n", t.Plan.Volunteers, t.Plan.Leaflets, t.Plan.PerVolunteer, t.Plan.Budget)
		for _, s := range t.Plan.Steps {
			fmt.Fprintf(tw, "%d\t%s\t%d leaflets\t%d volunteers\tcumulative %d\t\n", s.Rank, s.Bureau, s.Leaflets, s.Volunteers, s.CumLeaflets)
		}
	}
	return tw.Flush()
}
