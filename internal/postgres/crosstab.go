package postgres

import (
	"context"
	"errors"
	"sync"

	"github.com/coopol/coopol/internal/crosstab"
)

// Crosstab computes q: the election's results and the territory's bureau rows, crossed
// in crosstab.BuildCrosstab. Results and rows are read at once, on two connections:
// a national crosstab spends most of its time decoding rows, and the two overlap.
func (db *DB) Crosstab(ctx context.Context, q crosstab.Query) (*crosstab.Crosstab, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var er *crosstab.ElectionResults
	var rows []crosstab.Row
	var erErr, rowsErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		er, erErr = db.ElectionResults(ctx, q.Election, q.Scope)
	}()
	rows, rowsErr = db.bureauRowList(ctx, q.Scope, q.AreaWeighted)
	wg.Wait()
	if err := errors.Join(erErr, rowsErr); err != nil {
		if erErr != nil {
			return nil, erErr // keeps its kind (errs.ErrNotFound) for errors.Is
		}
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
