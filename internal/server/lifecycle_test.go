package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
)

// TestServer_AccountLifecycle walks one member through sign-up, login, consents, API
// tokens, a password reset read from the development mail sender, data download and
// erasure.
func TestServer_AccountLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	ctx := context.Background()
	w := f.do("POST", "/api/auth/signup", fmt.Sprintf(`{"email":"Lea@Example.org","password":%q,"first_name":"Léa","last_name":"Durand",
		"commune":"92002","consents":[{"purpose":"newsletter","granted":true}]}`, testPassword), "")
	if w.Code != http.StatusAccepted {
		t.Fatalf("signup: %d %s", w.Code, w.Body)
	}
	first := w.Body.String()
	// A registered address answers exactly like a new one (it used to be a 409, which
	// told anyone who is a member), and its owner is told by e-mail.
	w = f.do("POST", "/api/auth/signup", fmt.Sprintf(`{"email":"lea@example.org","password":%q,"first_name":"X","last_name":"Y"}`, testPassword), "")
	if w.Code != http.StatusAccepted || w.Body.String() != first {
		t.Errorf("second sign-up with the same e-mail: %d %s, want the first answer %s", w.Code, w.Body, first)
	}
	if n, err := mail.Flush(ctx, f.db, mail.FileSender{Dir: f.mailDir, From: "coopol <noreply@coopol.test>"}); err != nil || n != 1 {
		t.Fatalf("flush = %d, %v", n, err)
	}
	notices, _ := filepath.Glob(filepath.Join(f.mailDir, "*.eml"))
	if len(notices) != 1 {
		t.Fatalf("mail files after a repeated sign-up: %v", notices)
	}
	if b, _ := os.ReadFile(notices[0]); !strings.Contains(string(b), "To: lea@example.org") || !strings.Contains(string(b), "déjà un") {
		t.Errorf("notice to the account holder: %s", b)
	}
	login := func(pw string) (*http.Cookie, int) {
		w := f.do("POST", "/api/auth/login", fmt.Sprintf(`{"email":"LEA@example.org","password":%q}`, pw), "")
		return cookieOf(w, sessionCookie), w.Code
	}
	w = f.do("POST", "/api/auth/login", fmt.Sprintf(`{"email":"LEA@example.org","password":%q}`, testPassword), "")
	if w.Code != http.StatusOK {
		t.Fatalf("login: %d", w.Code)
	}
	c := cookieOf(w, sessionCookie)
	su := decode[struct {
		ID int64 `json:"member_id"`
	}](t, w)
	if mt, err := f.db.MemberTerritory(ctx, su.ID); err != nil || mt.ID != f.terr["92002"].ID {
		t.Errorf("placed in territory %v, %v; want section 92002", mt, err)
	}
	me := decode[meResponse](t, f.do("GET", "/api/me", "", c.Value))
	if me.Profile.Email != "lea@example.org" || me.Profile.Status != auth.StatusSympathisant || len(me.Consents) != 1 || me.CSRFToken != auth.CSRFToken(c.Value) {
		t.Fatalf("me = %+v", me)
	}
	// An API token works as a bearer, cannot mint tokens, and stops when revoked.
	w = f.do("POST", "/api/tokens", `{"name":"analyse","expires_in_days":7}`, c.Value)
	tk := decode[struct {
		Token    string
		APIToken auth.APIToken `json:"api_token"`
	}](t, w)
	bearer := func(method, path, body string) int {
		r, _ := http.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+tk.Token)
		rec := newRecorder()
		f.h.ServeHTTP(rec, r)
		return rec.Code
	}
	if got := bearer("GET", "/api/me", ""); got != http.StatusOK {
		t.Errorf("bearer /api/me: %d", got)
	}
	if got := bearer("POST", "/api/tokens", ""); got != http.StatusForbidden {
		t.Errorf("token minting a token: %d, want 403", got)
	}
	f.do("DELETE", fmt.Sprintf("/api/tokens/%d", tk.APIToken.ID), "", c.Value)
	if got := bearer("GET", "/api/me", ""); got != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", got)
	}
	// A token minted with the old password must not outlive a password reset.
	w = f.do("POST", "/api/tokens", `{"name":"avant","expires_in_days":7,"scopes":["read","write"]}`, c.Value)
	if w.Code != http.StatusCreated {
		t.Fatalf("token with scopes: %d %s", w.Code, w.Body)
	}
	tk = decode[struct {
		Token    string
		APIToken auth.APIToken `json:"api_token"`
	}](t, w)
	if got := bearer("GET", "/api/me", ""); got != http.StatusOK {
		t.Errorf("second token: %d", got)
	}

	// Password reset: the link travels through the outbox to the file sender.
	if w := f.do("POST", "/api/auth/password-reset", `{"email":"lea@example.org"}`, ""); w.Code != http.StatusAccepted {
		t.Fatalf("reset request: %d", w.Code)
	}
	if w := f.do("POST", "/api/auth/password-reset", `{"email":"nobody@example.org"}`, ""); w.Code != http.StatusAccepted {
		t.Errorf("reset of an unknown e-mail: %d, want the same 202", w.Code)
	}
	if n, err := mail.Flush(ctx, f.db, mail.FileSender{Dir: f.mailDir, From: "coopol <noreply@coopol.test>"}); err != nil || n != 1 {
		t.Fatalf("flush = %d, %v", n, err)
	}
	files, _ := filepath.Glob(filepath.Join(f.mailDir, "*.eml"))
	var msg []byte
	for _, p := range files {
		if b, _ := os.ReadFile(p); strings.Contains(string(b), "/reinitialiser?token=") {
			msg = b
		}
	}
	m := regexp.MustCompile(`/reinitialiser\?token=([A-Za-z0-9_-]{43})`).FindSubmatch(msg)
	if m == nil {
		t.Fatalf("no reset token in %s", msg)
	}
	newPW := "un tout nouveau mot de passe"
	if w := f.do("POST", "/api/auth/password-reset/confirm", fmt.Sprintf(`{"token":%q,"password":%q}`, m[1], newPW), ""); w.Code != http.StatusNoContent {
		t.Fatalf("reset confirm: %d %s", w.Code, w.Body)
	}
	if w := f.do("GET", "/api/me", "", c.Value); w.Code != http.StatusUnauthorized {
		t.Errorf("old session after reset: %d, want 401", w.Code)
	}
	if got := bearer("GET", "/api/me", ""); got != http.StatusUnauthorized {
		t.Errorf("API token after a password reset: %d, want 401", got)
	}
	if _, code := login(testPassword); code != http.StatusUnauthorized {
		t.Errorf("old password: %d", code)
	}
	c, code := login(newPW)
	if code != http.StatusOK {
		t.Fatalf("new password: %d", code)
	}

	// Download everything, then erase.
	x := decode[auth.DataExport](t, f.do("GET", "/api/me/export", "", c.Value))
	if x.Profile.LastName != "Durand" || len(x.Consents) != 1 || len(x.Audit) == 0 {
		t.Errorf("export = %+v", x)
	}
	if w := f.do("DELETE", "/api/me", `{"password":"wrong password!!"}`, c.Value); w.Code != http.StatusForbidden {
		t.Errorf("erase with a wrong password: %d", w.Code)
	}
	if w := f.do("DELETE", "/api/me", fmt.Sprintf(`{"password":%q}`, newPW), c.Value); w.Code != http.StatusNoContent {
		t.Fatalf("erase: %d %s", w.Code, w.Body)
	}
	if _, code := login(newPW); code != http.StatusUnauthorized {
		t.Errorf("login after erasure: %d", code)
	}
	// The development sender's files held her address and her reset link: gone.
	if files, _ := filepath.Glob(filepath.Join(f.mailDir, "*.eml")); len(files) != 0 {
		t.Errorf("mail files left after erasure: %v", files)
	}
	if n := pgtest.QueryFloat(t, f.url, `SELECT count(*)::float8 FROM outbox WHERE strpos(lower(to_addr || body), 'lea@example.org') > 0`); n != 0 {
		t.Errorf("%v outbox rows left after erasure", n)
	}
	es, err := f.db.AuditEntries(ctx, postgres.AuditFilter{MemberID: &su.ID})
	if err != nil || len(es) < 4 || es[0].Action != auth.AuditErase {
		t.Errorf("audit kept after erasure: %d entries, newest %v, %v", len(es), es, err)
	}
}
