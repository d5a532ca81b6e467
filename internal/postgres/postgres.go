// Package postgres is coopol's storage: the connection pool, the migration runner and
// every SQL statement. Only this package imports pgx.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coopol/coopol/internal/errs"
)

// DB is the store; it is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects to url and checks the connection.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return &DB{pool: pool}, nil
}

// Close closes every connection.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// translate turns driver errors into error kinds.
func translate(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return errs.ErrNotFound
	case errors.As(err, &pgErr) && pgErr.Code == "23505": // unique_violation
		return fmt.Errorf("%w: %s", errs.ErrConflict, pgErr.ConstraintName)
	}
	return err
}

const createMigrationsSQL = `CREATE TABLE IF NOT EXISTS schema_migrations (
	name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`

// Migrate applies the migrations of fsys not applied yet, in name order, all in one
// transaction under an advisory lock: concurrent runs wait, a failing file leaves the
// schema untouched.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS) (applied []string, err error) {
	names, err := migrationNames(fsys)
	if err != nil {
		return nil, err
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7326001)`); err != nil {
		return nil, fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, createMigrationsSQL); err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, name := range names {
		tag, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1) ON CONFLICT DO NOTHING`, name)
		if err != nil {
			return nil, fmt.Errorf("postgres: migrate %s: %w", name, err)
		}
		if tag.RowsAffected() == 0 {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("postgres: migrate: %w", err)
		}
		// No arguments: pgx sends the simple protocol, so a file may hold many statements.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return nil, fmt.Errorf("postgres: migrate %s: %w", name, err)
		}
		applied = append(applied, name)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return applied, nil
}

// CheckSchema returns an error naming the first migration of fsys not applied yet, so a
// server never runs on a stale schema.
func (db *DB) CheckSchema(ctx context.Context, fsys fs.FS) error {
	names, err := migrationNames(fsys)
	if err != nil {
		return err
	}
	rows, err := db.pool.Query(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("postgres: schema not migrated (run: coopol migrate): %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres: check schema: %w", err)
	}
	have := make(map[string]bool, len(done))
	for _, n := range done {
		have[n] = true
	}
	for _, n := range names {
		if !have[n] {
			return fmt.Errorf("postgres: migration %s not applied (run: coopol migrate)", n)
		}
	}
	return nil
}

func migrationNames(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("postgres: read migrations: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}
