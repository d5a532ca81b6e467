// Package generate writes a synthetic French territory in the exact formats of the
// public sources coopol ingests: communes, bureau contours, IRIS contours, census,
// Filosofi grid and IRIS income, BAN addresses and election results in the legacy
// and 2024 layouts. The data are coherent (a bureau's registered voters follow the
// population of the grid cells it contains; IRIS census counts are sums of the same
// cells) and deterministic: one seed always gives byte-identical files.
package generate

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/coopol/coopol/internal/projection"
)

// Options chooses what Run writes.
type Options struct {
	// Scale is "demo" (≈ 6 communes, 60 bureaux), "department" (≈ 300 communes, 1,000
	// bureaux, with a Paris-like 75056) or "france" (≈ 35,000 communes, 69,000 bureaux).
	Scale string
	// Seed drives every random draw: the same seed gives the same bytes.
	Seed uint64
	// Dir is the output directory, created if missing.
	Dir string
	// Grid writes the Filosofi 200 m grid at france scale (≈ 2.3 M rows); the smaller
	// scales always write it.
	Grid bool
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

// Manifest describes the files written, for coopol ingest, tests and benchmarks. It is
// also written as manifest.json in the output directory.
type Manifest struct {
	Generator string `json:"generator"`
	Scale     string `json:"scale"`
	Seed      uint64 `json:"seed"`
	Files     []File `json:"files"`
	Totals    Totals `json:"totals"`
}

// File is one written file. Kind is the coopol ingest KIND that loads it.
type File struct {
	Path        string `json:"path"`
	Kind        string `json:"kind"`
	Format      string `json:"format"`
	Encoding    string `json:"encoding"`
	Election    string `json:"election,omitempty"`
	Round       int    `json:"round,omitempty"`
	Departement string `json:"departement,omitempty"`
	Rows        int    `json:"rows"`
	Bytes       int64  `json:"bytes"`
	SHA256      string `json:"sha256"`
	// Results files: sums over their rows.
	Inscrits int64 `json:"inscrits,omitempty"`
	Votants  int64 `json:"votants,omitempty"`
	Exprimes int64 `json:"exprimes,omitempty"`
	// Bureau keys of a results file that have no contour (the contours are frozen, the
	// bureau set is not).
	WithoutContour []string `json:"without_contour,omitempty"`
}

// Totals are the expected counts after loading every file.
type Totals struct {
	Communes         int     `json:"communes"`        // commune-actuelle records
	Arrondissements  int     `json:"arrondissements"` // arrondissement-municipal records
	Departements     int     `json:"departements"`
	Bureaux          int     `json:"bureaux"` // contour features
	Circonscriptions int     `json:"circonscriptions"`
	IRIS             int     `json:"iris"`
	Cells            int     `json:"cells"`     // grid rows written (0 without the grid)
	GridInd          float64 `json:"grid_ind"`  // Σ ind over the grid rows written
	Ind              float64 `json:"ind"`       // Σ ind over every populated cell, written or not
	P20Pop           float64 `json:"p20_pop"`   // Σ P20_POP of the census file
	Addresses        int     `json:"addresses"` // BAN rows over all files
}

// generator holds the state of one Run.
type generator struct {
	opts   Options
	scale  scale
	seed   uint64
	laea   *projection.LAEA
	l93    *projection.Lambert93
	t      *territory
	log    *slog.Logger
	files  []File
	totals Totals
	men    []int32 // households per cell, tenths, for the 1 km flags of the grid
	cellsW bool    // whether the grid is written
}

// Run generates the territory and writes every file into opts.Dir.
func Run(ctx context.Context, opts Options) (Manifest, error) {
	sc, err := scaleParams(opts.Scale)
	if err != nil {
		return Manifest{}, err
	}
	if opts.Dir == "" {
		return Manifest{}, fmt.Errorf("generate: no output directory")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("generate: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &generator{opts: opts, scale: sc, seed: opts.Seed, laea: projection.NewLAEA3035(), l93: projection.NewLambert93(), log: log,
		cellsW: sc.name != "france" || opts.Grid}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"territory", func(context.Context) error { return g.buildTerritory() }},
		{"cells", g.cellPass},
		{"communes", g.writeCommunes},
		{"contours", g.writeContours},
		{"iris", g.writeIRISContours},
		{"census", g.writeCensus},
		{"filosofi iris", g.writeFilosofiIRIS},
		{"addresses", g.writeAddresses},
		{"results", g.writeResults},
	}
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return Manifest{}, fmt.Errorf("generate: %w", err)
		}
		start := time.Now()
		if err := st.fn(ctx); err != nil {
			return Manifest{}, err
		}
		log.InfoContext(ctx, "generated", "step", st.name, "duration", time.Since(start).Round(time.Millisecond))
	}
	m := Manifest{Generator: "coopol generate", Scale: sc.name, Seed: opts.Seed, Files: g.files, Totals: g.totals}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("generate: manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(opts.Dir, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		return Manifest{}, fmt.Errorf("generate: manifest: %w", err)
	}
	return m, nil
}

// output is a file being written: buffered, hashed and counted on the way.
type output struct {
	f     *os.File
	w     *bufio.Writer
	h     hash.Hash
	n     int64
	entry File
	g     *generator
}

func (o *output) Write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	o.h.Write(p[:n])
	o.n += int64(n)
	return n, err
}

// create opens a file of the output directory; close records it in the manifest.
func (g *generator) create(name, kind, format, encoding string) (*output, error) {
	f, err := os.Create(filepath.Join(g.opts.Dir, name))
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	o := &output{f: f, h: sha256.New(), g: g, entry: File{Path: name, Kind: kind, Format: format, Encoding: encoding}}
	o.w = bufio.NewWriterSize(o, 1<<20)
	return o, nil
}

var _ io.Writer = (*output)(nil)

// close flushes the file and adds it to the manifest.
func (o *output) close() error {
	if err := o.w.Flush(); err != nil {
		o.f.Close()
		return fmt.Errorf("generate: %s: %w", o.entry.Path, err)
	}
	if err := o.f.Close(); err != nil {
		return fmt.Errorf("generate: %s: %w", o.entry.Path, err)
	}
	o.entry.Bytes = o.n
	o.entry.SHA256 = hex.EncodeToString(o.h.Sum(nil))
	o.g.files = append(o.g.files, o.entry)
	return nil
}
