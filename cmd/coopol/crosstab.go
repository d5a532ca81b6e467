package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/electoral"
)

// scopeFlags declares the territory flags shared by crosstab, target and export.
func scopeFlags(fs *flag.FlagSet) func() crosstab.Scope {
	commune := fs.String("commune", "", "INSEE code of a commune")
	circo := fs.String("circonscription", "", "circonscription, département + 2 digits (9213)")
	dept := fs.String("dept", "", "département code")
	bureaux := fs.String("bureaux", "", "comma-separated bureau keys (92002_0001,…)")
	return func() crosstab.Scope {
		return crosstab.Scope{Commune: *commune, Circonscription: *circo, Dept: *dept, Bureaux: crosstab.ParseBureaux(*bureaux)}
	}
}

// runCrosstab prints a share (or abstention) by quantile of an indicator, and the
// correlation table.
func runCrosstab(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("crosstab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	election := fs.String("election", "", "election id (lg2024)")
	round := fs.Int("round", 1, "round")
	measure := fs.String("measure", "abstention", "abstention, nuance:UG,LFI or candidate:3")
	indicator := fs.String("indicator", "unemployment_rate", "indicator key (coopol crosstab -list)")
	quantiles := fs.Int("quantiles", 5, "number of groups")
	area := fs.Bool("area", false, "census counts apportioned by area instead of through the grid population")
	asJSON := fs.Bool("json", false, "print JSON")
	list := fs.Bool("list", false, "list the indicators and exit")
	scope := scopeFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list {
		for _, in := range crosstab.Indicators() {
			fmt.Fprintf(stdout, "%-28s %s\n", in.Key, in.Label)
		}
		return nil
	}
	e, err := electoral.ParseElection(*election, *round)
	if err != nil {
		return err
	}
	m, err := crosstab.ParseMeasure(*measure)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := db.Crosstab(ctx, crosstab.Query{Election: e, Measure: m, Indicator: *indicator, Quantiles: *quantiles, Scope: scope(), AreaWeighted: *area})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(jsonSafe(c))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s round %d: %s by quantile of %s\n", c.Election, c.Round, *measure, c.Indicator.Key)
	fmt.Fprintln(tw, "quantile\tbureaux\tindicator min\tindicator max\tindicator\tnum\tden\tshare\t")
	for _, b := range append(c.Table.Bins, c.Table.Total) {
		q := fmt.Sprint(b.Quantile)
		if b.Quantile == 0 {
			q = "all"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.4g\t%.4g\t%.4g\t%.0f\t%.0f\t%.4f\t\n", q, b.Bureaux, b.IndicatorMin, b.IndicatorMax, b.Indicator, b.Num, b.Den, b.Share)
	}
	fmt.Fprintf(tw, "excluded (no result, contour or indicator): %d; weighted Pearson r = %.3f\n", c.Table.Excluded, c.Table.Pearson)
	fmt.Fprintln(tw, "\ncorrelations with every indicator (weighted by den):")
	for _, k := range c.Correlations {
		fmt.Fprintf(tw, "%s\t%.3f\t%d bureaux\t\n", k.Indicator, k.Pearson, k.Bureaux)
	}
	return tw.Flush()
}

// jsonSafe wraps v so that NaN encodes as null.
func jsonSafe(v any) json.Marshaler { return nanToNull{v} }

type nanToNull struct{ v any }

func (n nanToNull) MarshalJSON() ([]byte, error) { return crosstab.MarshalJSON(n.v) }
