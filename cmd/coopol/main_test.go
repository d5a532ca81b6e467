package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coopol/coopol/internal/postgres/pgtest"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRun_ServeRefusesStaleSchema: serve on an unmigrated database must stop with a
// message telling what to run, not serve errors.
func TestRun_ServeRefusesStaleSchema(t *testing.T) {
	t.Parallel()
	url := pgtest.Empty(t)
	var out, errb syncBuffer
	err := run(t.Context(), []string{"serve", "-db", url, "-addr", freeAddr(t)}, env(nil), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "coopol migrate") {
		t.Fatalf("serve on empty database: err = %v, want one saying to run coopol migrate", err)
	}
}

// TestRun_MigrateServe runs the binary's own entry point end to end: migrate, serve on
// 127.0.0.1, poll /healthz, read the home page, the datasets page and API, then shut down.
func TestRun_MigrateServe(t *testing.T) {
	t.Parallel()
	url := pgtest.Empty(t)
	var out, errb syncBuffer
	if err := run(t.Context(), []string{"migrate", "-db", url}, env(nil), &out, &errb); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "applied 0001_postgis.sql") {
		t.Fatalf("migrate output = %q", out.String())
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, env(map[string]string{"DATABASE_URL": url, "COOPOL_ADDR": addr}), &out, &errb)
	}()
	base := "http://" + addr
	waitHealthy(t, base, done)

	if body := get(t, base+"/", http.StatusOK); !strings.Contains(body, `href="/connexion"`) {
		t.Errorf("home page without a link to log in:\n%s", body)
	}
	body := get(t, base+"/donnees", http.StatusOK)
	if !strings.Contains(body, "Données chargées") || !strings.Contains(body, "Aucune donnée chargée") {
		t.Errorf("datasets page on an empty database:\n%s", body)
	}
	var ds []map[string]any
	if err := json.Unmarshal([]byte(get(t, base+"/api/datasets", http.StatusOK)), &ds); err != nil || len(ds) != 0 {
		t.Errorf("/api/datasets = %v, %v; want an empty list", ds, err)
	}
	get(t, base+"/api/datasets/abc/warnings", http.StatusBadRequest)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after its context ended")
	}
}

func waitHealthy(t *testing.T, base string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve stopped early: %v", err)
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("server never became healthy")
}

func get(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s = %d, want %d: %s", url, resp.StatusCode, want, b)
	}
	return string(b)
}

func TestRun_Usage(t *testing.T) {
	var out, errb syncBuffer
	if err := run(t.Context(), nil, env(nil), &out, &errb); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no arguments: err = %v, want usage", err)
	}
	if err := run(t.Context(), []string{"frobnicate"}, env(nil), &out, &errb); err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: err = %v", err)
	}
	if err := run(t.Context(), []string{"migrate"}, env(nil), &out, &errb); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("migrate without database: err = %v", err)
	}
	if err := run(t.Context(), []string{"ingest", "nosuchkind", "x"}, env(nil), &out, &errb); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("ingest unknown kind: err = %v", err)
	}
}
