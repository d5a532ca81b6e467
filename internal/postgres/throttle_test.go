package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
)

// TestDB_ClaimAttemptConcurrent: 40 simultaneous attempts on one account with a limit
// of 5 let at most 5 through. Counting after the check (the old way) let all 40 pass.
func TestDB_ClaimAttemptConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := pgtest.New(t)
	var passed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errc := make(chan error, 40)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			wait, err := db.ClaimAttempt(ctx, time.Minute, time.Hour,
				postgres.ThrottleKey{Key: postgres.AccountThrottleKey("victim@example.org"), Limit: 5},
				postgres.ThrottleKey{Key: postgres.IPThrottleKey("192.0.2.1"), Limit: 1000})
			if err != nil {
				errc <- err
				return
			}
			if wait == 0 {
				passed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n := passed.Load(); n > 5 || n < 1 {
		t.Fatalf("%d of 40 concurrent attempts passed, want 1 to 5", n)
	}
}

// TestDB_ClaimAttemptDelay: beyond the limit attempts wait 2 s, then 4 s…, rather than
// a lockout; a refused attempt charges no key, and a forgiven account starts afresh.
func TestDB_ClaimAttemptDelay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := pgtest.New(t)
	acct := postgres.ThrottleKey{Key: postgres.AccountThrottleKey("a@example.org"), Limit: 3}
	ip := postgres.ThrottleKey{Key: postgres.IPThrottleKey("192.0.2.2"), Limit: 100}
	for i := range 3 {
		if wait, err := db.ClaimAttempt(ctx, time.Minute, time.Hour, acct, ip); err != nil || wait != 0 {
			t.Fatalf("attempt %d: wait %v, %v", i+1, wait, err)
		}
	}
	wait, err := db.ClaimAttempt(ctx, time.Minute, time.Hour, acct, ip)
	if err != nil || wait < time.Second || wait > 2*time.Second {
		t.Fatalf("4th attempt: wait %v, %v; want about 2 s", wait, err)
	}
	// The refused attempt was not charged to the IP (the account came first and refused).
	if n := pgtest.QueryFloat(t, url, `SELECT attempts::float8 FROM throttle WHERE key = 'ip:192.0.2.2'`); n != 3 {
		t.Errorf("IP attempts = %v, want 3", n)
	}
	// Once the wait is over, the next attempt passes and doubles the next wait.
	pgtest.QueryFloat(t, url, `WITH u AS (UPDATE throttle SET next_at = now() - interval '1 second' WHERE key = 'account:a@example.org' RETURNING 1) SELECT count(*)::float8 FROM u`)
	if wait, err := db.ClaimAttempt(ctx, time.Minute, time.Hour, acct, ip); err != nil || wait != 0 {
		t.Fatalf("after the wait: %v, %v", wait, err)
	}
	if wait, _ := db.ClaimAttempt(ctx, time.Minute, time.Hour, acct, ip); wait < 3*time.Second || wait > 4*time.Second {
		t.Errorf("5th attempt wait %v, want about 4 s", wait)
	}
	if err := db.ForgiveAttempt(ctx, []string{acct.Key}, []string{ip.Key}); err != nil {
		t.Fatal(err)
	}
	if wait, err := db.ClaimAttempt(ctx, time.Minute, time.Hour, acct, ip); err != nil || wait != 0 {
		t.Errorf("after success: wait %v, %v", wait, err)
	}
}
