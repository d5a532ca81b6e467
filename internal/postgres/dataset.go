package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/ingest"
)

// Load names a file about to be loaded and what it replaces.
type Load struct {
	Kind   string            // results, contours, iris, census, grid, filosofi_iris, communes, addresses
	Scope  string            // a later load of the same kind and scope replaces this one
	File   string            // base name, as shown to people
	SHA256 string            // of the file's bytes
	Params map[string]string // flags that change what is loaded (field names, vintage, …)
}

// Loaded is what a kind's loader reports back to load.
type Loaded struct {
	Rows     int64
	Layout   string
	Warnings []ingest.Warning
	Match    *ingest.Match
}

// Dataset is one loaded file, with its provenance.
type Dataset struct {
	ID           int64             `json:"id"`
	Kind         string            `json:"kind"`
	Scope        string            `json:"scope"`
	FileName     string            `json:"file_name"`
	SHA256       string            `json:"sha256"`
	Layout       string            `json:"layout"`
	Params       map[string]string `json:"params"`
	Rows         int64             `json:"rows"`
	Warnings     int64             `json:"warnings"`
	LoadedAt     time.Time         `json:"loaded_at"`
	SupersededAt *time.Time        `json:"superseded_at,omitempty"`
}

const currentDatasetSQL = `SELECT id, sha256, params, layout, rows, report FROM datasets
WHERE kind = $1 AND scope = $2 AND superseded_at IS NULL`

const supersedeSQL = `UPDATE datasets SET superseded_at = now()
WHERE kind = $1 AND scope = $2 AND superseded_at IS NULL`

const insertDatasetSQL = `INSERT INTO datasets (kind, scope, file_name, sha256, params)
VALUES ($1, $2, $3, $4, $5) RETURNING id`

const finishDatasetSQL = `UPDATE datasets SET rows = $2, layout = $3, report = $4 WHERE id = $1`

// load runs fn in one transaction with a new dataset row, replacing the current load of
// the same kind and scope; a file identical to the current load (same bytes, same
// parameters) changes nothing. fn must delete the rows of the scope it replaces and
// insert the new ones; any error from it rolls the whole load back.
func (db *DB) load(ctx context.Context, l Load, fn func(ctx context.Context, tx pgx.Tx, datasetID int64) (Loaded, error)) (*ingest.Report, error) {
	start := time.Now()
	if l.Params == nil {
		l.Params = map[string]string{}
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: load %s: %w", l.File, err)
	}
	defer tx.Rollback(ctx)
	// Two loads of the same scope queue up instead of racing on the unique index.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, l.Kind+"/"+l.Scope); err != nil {
		return nil, fmt.Errorf("postgres: load %s: lock: %w", l.File, err)
	}
	var (
		curID        int64
		curSHA       string
		curParams    map[string]string
		curLayout    string
		curRows      int64
		curReportRaw []byte
	)
	err = tx.QueryRow(ctx, currentDatasetSQL, l.Kind, l.Scope).Scan(&curID, &curSHA, &curParams, &curLayout, &curRows, &curReportRaw)
	switch {
	case err == nil && curSHA == l.SHA256 && maps.Equal(curParams, l.Params):
		rep := &ingest.Report{}
		_ = json.Unmarshal(curReportRaw, rep)
		rep.Kind, rep.File, rep.SHA256, rep.Scope = l.Kind, l.File, l.SHA256, l.Scope
		rep.DatasetID, rep.Rows, rep.Layout, rep.Unchanged = curID, curRows, curLayout, true
		rep.Seconds = time.Since(start).Seconds()
		if rep.Warnings == nil {
			rep.Warnings = []ingest.Warning{}
		}
		return rep, nil
	case err != nil && err != pgx.ErrNoRows:
		return nil, fmt.Errorf("postgres: load %s: %w", l.File, err)
	}
	if _, err := tx.Exec(ctx, supersedeSQL, l.Kind, l.Scope); err != nil {
		return nil, fmt.Errorf("postgres: load %s: %w", l.File, err)
	}
	var id int64
	if err := tx.QueryRow(ctx, insertDatasetSQL, l.Kind, l.Scope, l.File, l.SHA256, l.Params).Scan(&id); err != nil {
		return nil, fmt.Errorf("postgres: load %s: %w", l.File, translate(err))
	}
	res, err := fn(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if res.Warnings == nil {
		res.Warnings = []ingest.Warning{}
	}
	if len(res.Warnings) > 0 {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"dataset_warnings"},
			[]string{"dataset_id", "line", "code", "key", "message"},
			pgx.CopyFromSlice(len(res.Warnings), func(i int) ([]any, error) {
				w := res.Warnings[i]
				var line, key any
				if w.Line > 0 {
					line = w.Line
				}
				if w.Key != "" {
					key = w.Key
				}
				return []any{id, line, w.Code, key, w.Message}, nil
			}))
		if err != nil {
			return nil, fmt.Errorf("postgres: load %s: warnings: %w", l.File, err)
		}
	}
	rep := &ingest.Report{
		Kind: l.Kind, File: l.File, SHA256: l.SHA256, Scope: l.Scope, Layout: res.Layout,
		DatasetID: id, Rows: res.Rows, Warnings: res.Warnings, Match: res.Match,
	}
	stored := *rep
	if len(stored.Warnings) > 200 { // the table keeps them all; the stored report keeps a sample
		stored.Warnings = stored.Warnings[:200]
	}
	if _, err := tx.Exec(ctx, finishDatasetSQL, id, res.Rows, res.Layout, stored); err != nil {
		return nil, fmt.Errorf("postgres: load %s: %w", l.File, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("postgres: load %s: commit: %w", l.File, err)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

const datasetsSQL = `SELECT d.id, d.kind, d.scope, d.file_name, d.sha256, d.layout, d.params, d.rows,
	(SELECT count(*) FROM dataset_warnings w WHERE w.dataset_id = d.id), d.loaded_at, d.superseded_at
FROM datasets d WHERE $1 OR d.superseded_at IS NULL ORDER BY d.kind, d.scope, d.id DESC`

// Datasets lists the current loads, or every load with history true.
func (db *DB) Datasets(ctx context.Context, history bool) ([]Dataset, error) {
	rows, err := db.pool.Query(ctx, datasetsSQL, history)
	if err != nil {
		return nil, fmt.Errorf("postgres: datasets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Dataset, error) {
		var d Dataset
		err := r.Scan(&d.ID, &d.Kind, &d.Scope, &d.FileName, &d.SHA256, &d.Layout, &d.Params, &d.Rows, &d.Warnings, &d.LoadedAt, &d.SupersededAt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: datasets: %w", err)
	}
	return out, nil
}

const datasetWarningsSQL = `SELECT coalesce(line, 0), code, coalesce(key, ''), message
FROM dataset_warnings WHERE dataset_id = $1 ORDER BY line NULLS LAST, code, key`

// DatasetWarnings returns every warning recorded for a dataset.
func (db *DB) DatasetWarnings(ctx context.Context, datasetID int64) ([]ingest.Warning, error) {
	rows, err := db.pool.Query(ctx, datasetWarningsSQL, datasetID)
	if err != nil {
		return nil, fmt.Errorf("postgres: dataset %d warnings: %w", datasetID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ingest.Warning, error) {
		var w ingest.Warning
		err := r.Scan(&w.Line, &w.Code, &w.Key, &w.Message)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: dataset %d warnings: %w", datasetID, err)
	}
	return out, nil
}
