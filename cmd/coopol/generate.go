package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/coopol/coopol/internal/generate"
)

func runGenerate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scale := fs.String("scale", "demo", "size of the territory: demo, department or france")
	seed := fs.Uint64("seed", 1, "random seed: the same seed writes the same bytes")
	out := fs.String("out", "", "output directory (required)")
	grid := fs.Bool("grid", false, "write the 200 m grid at france scale too (≈ 2.3 M rows; always written at the smaller scales)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("generate: --out DIR is required")
	}
	start := time.Now()
	m, err := generate.Run(ctx, generate.Options{Scale: *scale, Seed: *seed, Dir: *out, Grid: *grid, Logger: newLogger(getenv, stderr)})
	if err != nil {
		return err
	}
	for _, f := range m.Files {
		extra := ""
		if f.Election != "" {
			extra = " " + f.Election + "/" + strconv.Itoa(f.Round)
		}
		fmt.Fprintf(stdout, "%-10s %-56s %9d rows %12d bytes%s\n", f.Kind, f.Path, f.Rows, f.Bytes, extra)
	}
	fmt.Fprintf(stdout, "%d communes, %d bureaux, %d IRIS, %d grid cells, %.0f individuals in %s\n",
		m.Totals.Communes, m.Totals.Bureaux, m.Totals.IRIS, m.Totals.Cells, m.Totals.Ind, time.Since(start).Round(time.Millisecond))
	return nil
}
