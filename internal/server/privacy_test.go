package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
)

// TestServer_GrantOnlyWhatOneHolds: a section secretary could grant themself analyste
// (ranked below them) and then export, or give it to a sympathisant.
func TestServer_GrantOnlyWhatOneHolds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	f.seedCross()
	A := f.terr["92002"].ID
	sec := f.member(auth.RoleSectionSecretary, "92002")
	tok := f.session(sec)
	symp := f.member("", "92002")
	for _, body := range []string{
		fmt.Sprintf(`{"member_id":%d,"territory_id":%d,"role":"analyste"}`, sec, A),
		fmt.Sprintf(`{"member_id":%d,"territory_id":%d,"role":"analyste"}`, symp, A),
		fmt.Sprintf(`{"member_id":%d,"territory_id":%d,"permission":"data.export"}`, symp, A),
		fmt.Sprintf(`{"member_id":%d,"territory_id":%d,"role":"adherent"}`, sec, A),
		fmt.Sprintf(`{"member_id":%d,"territory_id":%d,"permission":"member.contact"}`, sec, A),
	} {
		if w := f.do("POST", "/api/roles/grants", body, tok); w.Code != http.StatusForbidden {
			t.Errorf("grant %s: %d %s, want 403", body, w.Code, w.Body)
		}
	}
	if w := f.do("GET", "/api/exports/bureaux?election=lg2024&round=1&format=csv&commune=92002", "", tok); w.Code != http.StatusForbidden {
		t.Errorf("secretary export: %d, want 403", w.Code)
	}
	if w := f.do("POST", "/api/roles/grants", fmt.Sprintf(`{"member_id":%d,"territory_id":%d,"role":"adherent"}`, symp, A), tok); w.Code != http.StatusCreated {
		t.Errorf("secretary makes an adhérent: %d %s", w.Code, w.Body)
	}
}

// TestServer_AreasInsideFederation: the fédération 92 secretary attached communes of
// other départements to his sections, then read who signed up there.
func TestServer_AreasInsideFederation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	fed := f.session(f.member(auth.RoleFederalSecretary, "92"))
	admin := f.session(f.member(auth.RoleAdmin, "FR"))
	path := fmt.Sprintf("/api/territories/%d/areas", f.terr["92002"].ID)
	for _, area := range []string{`{"commune":"93066"}`, `{"commune":"69123","bureau":"69123_0101"}`, `{"commune":"2A004"}`} {
		for who, tok := range map[string]string{"fédération 92": fed, "admin": admin} {
			if w := f.do("POST", path, `{"areas":[`+area+`]}`, tok); w.Code != http.StatusBadRequest {
				t.Errorf("%s attaches %s to a section of 92: %d %s, want 400", who, area, w.Code, w.Body)
			}
		}
	}
	if w := f.do("POST", path, `{"areas":[{"commune":"92019"}]}`, fed); w.Code != http.StatusOK {
		t.Errorf("a commune of 92: %d %s", w.Code, w.Body)
	}
	// A sign-up in Saint-Denis does not land in Antony, so its secretary cannot see them.
	f.do("POST", "/api/auth/signup", fmt.Sprintf(`{"email":"sd@example.org","password":%q,"first_name":"S","last_name":"D","commune":"93066"}`, testPassword), "")
	id, _, err := f.db.Credentials(context.Background(), "sd@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := f.db.MemberTerritory(context.Background(), id); mt.ID != f.terr["FR"].ID {
		t.Errorf("sign-up in 93066 placed in %+v, want the national territory", mt)
	}
}

