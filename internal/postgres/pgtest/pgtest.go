// Package pgtest gives each test its own PostGIS database, cloned from a migrated
// template, and dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/migrations"
)

// AdminURL returns TEST_DATABASE_URL, or skips the test (fails it under REQUIRE_DB=1).
func AdminURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		if os.Getenv("REQUIRE_DB") == "1" {
			t.Fatal("REQUIRE_DB=1 but TEST_DATABASE_URL is empty")
		}
		t.Skip("TEST_DATABASE_URL not set: run make test")
	}
	return admin
}

// New returns a store on a fresh clone of the migrated template, dropped when the test
// ends, and the URL of that database.
func New(t testing.TB) (*postgres.DB, string) {
	t.Helper()
	admin := AdminURL(t)
	tmpl := template(t, admin)
	name := "test_" + strings.ToLower(rand.Text()[:16])
	exec(t, admin, fmt.Sprintf(`CREATE DATABASE %q TEMPLATE %q`, name, tmpl))
	t.Cleanup(func() { exec(t, admin, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, name)) })
	u := withDatabase(t, admin, name)
	db, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db, u
}

// Empty returns the URL of a fresh database with no schema at all, dropped when the test
// ends: for tests of the migration runner and of commands that migrate themselves.
func Empty(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	name := "test_" + strings.ToLower(rand.Text()[:16])
	exec(t, admin, fmt.Sprintf(`CREATE DATABASE %q`, name))
	t.Cleanup(func() { exec(t, admin, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, name)) })
	return withDatabase(t, admin, name)
}

var (
	tmplOnce sync.Once
	tmplName string
	tmplErr  error
)

// template builds, once per test binary, a migrated template database named after a
// hash of the migrations, so a changed migration gets a new template.
func template(t testing.TB, admin string) string {
	t.Helper()
	tmplOnce.Do(func() { tmplName, tmplErr = buildTemplate(admin) })
	if tmplErr != nil {
		t.Fatal(tmplErr)
	}
	return tmplName
}

func buildTemplate(admin string) (string, error) {
	ctx := context.Background()
	name := "tmpl_" + migrationsHash()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	// go test runs package binaries in parallel: one builds, the others wait.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7326002)`); err != nil {
		return "", fmt.Errorf("pgtest: lock: %w", err)
	}
	defer conn.Exec(ctx, `SELECT pg_advisory_unlock(7326002)`)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, building)); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %q`, building)); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	u, err := replaceDatabase(admin, building)
	if err != nil {
		return "", err
	}
	db, err := postgres.Open(ctx, u)
	if err != nil {
		return "", err
	}
	_, err = db.Migrate(ctx, migrations.FS)
	db.Close() // a template must have no open connections
	if err != nil {
		return "", fmt.Errorf("pgtest: migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %q RENAME TO %q`, building, name)); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return name, nil
}

func migrationsHash() string {
	h := sha256.New()
	var names []string
	fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(migrations.FS, n)
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func exec(t testing.TB, admin, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

func withDatabase(t testing.TB, admin, name string) string {
	t.Helper()
	u, err := replaceDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func replaceDatabase(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("pgtest: TEST_DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// QueryFloat runs a query returning one number on the database at url, for assertions
// on what a command loaded.
func QueryFloat(t testing.TB, url, sql string, args ...any) float64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v *float64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
	if v == nil {
		return 0
	}
	return *v
}
