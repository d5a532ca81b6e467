// Package realdata locates the real public data files kept beside the repository
// (../shared/data/real), for tests and benchmarks. They are never copied into the
// repository.
package realdata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the directory of the real data sets. A test calling it is skipped when the
// directory is absent (a clone without it), but fails under REQUIRE_DB=1 or CI=true,
// where a skip would hide tests that did not run.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("COOPOL_REAL_DATA"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			real := filepath.Join(dir, "..", "shared", "data", "real")
			if _, err := os.Stat(real); err != nil {
				if os.Getenv("REQUIRE_DB") == "1" || os.Getenv("CI") == "true" {
					t.Fatalf("real data not found at %s (set COOPOL_REAL_DATA)", real)
				}
				t.Skipf("real data not found at %s: these tests need the shared data sets beside the repository", real)
			}
			return real
		}
		if dir == filepath.Dir(dir) {
			t.Fatal("go.mod not found above the test directory")
		}
	}
}

// Path returns the path of a real data file, relative to the real data directory:
// Path(t, "hds9213/lg2024_t1_9213.csv").
func Path(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Dir(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("real data file: %v", err)
	}
	return p
}