// TestServer_ExportEveryTerritory: an export by bureau list was authorised on the first
// bureau's territory only, and audited there.
func TestServer_ExportEveryTerritory(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	f.seedCross()
	ctx := context.Background()
	exporter := f.member(auth.RoleSectionSecretary, "92002")
	if _, err := f.db.CreateGrant(ctx, auth.Grant{MemberID: exporter, TerritoryID: f.terr["92002"].ID, Permission: auth.PermDataExport}, ""); err != nil {
		t.Fatal(err)
	}
	tok := f.session(exporter)
	for _, list := range []string{"92002_0001,75056_0001", "92002_0001,92007_0001", "92002_0001,93066_0001"} {
		if w := f.do("GET", "/api/exports/bureaux?election=lg2024&round=1&format=csv&bureaux="+list, "", tok); w.Code != http.StatusForbidden {
			t.Errorf("export of %s with export on 92002 only: %d, want 403", list, w.Code)
		}
	}
	// Same for reading a crosstab over a list.
	if w := f.do("GET", "/api/crosstab?election=lg2024&round=1&indicator=share_60p&quantiles=2&bureaux=92002_0001,75056_0001", "", tok); w.Code != http.StatusForbidden {
		t.Errorf("crosstab across sections: %d, want 403", w.Code)
	}
	if w := f.do("GET", "/api/exports/bureaux?election=lg2024&round=1&format=csv&bureaux=92002_0001,92002_0002", "", tok); w.Code != http.StatusOK {
		t.Errorf("export inside 92002: %d %s", w.Code, w.Body)
	}
	fed := f.member(auth.RoleFederalSecretary, "92")
	if _, err := f.db.CreateGrant(ctx, auth.Grant{MemberID: fed, TerritoryID: f.terr["92"].ID, Permission: auth.PermDataExport}, ""); err != nil {
		t.Fatal(err)
	}
	fedTok := f.session(fed)
	// The old check looked at the first bureau's département only: 92 let 75 through.
	if w := f.do("GET", "/api/exports/bureaux?election=lg2024&round=1&format=csv&bureaux=92002_0001,75056_0001", "", fedTok); w.Code != http.StatusForbidden {
		t.Errorf("fédération 92 exporting a Paris bureau: %d, want 403", w.Code)
	}
	if w := f.do("GET", "/api/crosstab?election=lg2024&round=1&indicator=share_60p&quantiles=2&bureaux=92002_0001,75056_0001", "", fedTok); w.Code != http.StatusForbidden {
		t.Errorf("fédération 92 crosstab over a Paris bureau: %d, want 403", w.Code)
	}
	if w := f.do("GET", "/api/exports/bureaux?election=lg2024&round=1&format=csv&bureaux=92002_0001,92007_0001", "", fedTok); w.Code != http.StatusOK {
		t.Fatalf("fédération export across its sections: %d %s", w.Code, w.Body)
	}
	got := pgtest.QueryFloat(t, f.url, `SELECT count(DISTINCT territory_id)::float8 FROM audit_log WHERE action = 'data.export' AND actor_id = $1
		AND territory_id IN ($2, $3)`, fed, f.terr["92002"].ID, f.terr["92007"].ID)
	if got != 2 {
		t.Errorf("export audited on %v of the 2 sections it touched", got)
	}
}

// TestServer_DataReadScope: any signed-up sympathisant read the whole country's
// targeting scores, crosstabs and bureau profiles.
func TestServer_DataReadScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	f.seedCross()
	symp := f.session(f.member("", "92002"))
	for _, p := range []string{"/api/bureaux/92002_0001", "/api/targets?election=lg2024&round=1&favourable=UG",
		"/api/crosstab?election=lg2024&round=1&indicator=share_60p&quantiles=2"} {
		if w := f.do("GET", p, "", symp); w.Code != http.StatusForbidden {
			t.Errorf("sympathisant %s: %d, want 403", p, w.Code)
		}
	}
	// An adhérent's ranking without a scope is their section's.
	w := f.do("GET", "/api/targets?election=lg2024&round=1&favourable=UG", "", f.session(f.member(auth.RoleAdherent, "92002")))
	tg := decode[struct{ Scores []struct{ Bureau string } }](t, w)
	if w.Code != http.StatusOK || len(tg.Scores) != 2 {
		t.Errorf("adhérent of Antony, own ranking: %d %s", w.Code, w.Body)
	}
	other := f.session(f.member(auth.RoleAdherent, "92007"))
	w = f.do("GET", "/api/targets?election=lg2024&round=1&favourable=UG", "", other)
	if w.Code == http.StatusOK {
		for _, s := range decode[struct{ Scores []struct{ Bureau string } }](t, w).Scores {
			if strings.HasPrefix(s.Bureau, "92002_") {
				t.Errorf("adhérent of Bagneux sees Antony's bureau %s", s.Bureau)
			}
		}
	}
	if w := f.do("GET", "/api/targets?election=lg2024&round=1&favourable=UG&commune=92002", "", other); w.Code != http.StatusForbidden {
		t.Errorf("adhérent of Bagneux asking for Antony: %d, want 403", w.Code)
	}
	if w := f.do("GET", "/api/bureaux/92002_0001", "", other); w.Code != http.StatusForbidden {
		t.Errorf("adhérent of Bagneux reading an Antony bureau: %d, want 403", w.Code)
	}
}

