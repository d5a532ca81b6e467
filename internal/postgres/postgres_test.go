package postgres_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/migrations"
)

func TestDB_Migrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.Empty(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CheckSchema(ctx, migrations.FS); err == nil {
		t.Fatal("CheckSchema on an empty database: want an error")
	}
	applied, err := db.Migrate(ctx, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[0] != "0001_postgis.sql" {
		t.Fatalf("applied = %v, want 0001_postgis.sql first", applied)
	}
	if err := db.CheckSchema(ctx, migrations.FS); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
	again, err := db.Migrate(ctx, migrations.FS)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", again, err)
	}

	// A failing file leaves the schema untouched: its sibling in the same run is not kept.
	bad := fstest.MapFS{
		"9998_ok.sql":     {Data: []byte(`CREATE TABLE should_not_exist (id int);`)},
		"9999_broken.sql": {Data: []byte(`CREATE TABLE broken (;`)},
	}
	if _, err := db.Migrate(ctx, bad); err == nil || !strings.Contains(err.Error(), "9999_broken.sql") {
		t.Fatalf("Migrate(broken) err = %v, want one naming 9999_broken.sql", err)
	}
	if err := db.CheckSchema(ctx, bad); err == nil || !strings.Contains(err.Error(), "9998_ok.sql") {
		t.Fatalf("after a failed migration, 9998_ok.sql must not be applied: %v", err)
	}
}
