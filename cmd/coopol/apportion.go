package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/coopol/coopol/internal/postgres"
)

// runApportion recomputes the apportionment weights and bureau profiles that are stale.
func runApportion(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apportion", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	force := fs.Bool("force", false, "recompute even when no input changed")
	workers := fs.Int("workers", 0, "goroutines for geometry (default: GOMAXPROCS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(getenv, stderr)
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.ApportionWith(ctx, postgres.ApportionOptions{Force: *force, Workers: *workers, Logger: log})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return fmt.Errorf("apportion: %w", err)
	}
	return nil
}