// TestServer_ContactConsentAndPOST: contact details were revealed whatever the member
// consented to, and by a GET a cross-site link could trigger (forging audit entries).
// The GDPR export then showed the secretary's IP address.
func TestServer_ContactConsentAndPOST(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	ctx := context.Background()
	sec := f.session(f.member(auth.RoleSectionSecretary, "92002"))
	target := f.member("", "92002")
	path := fmt.Sprintf("/api/members/%d/contact", target)
	if w := f.do("GET", path, "", sec); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET contact: %d, want 405", w.Code)
	}
	if err := f.db.AddConsents(ctx, target, []auth.Consent{{Purpose: auth.PurposeSectionContact, Granted: false}}); err != nil {
		t.Fatal(err)
	}
	w := f.do("POST", path, "", sec)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "contacté") {
		t.Errorf("contact of a member who refused: %d %s, want a clear 403", w.Code, w.Body)
	}
	if err := f.db.AddConsents(ctx, target, []auth.Consent{{Purpose: auth.PurposeSectionContact, Granted: true}}); err != nil {
		t.Fatal(err)
	}
	w = f.do("POST", path, "", sec)
	if c := decode[auth.Contact](t, w); w.Code != http.StatusOK || c.Email != f.email(target) {
		t.Fatalf("contact after consent: %d %s", w.Code, w.Body)
	}
	x := decode[auth.DataExport](t, f.do("GET", "/api/me/export", "", f.session(target)))
	found := false
	for _, e := range x.Audit {
		if e.Action == auth.AuditContactReveal {
			found = true
			if e.IP != "" || e.ActorRole != "secrétaire de section" {
				t.Errorf("reveal in the member's export: ip %q, role %q", e.IP, e.ActorRole)
			}
		}
	}
	if !found {
		t.Errorf("the reveal is missing from the member's export: %+v", x.Audit)
	}
}

