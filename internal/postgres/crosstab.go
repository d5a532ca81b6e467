package postgres

import (
	"context"

	"github.com/coopol/coopol/internal/crosstab"
)

// Crosstab computes q: the election's results and the territory's bureau rows, crossed
// in crosstab.BuildCrosstab.
func (db *DB) Crosstab(ctx context.Context, q crosstab.Query) (*crosstab.Crosstab, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	er, err := db.ElectionResults(ctx, q.Election, q.Scope)
	if err != nil {
		return nil, err
	}
	rows, err := db.bureauRowList(ctx, q.Scope, q.AreaWeighted)
	if err != nil {
		return nil, err
	}
	c := crosstab.BuildCrosstab(q, er, rows)
	return &c, nil
}

// bureauRowList reads the territory's rows, without geometry, into a slice.
func (db *DB) bureauRowList(ctx context.Context, s crosstab.Scope, area bool) ([]crosstab.Row, error) {
	var rows []crosstab.Row
	err := db.BureauRows(ctx, s, crosstab.RowOptions{AreaWeighted: area}, func(r *crosstab.Row) error {
		rows = append(rows, *r)
		return nil
	})
	return rows, err
}
