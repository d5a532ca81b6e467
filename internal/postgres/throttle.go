package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/auth"
)

// The throttle keys. Login and the password re-check of account erasure share the
// account and IP counters: both guess the same password.
func AccountThrottleKey(email string) string { return "account:" + auth.NormalizeEmail(email) }

// IPThrottleKey counts password checks from one address.
func IPThrottleKey(ip string) string { return "ip:" + ip }

// ResetThrottleKey counts password-reset requests for one address.
func ResetThrottleKey(email string) string { return "reset:" + auth.NormalizeEmail(email) }

// ResetIPThrottleKey counts password-reset requests from one IP.
func ResetIPThrottleKey(ip string) string { return "reset-ip:" + ip }

// SignUpIPThrottleKey counts sign-ups from one IP.
func SignUpIPThrottleKey(ip string) string { return "signup-ip:" + ip }

// ThrottleKey is one counter an attempt is charged to, with its limit per window.
type ThrottleKey struct {
	Key   string // "login-account:alice@example.org", "login-ip:192.0.2.1"
	Limit int
}

// claimSQL charges one attempt to a key in a single statement: the row lock of
// INSERT … ON CONFLICT serialises concurrent attempts, so of 40 simultaneous ones only
// those the counter allows get a row back. An attempt is refused (no row) while the
// key's next_at lies ahead; a window older than $2 starts afresh.
const claimSQL = `INSERT INTO throttle AS t (key, attempts, window_start, next_at)
VALUES ($1, 1, now(), coopol_throttle_next(1, $3, $4))
ON CONFLICT (key) DO UPDATE SET
    attempts = CASE WHEN t.window_start <= now() - $2::interval THEN 1 ELSE t.attempts + 1 END,
    window_start = CASE WHEN t.window_start <= now() - $2::interval THEN now() ELSE t.window_start END,
    next_at = coopol_throttle_next(CASE WHEN t.window_start <= now() - $2::interval THEN 1 ELSE t.attempts + 1 END, $3, $4)
WHERE t.next_at <= now() OR t.window_start <= now() - $2::interval
RETURNING attempts`

// ClaimAttempt charges one attempt to every key, all or none, before the guarded check
// runs. It returns 0 when the attempt may proceed, else how long to wait: then no key
// is charged.
func (db *DB) ClaimAttempt(ctx context.Context, window, maxDelay time.Duration, keys ...ThrottleKey) (time.Duration, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: throttle: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL ROLE coopol_system`); err != nil {
		return 0, fmt.Errorf("postgres: set role: %w", err)
	}
	for _, k := range keys {
		var n int
		err := tx.QueryRow(ctx, claimSQL, k.Key, window, k.Limit, maxDelay.Seconds()).Scan(&n)
		if err == nil {
			continue
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("postgres: throttle %s: %w", k.Key, err)
		}
		var next time.Time
		if err := tx.QueryRow(ctx, `SELECT next_at FROM throttle WHERE key = $1`, k.Key).Scan(&next); err != nil {
			return 0, fmt.Errorf("postgres: throttle %s: %w", k.Key, err)
		}
		return max(time.Until(next), time.Second), nil // the rollback uncharges earlier keys
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: throttle: %w", err)
	}
	return 0, nil
}

// ForgiveAttempt takes back the attempt charged to keys: a successful login clears
// its account's counter and does not count against its IP.
func (db *DB) ForgiveAttempt(ctx context.Context, clear []string, refund []string) error {
	return db.asSystem(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM throttle WHERE key = ANY ($1)`, clear); err != nil {
			return fmt.Errorf("postgres: throttle: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE throttle SET attempts = greatest(attempts - 1, 0) WHERE key = ANY ($1)`, refund); err != nil {
			return fmt.Errorf("postgres: throttle: %w", err)
		}
		// Windows long over no longer count; dropping them here keeps the table small.
		if _, err := tx.Exec(ctx, `DELETE FROM throttle WHERE window_start < now() - interval '1 day' AND next_at < now()`); err != nil {
			return fmt.Errorf("postgres: throttle: %w", err)
		}
		return nil
	})
}