// TestServer_TokenScopes: tokens had no scopes and survived "log out everywhere".
func TestServer_TokenScopes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	f.seedCross()
	analyst := f.member(auth.RoleAnalyst, "FR")
	sess := f.session(analyst)
	mint := func(scopes string) string {
		w := f.do("POST", "/api/tokens", `{"name":"s","expires_in_days":1,"scopes":`+scopes+`}`, sess)
		if w.Code != http.StatusCreated {
			t.Fatalf("token %s: %d %s", scopes, w.Code, w.Body)
		}
		return decode[struct{ Token string }](t, w).Token
	}
	bearer := func(tok, method, path, body string) int {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w.Code
	}
	read, exp, write := mint(`["read"]`), mint(`["read","export"]`), mint(`["write"]`)
	if w := f.do("POST", "/api/tokens", `{"name":"s","expires_in_days":1,"scopes":["admin"]}`, sess); w.Code != http.StatusBadRequest {
		t.Errorf("unknown scope: %d, want 400", w.Code)
	}
	export := "/api/exports/bureaux?election=lg2024&round=1&format=csv"
	consent := `{"consents":[{"purpose":"sms","granted":true}]}`
	cases := []struct {
		tok, method, path, body string
		want                    int
	}{
		{read, "GET", "/api/me", "", http.StatusOK},
		{read, "POST", "/api/me/consents", consent, http.StatusForbidden},
		{read, "GET", export, "", http.StatusForbidden},
		{read, "GET", "/api/me/export", "", http.StatusForbidden},
		{exp, "GET", export, "", http.StatusOK},
		{write, "GET", "/api/me", "", http.StatusForbidden},
		{write, "POST", "/api/me/consents", consent, http.StatusOK},
	}
	for _, c := range cases {
		if got := bearer(c.tok, c.method, c.path, c.body); got != c.want {
			t.Errorf("%s %s with scopes of %q: %d, want %d", c.method, c.path, c.tok[:12], got, c.want)
		}
	}
	w := f.do("GET", "/api/tokens", "", sess)
	ts := decode[[]auth.APIToken](t, w)
	if w.Code != http.StatusOK || len(ts) != 3 || len(ts[1].Scopes) != 2 || strings.Contains(w.Body.String(), exp) {
		t.Errorf("token list: %d %s", w.Code, w.Body)
	}
	if w := f.do("POST", "/api/auth/logout-all", "", sess); w.Code != http.StatusNoContent {
		t.Fatalf("logout-all: %d", w.Code)
	}
	if got := bearer(read, "GET", "/api/me", ""); got != http.StatusUnauthorized {
		t.Errorf("token after log-out-everywhere: %d, want 401", got)
	}
}

func (f *fixture) post(path, body, ip string) int {
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	r.RemoteAddr = ip + ":4321"
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Code
}

// TestServer_ConcurrentLogins: throttling counted failures after checking them, so 40
// concurrent wrong passwords were all checked against a limit of 5.
func TestServer_ConcurrentLogins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	email := f.email(f.member("", "92002"))
	codes := make(chan int, 40)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes <- f.post("/api/auth/login", fmt.Sprintf(`{"email":%q,"password":"mauvais mot de passe %d"}`, email, i), "198.51.100.9")
		}()
	}
	close(start)
	wg.Wait()
	close(codes)
	checked, throttled := 0, 0
	for c := range codes {
		switch c {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
			throttled++
		default:
			t.Errorf("login answered %d", c)
		}
	}
	t.Logf("%d of 40 concurrent wrong passwords checked, %d throttled", checked, throttled)
	if checked > 5 || checked+throttled != 40 {
		t.Errorf("%d of 40 concurrent wrong passwords checked (%d throttled), want at most 5", checked, throttled)
	}
}

// TestServer_ThrottleNoLockout: 50 failures from one IP locked everyone behind it (a
// party office's proxy), and five locked any account for the whole window.
func TestServer_ThrottleNoLockout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	for i := range 55 {
		f.post("/api/auth/login", fmt.Sprintf(`{"email":"absent%d@example.org","password":"x"}`, i%11), "198.51.100.50")
	}
	colleague := f.email(f.member("", "92002"))
	if got := f.post("/api/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, colleague, testPassword), "198.51.100.50"); got != http.StatusOK {
		t.Errorf("a colleague behind the same proxy after 55 failures: %d, want 200", got)
	}
	// Five failures make the account wait 2 s, not the whole window.
	victim := f.email(f.member("", "92002"))
	for range 5 {
		f.post("/api/auth/login", fmt.Sprintf(`{"email":%q,"password":"x"}`, victim), "203.0.113.5")
	}
	r := httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, victim, testPassword)))
	r.RemoteAddr = "203.0.113.6:1"
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if ra := w.Header().Get("Retry-After"); w.Code != http.StatusTooManyRequests || (ra != "1" && ra != "2") {
		t.Errorf("sixth attempt: %d, Retry-After %q; want 429 and 2 s", w.Code, ra)
	}
	// Let the 2 s pass without sleeping.
	pgtest.QueryFloat(t, f.url, `WITH u AS (UPDATE throttle SET next_at = now() WHERE key = $1 RETURNING 1) SELECT count(*)::float8 FROM u`,
		postgres.AccountThrottleKey(victim))
	if got := f.post("/api/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, victim, testPassword), "203.0.113.6"); got != http.StatusOK {
		t.Errorf("after the 2 s wait: %d, want 200", got)
	}
}

