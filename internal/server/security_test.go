package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/postgres"
)

func TestServer_CSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	id := f.member(auth.RoleAdherent, "92002")
	tok := f.session(id)
	other := f.session(f.member("", "92002"))
	body := `{"consents":[{"purpose":"sms","granted":true}]}`
	send := func(header map[string]string, bearer string) int {
		r := httptest.NewRequest("POST", "/api/me/consents", strings.NewReader(body))
		if bearer == "" {
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: tok})
		} else {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		for k, v := range header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w.Code
	}
	apiTok, hash := auth.NewAPIToken()
	if _, err := f.db.CreateAPIToken(context.Background(), id, "script", []auth.Scope{auth.ScopeRead, auth.ScopeWrite}, hash, time.Now().Add(time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		header map[string]string
		bearer string
		want   int
	}{
		{"no token", nil, "", http.StatusForbidden},
		{"another session's token", map[string]string{csrfHeader: auth.CSRFToken(other)}, "", http.StatusForbidden},
		{"the session token itself", map[string]string{csrfHeader: tok}, "", http.StatusForbidden},
		{"right token", map[string]string{csrfHeader: auth.CSRFToken(tok)}, "", http.StatusOK},
		{"right token but cross-site", map[string]string{csrfHeader: auth.CSRFToken(tok), "Sec-Fetch-Site": "cross-site"}, "", http.StatusForbidden},
		{"right token but foreign Origin", map[string]string{csrfHeader: auth.CSRFToken(tok), "Origin": "https://evil.example"}, "", http.StatusForbidden},
		{"API token needs no CSRF token", nil, apiTok, http.StatusOK},
		{"revoked-looking API token", nil, apiTok + "x", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		if got := send(tc.header, tc.bearer); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	// Login CSRF: a cross-site form cannot sign the victim into the attacker's account.
	r := httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, f.email(id), testPassword)))
	r.Header.Set("Origin", "https://evil.example")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Errorf("cross-origin login: %d, want 403", w.Code)
	}
}

func cookieOf(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestServer_SessionFixation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	victim := f.member(auth.RoleSectionSecretary, "92002")
	attacker := f.member("", "75056")
	planted := map[string]string{
		"unknown id chosen by the attacker": "attacker-chosen-session-id",
		"attacker's own live session":       f.session(attacker),
	}
	for name, fixed := range planted {
		r := httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, f.email(victim), testPassword)))
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: fixed})
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: login %d %s", name, w.Code, w.Body)
		}
		c := cookieOf(w, sessionCookie)
		if c == nil || c.Value == fixed || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
			t.Fatalf("%s: session cookie %+v: want a new HttpOnly, Lax, non-Secure (plain http) cookie", name, c)
		}
		// The planted id opens nothing: not the victim's account, and not the attacker's either.
		if w := f.do("GET", "/api/me", "", fixed); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: planted id after login: %d, want 401", name, w.Code)
		}
		if w := f.do("GET", "/api/me", "", c.Value); w.Code != http.StatusOK {
			t.Errorf("%s: new session: %d", name, w.Code)
		}
	}
	// Secure behind a TLS-terminating proxy.
	r := httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, f.email(victim), testPassword)))
	r.Header.Set("X-Forwarded-Proto", "https")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if c := cookieOf(w, sessionCookie); c == nil || !c.Secure {
		t.Errorf("cookie over https: %+v, want Secure", c)
	}
}

