package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/coopol/coopol/internal/tiles"
)

const tilesUsage = `usage: coopol tiles build [-force] [-db URL]

Builds the generalised geometry of every tile layer (départements, circonscriptions,
communes, bureaux, IRIS) from the loaded contours. Layers whose sources did not change
since their last build are skipped unless -force is given. A running server sees the
new tiles within its version TTL.`

func runTiles(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "build" {
		fmt.Fprintln(stderr, tilesUsage)
		return errors.New("tiles: want a subcommand: build")
	}
	fs := flag.NewFlagSet("tiles build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	force := fs.Bool("force", false, "rebuild every layer, even those whose sources did not change")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	log := newLogger(getenv, stderr)
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := (&tiles.Builder{Store: db, Logger: log}).Build(ctx, *force)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