// TestServer_ThrottledForms: the erasure password re-check, password-reset requests and
// sign-up were unthrottled; sign-up also answered 409 for a registered address.
func TestServer_ThrottledForms(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Throttle{Window: time.Minute, AccountLimit: 3, IPLimit: 4})
	id := f.member("", "92002")
	tok := f.session(id)
	for i := range 3 {
		if w := f.do("DELETE", "/api/me", `{"password":"pas le bon mot de passe"}`, tok); w.Code != http.StatusForbidden {
			t.Fatalf("wrong password %d: %d", i, w.Code)
		}
	}
	if w := f.do("DELETE", "/api/me", fmt.Sprintf(`{"password":%q}`, testPassword), tok); w.Code != http.StatusTooManyRequests {
		t.Errorf("erasure re-check after 3 failures: %d, want 429", w.Code)
	}
	// Reset per address: past the limit, the same 202 and no more mail.
	email := f.email(f.member("", "92002"))
	for i := range 5 {
		if got := f.post("/api/auth/password-reset", fmt.Sprintf(`{"email":%q}`, email), fmt.Sprintf("198.51.100.%d", 100+i)); got != http.StatusAccepted {
			t.Errorf("reset %d: %d", i, got)
		}
	}
	if n := pgtest.QueryFloat(t, f.url, `SELECT count(*)::float8 FROM outbox WHERE to_addr = $1`, email); n != 3 {
		t.Errorf("%v reset mails queued for one address, want 3", n)
	}
	// Reset per IP.
	for i := range 4 {
		f.post("/api/auth/password-reset", fmt.Sprintf(`{"email":"r%d@example.org"}`, i), "198.51.100.77")
	}
	if got := f.post("/api/auth/password-reset", `{"email":"r9@example.org"}`, "198.51.100.77"); got != http.StatusTooManyRequests {
		t.Errorf("fifth reset from one IP: %d, want 429", got)
	}
	// Sign-up per IP, and a registered address answers like a new one.
	signup := func(email string) int {
		return f.post("/api/auth/signup", fmt.Sprintf(`{"email":%q,"password":%q,"first_name":"A","last_name":"B"}`, email, testPassword), "198.51.100.88")
	}
	if got := signup(email); got != http.StatusAccepted {
		t.Errorf("sign-up with a registered address: %d, want 202", got)
	}
	for i := range 3 {
		signup(fmt.Sprintf("n%d@example.org", i))
	}
	if got := signup("n9@example.org"); got != http.StatusTooManyRequests {
		t.Errorf("fifth sign-up from one IP: %d, want 429", got)
	}
	es, err := f.db.AuditEntries(context.Background(), postgres.AuditFilter{Action: ptr(auth.AuditLoginFailure)})
	if err != nil || len(es) < 4 {
		t.Errorf("erasure re-check failures audited: %d, %v", len(es), err)
	}
}

// TestServer_NoCrossSiteAudit: a link on another site must not write audit entries in
// a signed-in member's name, neither a contact reveal nor an audited download.
func TestServer_NoCrossSiteAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	f.seedCross()
	admin := f.session(f.member(auth.RoleAdmin, "FR"))
	for _, p := range []string{fmt.Sprintf("/api/members/%d/contact", f.target), "/api/members/export",
		"/api/exports/bureaux?election=lg2024&round=1&format=csv", "/api/me/export"} {
		r := httptest.NewRequest("GET", p, nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: admin})
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		if w.Code < 400 {
			t.Errorf("cross-site GET %s: %d, want refused", p, w.Code)
		}
	}
	if n := pgtest.QueryFloat(t, f.url, `SELECT count(*)::float8 FROM audit_log WHERE action NOT IN ('login.success', 'grant.create')`); n != 0 {
		t.Errorf("%v audit entries written by cross-site links", n)
	}
}
