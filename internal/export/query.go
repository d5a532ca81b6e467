package export

import (
	"context"
	"fmt"
	"io"

	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
)

// Source is what an export reads; *postgres.DB satisfies it.
type Source interface {
	ElectionResults(ctx context.Context, e electoral.Election, s crosstab.Scope) (*crosstab.ElectionResults, error)
	BureauRows(ctx context.Context, s crosstab.Scope, opt crosstab.RowOptions, fn func(*crosstab.Row) error) error
}

// Query is one export of the bureau table.
type Query struct {
	Format        string
	Elections     []electoral.Election
	Scope         crosstab.Scope
	Options       Options
	Score         *crosstab.ScoreParams // targeting columns, computed on Elections[0]
	Reference     *electoral.Election
	MinPopulation float64
	AreaWeighted  bool
}

// Validate checks the query before anything is written.
func (q Query) Validate() error {
	if _, ok := Formats[q.Format]; !ok {
		return fmt.Errorf("export: format %q: want csv, parquet, arrow, geojson or geoparquet: %w", q.Format, errs.ErrInvalid)
	}
	if q.Score != nil && len(q.Elections) == 0 {
		return fmt.Errorf("export: scores need an election: %w", errs.ErrInvalid)
	}
	if q.MinPopulation < 0 {
		return fmt.Errorf("export: negative population threshold: %w", errs.ErrInvalid)
	}
	return q.Scope.Validate()
}

// Bureaux writes the bureau table of q to w and returns the number of rows.
func Bureaux(ctx context.Context, src Source, q Query, w io.Writer) (int, error) {
	if err := q.Validate(); err != nil {
		return 0, err
	}
	t := &BureauTable{Score: q.Score, MinPopulation: q.MinPopulation}
	extra := map[string]*crosstab.Result{}
	for _, e := range q.Elections {
		er, err := src.ElectionResults(ctx, e, q.Scope)
		if err != nil {
			return 0, err
		}
		t.Elections = append(t.Elections, er)
		for k, r := range er.ByBureau {
			extra[k] = r
		}
	}
	if q.Reference != nil {
		ref, err := src.ElectionResults(ctx, *q.Reference, q.Scope)
		if err != nil {
			return 0, err
		}
		t.Reference = ref
	}
	geom := q.Options.Geometry || q.Format == "geojson" || q.Format == "geoparquet"
	wr, err := NewWriter(q.Format, w, t.Columns(), q.Options)
	if err != nil {
		return 0, err
	}
	var row []Value
	n := 0
	err = src.BureauRows(ctx, q.Scope, crosstab.RowOptions{Geometry: geom, AreaWeighted: q.AreaWeighted, Extra: extra}, func(r *crosstab.Row) error {
		row = t.Values(r, row)
		n++
		return wr.Write(row, r.Geom)
	})
	if err != nil {
		return n, err
	}
	return n, wr.Close()
}

// AuditAction is the audit-log action of a data export (the auth package names the
// member-data ones).
const AuditAction = "data.export"