func TestServer_LoginThrottle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Throttle{Window: time.Minute, AccountLimit: 3, IPLimit: 6})
	login := func(email, pw, ip string) int {
		r := httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, pw)))
		r.RemoteAddr = ip + ":5555"
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w.Code
	}
	victim := f.email(f.member("", "92002"))
	for i := range 3 {
		if got := login(victim, "wrong password", fmt.Sprintf("198.51.100.%d", i)); got != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, got)
		}
	}
	// Per account: even the right password, from a fresh IP, waits.
	if got := login(victim, testPassword, "203.0.113.9"); got != http.StatusTooManyRequests {
		t.Errorf("account after 3 failures: %d, want 429", got)
	}
	// Per IP: spraying many accounts from one address.
	for i := range 6 {
		login(fmt.Sprintf("spray%d@example.org", i), "wrong password", "198.51.100.200")
	}
	fresh := f.email(f.member("", "92002"))
	if got := login(fresh, testPassword, "198.51.100.200"); got != http.StatusTooManyRequests {
		t.Errorf("IP after 6 failures: %d, want 429", got)
	}
	if got := login(fresh, testPassword, "198.51.100.201"); got != http.StatusOK {
		t.Errorf("same account from another IP: %d, want 200", got)
	}
	// A throttled attempt is audited as a failure.
	es, err := f.db.AuditEntries(context.Background(), postgres.AuditFilter{Action: ptr(auth.AuditLoginFailure)})
	if err != nil || len(es) < 10 {
		t.Errorf("audited failures = %d, %v", len(es), err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestServer_SQLInjection sends classic payloads in every kind of parameter: path ids,
// query strings and JSON fields. Each must be refused as bad input or simply not
// match, never a 500, and the members table must be intact afterwards.
func TestServer_SQLInjection(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	admin := f.member(auth.RoleAdmin, "FR")
	payloads := []string{`1 OR 1=1`, `1; DROP TABLE members; --`, `' OR '1'='1`, `1' UNION SELECT email FROM members --`,
		`$1`, `%27%20OR%201%3D1`, `92002'); DELETE FROM audit_log; --`, "\x00", `0x1`, `-1`, `99999999999999999999`}
	ctx := context.Background()
	before, err := f.db.Members(ctx, admin, postgres.MemberFilter{Under: f.terr["FR"].ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range payloads {
		q := urlEscape(p)
		reqs := []struct{ method, path, body string }{
			{"GET", "/api/members/" + q, ""},
			{"POST", "/api/members/" + q + "/contact", ""},
			{"GET", "/api/members?territory=" + q, ""},
			{"GET", "/api/members?territory=1&limit=" + q, ""},
			{"GET", "/api/members/export?territory=" + q, ""},
			{"GET", "/api/territories/" + q, ""},
			{"GET", "/api/territories?under=" + q + "&kind=" + q, ""},
			{"DELETE", "/api/territories/1/areas?commune=" + q + "&bureau=" + q, ""},
			{"DELETE", "/api/roles/grants/" + q, ""},
			{"DELETE", "/api/tokens/" + q, ""},
			{"GET", "/api/roles/grants?territory=" + q, ""},
			{"GET", "/api/audit?action=" + q + "&member=" + q, ""},
			{"GET", "/api/audit?action=" + q, ""},
			{"POST", "/api/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, p, p)},
			{"POST", "/api/auth/signup", fmt.Sprintf(`{"email":%q,"password":%q,"first_name":%q,"last_name":%q,"commune":%q}`, p, p, p, p, p)},
			{"POST", "/api/auth/password-reset", fmt.Sprintf(`{"email":%q}`, p)},
			{"POST", "/api/auth/password-reset/confirm", fmt.Sprintf(`{"token":%q,"password":"assez long pour passer"}`, p)},
			{"POST", "/api/territories", fmt.Sprintf(`{"kind":%q,"code":%q,"name":%q,"parent_id":1}`, p, p, p)},
			{"POST", "/api/territories/1/areas", fmt.Sprintf(`{"areas":[{"commune":%q,"bureau":%q}]}`, p, p)},
			{"POST", "/api/roles/grants", fmt.Sprintf(`{"member_id":1,"territory_id":1,"role":%q}`, p)},
			{"POST", "/api/tokens", fmt.Sprintf(`{"name":%q,"expires_in_days":1}`, p)},
			{"PATCH", "/api/me", fmt.Sprintf(`{"first_name":%q}`, p)},
			{"PATCH", "/api/me", `{"first_name":"a\u0000b"}`},
			{"POST", "/api/auth/signup", `{"email":"nul@example.org","password":"assez long pour passer","first_name":"a\u0000","last_name":"b"}`},
			{"POST", "/api/me/consents", fmt.Sprintf(`{"consents":[{"purpose":%q,"granted":true}]}`, p)},
		}
		for _, rq := range reqs {
			w := f.do(rq.method, rq.path, rq.body, f.session(admin))
			if w.Code >= 500 {
				t.Errorf("%s %s %s: %d %s", rq.method, rq.path, rq.body, w.Code, w.Body)
			}
		}
	}
	after, err := f.db.Members(ctx, admin, postgres.MemberFilter{Under: f.terr["FR"].ID})
	if err != nil {
		t.Fatal(err)
	}
	// Harmless: the stored text is data, the tables are all there, nobody was added
	// except by the (valid-looking) sign-ups, and no audit row vanished.
	if len(after) < len(before) {
		t.Errorf("members went from %d to %d", len(before), len(after))
	}
	if _, err := f.db.AuditEntries(ctx, postgres.AuditFilter{}); err != nil {
		t.Errorf("audit log: %v", err)
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", "#", "%23", "?", "%3F", "&", "%26", "/", "%2F", "\x00", "%00", "'", "%27", ";", "%3B")
	return r.Replace(s)
}

// TestServer_IDOR: a secretary guessing ids of another section gets nothing.
func TestServer_IDOR(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	ctx := context.Background()
	secB := f.member(auth.RoleSectionSecretary, "92007")
	tok := f.session(secB)
	inA := f.member(auth.RoleAdherent, "92002")
	_, hash := auth.NewAPIToken()
	tokA, err := f.db.CreateAPIToken(ctx, inA, "theirs", nil, hash, time.Now().Add(time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	grantsA, _ := f.db.Grants(ctx, postgres.GrantFilter{MemberID: &inA})
	cases := []struct{ method, path, body string }{
		{"GET", fmt.Sprintf("/api/members/%d", inA), ""},
		{"POST", fmt.Sprintf("/api/members/%d/contact", inA), ""},
		{"GET", fmt.Sprintf("/api/members?territory=%d", f.terr["92002"].ID), ""},
		{"GET", fmt.Sprintf("/api/members?territory=%d", f.terr["92"].ID), ""},
		{"GET", fmt.Sprintf("/api/roles/grants?territory=%d", f.terr["92002"].ID), ""},
		{"DELETE", fmt.Sprintf("/api/roles/grants/%d", grantsA[0].ID), ""},
		{"DELETE", fmt.Sprintf("/api/tokens/%d", tokA.ID), ""},
		{"POST", "/api/members/999999/contact", ""},
		// Granting in one's own section to a member of another is refused too.
		{"POST", "/api/roles/grants", fmt.Sprintf(`{"member_id":%d,"territory_id":%d,"role":"adherent"}`, inA, f.terr["92007"].ID)},
		// …and so is self-promotion.
		{"POST", "/api/roles/grants", fmt.Sprintf(`{"member_id":%d,"territory_id":%d,"role":"secretaire_federal"}`, secB, f.terr["92"].ID)},
	}
	for _, c := range cases {
		w := f.do(c.method, c.path, c.body, tok)
		if w.Code != http.StatusForbidden && w.Code != http.StatusNotFound {
			t.Errorf("%s %s as secretary of B: %d %s, want 403 or 404", c.method, c.path, w.Code, w.Body)
		}
	}
	// Nothing revealed means nothing audited as a reveal.
	es, _ := f.db.AuditEntries(ctx, postgres.AuditFilter{Action: ptr(auth.AuditContactReveal)})
	if len(es) != 0 {
		t.Errorf("%d reveals audited, want 0", len(es))
	}
}
