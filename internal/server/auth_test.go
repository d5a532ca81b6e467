package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
	"github.com/coopol/coopol/internal/territory"
)

const testPassword = "mot de passe de test"

// fixture is a small party: fédérations 92 (sections Antony 92002 and Bagneux 92007)
// and 75 (section Paris 75056), and a target member in Antony.
type fixture struct {
	t      *testing.T
	db     *postgres.DB
	url    string // of the test database, for seeding
	h      http.Handler
	hasher *auth.Hasher
	hash   string // of testPassword
	terr   map[string]territory.Territory
	target int64 // a member of Antony
	n      atomic.Int64
	// mailDir is the development sender's directory the server purges on erasure.
	mailDir string
}

func newFixture(t *testing.T, th auth.Throttle) *fixture {
	t.Helper()
	ctx := context.Background()
	db, url := pgtest.New(t)
	if err := db.SeedDemoTerritory(ctx, []string{"92002", "92007", "75056"}); err != nil {
		t.Fatal(err)
	}
	hasher := auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1}, 4)
	f := &fixture{t: t, db: db, url: url, hasher: hasher, terr: map[string]territory.Territory{}, mailDir: t.TempDir()}
	var err error
	if f.hash, err = hasher.Hash(ctx, testPassword); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"FR", "92", "75", "92002", "92007", "75056"} {
		if f.terr[c], err = db.TerritoryByCode(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	f.h = New(Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: db, Members: db,
		Hasher: hasher, Throttle: th, BaseURL: "http://coopol.test", Cross: db, MailDir: f.mailDir})
	f.target = f.member("", "92002")
	return f
}

// member creates a member in the section or fédération code with role (none when ""),
// who consented to being contacted by their section, and returns their id.
func (f *fixture) member(role auth.Role, code string) int64 {
	f.t.Helper()
	ctx := context.Background()
	n := f.n.Add(1)
	id, err := f.db.SignUp(ctx, auth.SignUp{Email: fmt.Sprintf("m%d@example.org", n), PasswordHash: f.hash,
		FirstName: "Prénom", LastName: fmt.Sprintf("Nom%d", n), Phone: "0601020304", Address: "1 place de la Mairie",
		TerritoryID: f.terr[code].ID, Consents: []auth.Consent{{Purpose: auth.PurposeSectionContact, Granted: true}}})
	if err != nil {
		f.t.Fatal(err)
	}
	if role != "" && role != auth.RoleSympathisant { // sign-up already made them sympathisant
		if _, err := f.db.CreateGrant(ctx, auth.Grant{MemberID: id, TerritoryID: f.terr[code].ID, Role: role}, ""); err != nil {
			f.t.Fatal(err)
		}
	}
	return id
}

// session opens a session for member id and returns its cookie token.
func (f *fixture) session(id int64) string {
	f.t.Helper()
	tok, hash := auth.NewToken()
	if err := f.db.CreateSession(context.Background(), postgres.Session{MemberID: id, TokenHash: hash, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// do sends a request as the holder of session token tok ("" for anonymous), with the
// CSRF header a well-behaved page would send.
func (f *fixture) do(method, path, body, tok string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:1234"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: tok})
		r.Header.Set(csrfHeader, auth.CSRFToken(tok))
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func (f *fixture) email(id int64) string {
	p, err := f.db.Profile(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return p.Email
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
	return v
}
