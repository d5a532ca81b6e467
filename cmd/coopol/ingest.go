package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/term"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/tiles"
)

// ingestFile is one file given to `coopol ingest`, hashed before loading.
type ingestFile struct {
	Path     string
	Name     string // base name, recorded as provenance
	SHA256   string
	Size     int64
	Progress *ingest.Progress
}

// Open opens the file; bytes read through it drive the progress display.
func (f *ingestFile) Open() (io.ReadCloser, error) {
	r, err := os.Open(f.Path)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{f.Progress.Reader(r), r}, nil
}

// Load names the dataset this file becomes.
func (f *ingestFile) Load(kind, scope string, params map[string]string) postgres.Load {
	return postgres.Load{Kind: kind, Scope: scope, File: f.Name, SHA256: f.SHA256, Params: params}
}

// loadFunc loads one file into the database, in one transaction.
type loadFunc func(ctx context.Context, db *postgres.DB, f *ingestFile) (*ingest.Report, error)

// kindSpec is one KIND of `coopol ingest`: its flags, declared by setup, and its loader.
type kindSpec struct {
	summary string
	setup   func(fs *flag.FlagSet) loadFunc
}

func ingestKinds() map[string]kindSpec {
	return map[string]kindSpec{
		"results":   resultsKind(),
		"contours":  contoursKind(),
		"iris":      irisKind(),
		"census":    censusKind(),
		"grid":      gridKind(),
		"communes":  communesKind(),
		"addresses": addressesKind(),
	}
}

func ingestUsage() string {
	kinds := ingestKinds()
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: coopol ingest KIND FILE... [flags]\n\nkinds:\n")
	for _, k := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", k, kinds[k].summary)
	}
	b.WriteString("\nRun coopol ingest KIND -h for the flags of a kind.")
	return b.String()
}

func runIngest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, ingestUsage())
		if len(args) == 0 {
			return errors.New("ingest: no KIND given")
		}
		return flag.ErrHelp
	}
	spec, ok := ingestKinds()[args[0]]
	if !ok {
		return fmt.Errorf("ingest: unknown kind %q\n%s", args[0], ingestUsage())
	}
	fs := flag.NewFlagSet("ingest "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	asJSON := fs.Bool("json", false, "print a JSON report per file on stdout; no progress display")
	quiet := fs.Bool("quiet", false, "no progress display")
	derive := fs.Bool("derive", true, "after a load that changed data, rebuild what derives from it (apportionment onto bureaux, tile geometry)")
	load := spec.setup(fs)
	files, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("ingest %s: no FILE given", args[0])
	}
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	showProgress := !*asJSON && !*quiet && isTerminal(stderr)
	changed := false
	for _, path := range files {
		rep, err := ingestOne(ctx, db, load, args[0], path, stderr, showProgress)
		if err != nil {
			return err
		}
		changed = changed || !rep.Unchanged
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				return err
			}
		} else {
			printReport(stdout, rep)
		}
	}
	if changed && *derive {
		// The loads have committed: derived data follow, each skipping what its
		// sources did not change. A failure here leaves the loads in place and says
		// which command finishes the job.
		log := newLogger(getenv, stderr)
		if *asJSON || *quiet {
			log = slog.New(slog.DiscardHandler)
		}
		if _, err := db.ApportionWith(ctx, postgres.ApportionOptions{Logger: log}); err != nil {
			return fmt.Errorf("ingest: loaded, but apportionment failed (run: coopol apportion): %w", err)
		}
		if _, err := (&tiles.Builder{Store: db, Logger: log}).Build(ctx, false); err != nil {
			return fmt.Errorf("ingest: loaded, but the tile build failed (run: coopol tiles build): %w", err)
		}
	}
	return nil
}

func ingestOne(ctx context.Context, db *postgres.DB, load loadFunc, kind, path string, stderr io.Writer, showProgress bool) (*ingest.Report, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", kind, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("ingest %s: %s is a directory", kind, path)
	}
	sum, err := ingest.FileSHA256(path)
	if err != nil {
		return nil, err
	}
	f := &ingestFile{Path: path, Name: filepath.Base(path), SHA256: sum, Size: st.Size()}
	f.Progress = ingest.NewProgress(stderr, showProgress, kind+" "+f.Name, st.Size())
	rep, err := load(ctx, db, f)
	f.Progress.Done()
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func printReport(w io.Writer, r *ingest.Report) {
	state := "loaded"
	if r.Unchanged {
		state = "unchanged (already loaded)"
	}
	fmt.Fprintf(w, "%s %s: %s, %d rows, scope %s", r.Kind, r.File, state, r.Rows, r.Scope)
	if r.Layout != "" {
		fmt.Fprintf(w, ", layout %s", r.Layout)
	}
	fmt.Fprintf(w, ", %d warnings, dataset %d, %.2fs\n", len(r.Warnings), r.DatasetID, r.Seconds)
	if m := r.Match; m != nil {
		fmt.Fprintf(w, "  %d matched %s; %d only in this file%s; %d only in %s%s\n",
			m.Matched, m.Against, len(m.OnlyHere), sample(m.OnlyHere), len(m.OnlyOther), m.Against, sample(m.OnlyOther))
	}
	byCode := map[string]int{}
	for _, wn := range r.Warnings {
		byCode[wn.Code]++
	}
	codes := make([]string, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		first := ""
		for _, wn := range r.Warnings {
			if wn.Code == c {
				first = wn.Message
				if wn.Line > 0 {
					first = fmt.Sprintf("line %d: %s", wn.Line, wn.Message)
				}
				break
			}
		}
		fmt.Fprintf(w, "  warning %s ×%d, e.g. %s\n", c, byCode[c], first)
	}
}

func sample(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	if len(keys) > 5 {
		return " (" + strings.Join(keys[:5], ", ") + ", …)"
	}
	return " (" + strings.Join(keys, ", ") + ")"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
