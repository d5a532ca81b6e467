// Command coopol is the coopol platform: one binary whose subcommands serve the web
// app, migrate the database, ingest French public data and generate synthetic data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/migrations"
)

const usage = `usage: coopol <command> [flags]

commands:
  serve      serve the web app and its API (default address 127.0.0.1:8080)
  migrate    apply the database migrations
  ingest     load a public data file: coopol ingest KIND FILE... [flags]
  generate   write synthetic data in the real formats: coopol generate --scale demo --out DIR
  demo       generate the demo territory and ingest it (what make run does)
  territory  manage sections: coopol territory list|create|add-area|demo
  member     demo accounts and role grants: coopol member demo|grant
  tiles      build the vector tiles' generalised geometry: coopol tiles build [-force]
  bench-tiles  measure tile times and sizes against the naive ST_AsMVT query
  apportion  apportion IRIS and grid counts onto bureaux, rebuild bureau profiles [-force]
  crosstab   a share or abstention by quantile of an indicator: coopol crosstab --election E --round R --indicator I
  target     rank bureaux for between-rounds work: coopol target --election E --round R --favourable UG,LFI
  export     the bureau table: coopol export bureaux --election E --round R --format csv|parquet|arrow|geojson|geoparquet

Run coopol <command> -h for the flags of a command.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "coopol:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case "ingest":
		return runIngest(ctx, args[1:], getenv, stdout, stderr)
	case "generate":
		return runGenerate(ctx, args[1:], getenv, stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], getenv, stdout, stderr)
	case "territory":
		return runTerritory(ctx, args[1:], getenv, stdout, stderr)
	case "member":
		return runMember(ctx, args[1:], getenv, stdout, stderr)
	case "tiles":
		return runTiles(ctx, args[1:], getenv, stdout, stderr)
	case "bench-tiles":
		return runBenchTiles(ctx, args[1:], getenv, stdout, stderr)
	case "apportion":
		return runApportion(ctx, args[1:], getenv, stdout, stderr)
	case "crosstab":
		return runCrosstab(ctx, args[1:], getenv, stdout, stderr)
	case "target":
		return runTarget(ctx, args[1:], getenv, stdout, stderr)
	case "export":
		return runExport(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// newLogger returns the slog logger of a command, on stderr, at COOPOL_LOG_LEVEL.
func newLogger(getenv func(string) string, stderr io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(getenv("COOPOL_LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// parseInterspersed parses flags that may come before, between or after positional
// arguments (`coopol ingest results FILE --election lg2024`), which flag.Parse alone
// does not allow, and returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" { // everything after -- is positional
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// dbFlag declares the -db flag every database command has.
func dbFlag(fs *flag.FlagSet, getenv func(string) string) *string {
	return fs.String("db", getenv("DATABASE_URL"), "PostgreSQL URL (default $DATABASE_URL)")
}

// openStore connects a command to its database and refuses a stale schema, so that no
// command runs its SQL against tables a migration has not made yet.
func openStore(ctx context.Context, url string) (*postgres.DB, error) {
	if err := requireDB(url); err != nil {
		return nil, err
	}
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := db.CheckSchema(ctx, migrations.FS); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func requireDB(url string) error {
	if strings.TrimSpace(url) == "" {
		return errors.New("no database: set DATABASE_URL or pass -db (make db starts a local one)")
	}
	return nil
}
