package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/server"
	"github.com/coopol/coopol/web"
)

// startAppServer serves the whole app with accounts, and relays its e-mails to .eml
// files in the returned directory as the development sender does.
func startAppServer(t *testing.T) (base, mailDir string) {
	t.Helper()
	db, _ := pgtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := db.SeedDemoTerritory(ctx, []string{"92002", "92007"}); err != nil {
		t.Fatal(err)
	}
	static, err := fs.Sub(web.FS, "static")
	if err != nil {
		t.Fatal(err)
	}
	// Cheap hashing parameters: the journeys hash a few passwords per viewport.
	hasher := auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1}, 4)
	hash, err := hasher.Hash(ctx, "mot de passe oublié depuis")
	if err != nil {
		t.Fatal(err)
	}
	national, err := db.NationalTerritory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"390", "1280"} {
		if _, err := db.SignUp(ctx, auth.SignUp{Email: "oubli-" + w + "@example.org", PasswordHash: hash,
			FirstName: "Camille", LastName: "Oubli", TerritoryID: national.ID}); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: server.New(server.Deps{Logger: slog.New(slog.DiscardHandler), Store: db, Web: static,
		Members: db, Hasher: hasher, Cross: db, BaseURL: base}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	mailDir = t.TempDir()
	go mail.Relay(ctx, slog.New(slog.DiscardHandler), db, mail.FileSender{Dir: mailDir, From: "coopol <noreply@coopol.test>"}, 200*time.Millisecond)
	return base, mailDir
}

// screenshotDir is where the page screenshots go: web/e2e/screenshots (git-ignored)
// unless COOPOL_E2E_SCREENSHOTS says otherwise.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("COOPOL_E2E_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestAccountJourneysInChromium runs, at 390×844 and 1280×800, a sympathisant who signs
// up, corrects their profile, downloads then erases their data, and a member who resets
// a forgotten password from the e-mail's link and logs in, all by keyboard. axe-core
// checks every page; each page is photographed at both sizes.
func TestAccountJourneysInChromium(t *testing.T) {
	requireTools(t)
	base, mailDir := startAppServer(t)
	shots := screenshotDir(t)
	out := node(t, 4*time.Minute, "shell.mjs", base, mailDir, shots)
	var r struct {
		Errors  []string
		Steps   []string
		Checked []struct {
			Page, Viewport string
			Violations     []struct {
				ID, Impact, Help string
				Nodes            []string
			}
		}
		Screenshots []string
		Export      struct {
			Profile struct{ Email, Phone string }
		}
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("steps: %s", strings.Join(r.Steps, " → "))
	for _, e := range r.Errors {
		t.Errorf("browser: %s", e)
	}
	pages, minor := map[string]bool{}, 0
	for _, c := range r.Checked {
		pages[c.Page+" @"+c.Viewport] = true
		minor += len(c.Violations)
		for _, v := range c.Violations {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("axe on %s at %s: %s (%s): %s at %v", c.Page, c.Viewport, v.ID, v.Impact, v.Help, v.Nodes)
			}
		}
	}
	t.Logf("axe: %d page checks, %d violations of any impact", len(r.Checked), minor)
	for _, vp := range []string{"390x844", "1280x800"} {
		for _, p := range []string{"accueil", "donnees", "introuvable", "inscription", "inscription-erreurs", "compte",
			"supprimer", "connexion", "oubli", "reinitialiser", "accueil-membre", "refus"} {
			if !pages[p+" @"+vp] {
				t.Errorf("page %s at %s was not checked", p, vp)
			}
			shot := filepath.Join(shots, fmt.Sprintf("%s-%s.png", p, vp))
			if st, err := os.Stat(shot); err != nil || st.Size() < 1000 {
				t.Errorf("screenshot %s: %v", shot, err)
			}
		}
	}
	if r.Export.Profile.Email != "lea-1280@example.org" || r.Export.Profile.Phone != "0698765432" {
		t.Errorf("downloaded data = %+v, want the corrected profile", r.Export.Profile)
	}
}
