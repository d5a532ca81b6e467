package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coopol/coopol/internal/auth"
)

// auditRow is an audit entry about to be written, inside the transaction of the act it
// records: if the entry cannot be written, the act does not happen.
type auditRow struct {
	actor     *int64
	action    string
	target    *int64
	territory *int64
	ip        string
	details   map[string]any
}

func insertAudit(ctx context.Context, tx pgx.Tx, a auditRow) error {
	if a.details == nil {
		a.details = map[string]any{}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log (actor_id, action, target_id, territory_id, ip, details)
		VALUES ($1, $2, $3, $4, $5, $6)`, a.actor, a.action, a.target, a.territory, a.ip, a.details); err != nil {
		return fmt.Errorf("postgres: audit %s: %w", a.action, err)
	}
	return nil
}

// AuditFilter selects audit entries; nil fields do not filter.
type AuditFilter struct {
	Under    *int64 // entries about this territory or below, and entries without one when nil
	Action   *string
	MemberID *int64 // as actor or as target
	BeforeID *int64 // paging: entries older than this id
	Limit    int
}

const auditColumns = `a.id, a.at, a.actor_id, a.action, a.target_id, a.territory_id, a.ip, a.details`

const auditEntriesSQL = `SELECT ` + auditColumns + ` FROM audit_log a
LEFT JOIN territories t ON t.id = a.territory_id
WHERE ($1::bigint IS NULL OR $1 = ANY (t.ancestors))
  AND ($2::text IS NULL OR a.action = $2)
  AND ($3::bigint IS NULL OR a.actor_id = $3 OR a.target_id = $3)
  AND ($4::bigint IS NULL OR a.id < $4)
ORDER BY a.id DESC LIMIT $5`

// AuditEntries returns audit entries matching f, newest first.
func (db *DB) AuditEntries(ctx context.Context, f AuditFilter) ([]auth.AuditEntry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	rows, err := db.pool.Query(ctx, auditEntriesSQL, f.Under, f.Action, f.MemberID, f.BeforeID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit: %w", err)
	}
	es, err := pgx.CollectRows(rows, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit: %w", err)
	}
	return es, nil
}

func scanAudit(r pgx.CollectableRow) (auth.AuditEntry, error) {
	var e auth.AuditEntry
	err := r.Scan(&e.ID, &e.At, &e.ActorID, &e.Action, &e.TargetID, &e.TerritoryID, &e.IP, &e.Details)
	return e, err
}

// Audit writes one entry outside any other transaction (a failed login, a logout).
func (db *DB) Audit(ctx context.Context, e auth.AuditEntry) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: audit: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := insertAudit(ctx, tx, auditRow{actor: e.ActorID, action: e.Action, target: e.TargetID,
		territory: e.TerritoryID, ip: e.IP, details: e.Details}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// pgErrCode returns the SQLSTATE of a PostgreSQL error in err's chain, or "".
func pgErrCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// prefixed qualifies a comma-separated column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = alias + p
	}
	return strings.Join(parts, ", ")
}

// AuditEach writes several entries in one transaction, all or none: a request touching
// several territories is on record in each.
func (db *DB) AuditEach(ctx context.Context, es []auth.AuditEntry) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		for _, e := range es {
			if err := insertAudit(ctx, tx, auditRow{actor: e.ActorID, action: e.Action, target: e.TargetID,
				territory: e.TerritoryID, ip: e.IP, details: e.Details}); err != nil {
				return err
			}
		}
		return nil
	})
}
