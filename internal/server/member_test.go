package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/territory"
)

// actor is who calls in the authorisation matrix: a role held on a territory.
type actor struct {
	name string
	role auth.Role // "" for anonymous
	code string
}

var actors = []actor{
	{"anonymous", "", ""},
	{"sympathisant_A", auth.RoleSympathisant, "92002"},
	{"adherent_A", auth.RoleAdherent, "92002"},
	{"secretary_A", auth.RoleSectionSecretary, "92002"},
	{"secretary_B", auth.RoleSectionSecretary, "92007"}, // same fédération, other section
	{"federal_92", auth.RoleFederalSecretary, "92"},
	{"federal_75", auth.RoleFederalSecretary, "75"}, // other fédération
	{"analyst", auth.RoleAnalyst, "FR"},
	{"admin", auth.RoleAdmin, "FR"},
}

// Who may call what; the target of member, territory and grant routes is in section A
// (Antony, 92002, fédération 92).
var (
	everyone    = []string{"anonymous", "sympathisant_A", "adherent_A", "secretary_A", "secretary_B", "federal_92", "federal_75", "analyst", "admin"}
	signedIn    = everyone[1:]
	officersOfA = []string{"secretary_A", "federal_92", "admin"}
	managersOfA = []string{"federal_92", "admin"}
	adminOnly   = []string{"admin"}
	readersOfA  = []string{"adherent_A", "secretary_A", "federal_92", "analyst", "admin"}
)

// route is one row of the matrix: a request builder (run after the caller exists, so
// it can make fresh targets) and the actors allowed.
type route struct {
	allowed []string
	build   func(f *fixture, caller int64) (path, body string)
}

// isPage tells the HTML pages, which send visitors to the login page (303) instead of
// answering 401, from the API.
func isPage(pattern string) bool {
	return pattern != "/healthz" && !strings.HasPrefix(pattern, "/api/") && !strings.HasPrefix(pattern, "/tiles/")
}

func fixed(path, body string) func(*fixture, int64) (string, string) {
	return func(*fixture, int64) (string, string) { return path, body }
}

func matrix(f *fixture) map[string]route {
	A := f.terr["92002"].ID
	return map[string]route{
		"GET /healthz":                    {everyone, fixed("/healthz", "")},
		"GET /":                           {everyone, fixed("/", "")},
		"GET /api/datasets":               {everyone, fixed("/api/datasets", "")},
		"GET /donnees":                    {everyone, fixed("/donnees", "")},
		"GET /connexion":                  {everyone, fixed("/connexion", "")},
		"GET /inscription":                {everyone, fixed("/inscription", "")},
		"GET /mot-de-passe-oublie":        {everyone, fixed("/mot-de-passe-oublie", "")},
		"GET /reinitialiser":              {everyone, fixed("/reinitialiser?token=x", "")},
		"GET /compte":                     {signedIn, fixed("/compte", "")},
		"GET /compte/supprimer":           {signedIn, fixed("/compte/supprimer", "")},
		"POST /connexion":                 {everyone, nil},
		"POST /inscription":               {everyone, nil},
		"POST /mot-de-passe-oublie":       {everyone, nil},
		"POST /reinitialiser":             {everyone, nil},
		"POST /deconnexion":               {signedIn, nil},
		"POST /compte/profil":             {signedIn, nil},
		"POST /compte/consentements":      {signedIn, nil},
		"POST /compte/export":             {signedIn, nil},
		"POST /compte/supprimer":          {signedIn, nil},
		"GET /api/datasets/{id}/warnings": {everyone, fixed("/api/datasets/1/warnings", "")},
		"POST /api/auth/signup": {everyone, func(f *fixture, _ int64) (string, string) {
			return "/api/auth/signup", fmt.Sprintf(`{"email":"new%d@example.org","password":%q,"first_name":"N","last_name":"M","commune":"92002"}`, f.n.Add(1), testPassword)
		}},
		"POST /api/auth/login": {everyone, func(f *fixture, _ int64) (string, string) {
			return "/api/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, f.email(f.member("", "92002")), testPassword)
		}},
		"POST /api/auth/password-reset": {everyone, fixed("/api/auth/password-reset", `{"email":"m1@example.org"}`)},
		"POST /api/auth/password-reset/confirm": {everyone, func(f *fixture, _ int64) (string, string) {
			tok, hash := auth.NewToken()
			err := f.db.RequestPasswordReset(context.Background(), f.email(f.member("", "92002")), hash, time.Now().Add(time.Hour), "",
				func(p auth.Profile) mail.Message { return mail.Message{To: p.Email, Subject: "s", Body: "b"} })
			if err != nil {
				f.t.Fatal(err)
			}
			return "/api/auth/password-reset/confirm", fmt.Sprintf(`{"token":%q,"password":"un nouveau mot de passe"}`, tok)
		}},
		"POST /api/auth/logout":          {signedIn, fixed("/api/auth/logout", "")},
		"POST /api/auth/logout-all":      {signedIn, fixed("/api/auth/logout-all", "")},
		"GET /api/me":                    {signedIn, fixed("/api/me", "")},
		"PATCH /api/me":                  {signedIn, fixed("/api/me", `{"phone":"0700000000"}`)},
		"DELETE /api/me":                 {signedIn, fixed("/api/me", fmt.Sprintf(`{"password":%q}`, testPassword))},
		"GET /api/me/export":             {signedIn, fixed("/api/me/export", "")},
		"POST /api/me/consents":          {signedIn, fixed("/api/me/consents", `{"consents":[{"purpose":"sms","granted":false}]}`)},
		"GET /api/members":               {officersOfA, fixed(fmt.Sprintf("/api/members?territory=%d", A), "")},
		"GET /api/members/export":        {adminOnly, fixed(fmt.Sprintf("/api/members/export?territory=%d", A), "")},
		"GET /api/members/{id}":          {officersOfA, fixed(fmt.Sprintf("/api/members/%d", f.target), "")},
		"POST /api/members/{id}/contact": {officersOfA, fixed(fmt.Sprintf("/api/members/%d/contact", f.target), "")},
		"GET /api/territories":           {signedIn, fixed("/api/territories", "")},
		"GET /api/territories/{id}":      {signedIn, fixed(fmt.Sprintf("/api/territories/%d", A), "")},
		"POST /api/territories": {managersOfA, func(f *fixture, _ int64) (string, string) {
			return "/api/territories", fmt.Sprintf(`{"kind":"section","code":"s%d","name":"Nouvelle","parent_id":%d}`, f.n.Add(1), f.terr["92"].ID)
		}},
		"POST /api/territories/{id}/areas": {managersOfA, func(f *fixture, _ int64) (string, string) {
			return fmt.Sprintf("/api/territories/%d/areas", A), fmt.Sprintf(`{"areas":[{"commune":"92%03d"}]}`, 500+f.n.Add(1)%400)
		}},
		"DELETE /api/territories/{id}/areas": {managersOfA, func(f *fixture, _ int64) (string, string) {
			c := fmt.Sprintf("92%03d", 100+f.n.Add(1))
			if err := f.db.AddTerritoryAreas(context.Background(), nil, A, []territory.Area{{Commune: c}}); err != nil {
				f.t.Fatal(err)
			}
			return fmt.Sprintf("/api/territories/%d/areas?commune=%s", A, c), ""
		}},
		"GET /api/roles":        {signedIn, fixed("/api/roles", "")},
		"GET /api/roles/grants": {officersOfA, fixed(fmt.Sprintf("/api/roles/grants?territory=%d", A), "")},
		"POST /api/roles/grants": {officersOfA, func(f *fixture, _ int64) (string, string) {
			return "/api/roles/grants", fmt.Sprintf(`{"member_id":%d,"territory_id":%d,"role":"adherent"}`, f.member("", "92002"), A)
		}},
		"DELETE /api/roles/grants/{id}": {officersOfA, func(f *fixture, _ int64) (string, string) {
			g, err := f.db.CreateGrant(context.Background(), auth.Grant{MemberID: f.member("", "92002"), TerritoryID: A, Role: auth.RoleAdherent}, "")
			if err != nil {
				f.t.Fatal(err)
			}
			return fmt.Sprintf("/api/roles/grants/%d", g.ID), ""
		}},
		"GET /api/tokens":  {signedIn, fixed("/api/tokens", "")},
		"POST /api/tokens": {signedIn, fixed("/api/tokens", `{"name":"script","expires_in_days":30}`)},
		"DELETE /api/tokens/{id}": {signedIn, func(f *fixture, caller int64) (string, string) {
			if caller == 0 {
				return "/api/tokens/1", ""
			}
			_, hash := auth.NewAPIToken()
			tk, err := f.db.CreateAPIToken(context.Background(), caller, "t", nil, hash, time.Now().Add(time.Hour), "")
			if err != nil {
				f.t.Fatal(err)
			}
			return fmt.Sprintf("/api/tokens/%d", tk.ID), ""
		}},
		"GET /api/audit": {adminOnly, fixed("/api/audit", "")},
		// crosstab.go: aggregates need data.read on the territory (adhérents and above, not
		// sympathisants); exports need data.export.
		"GET /api/bureaux/{code}":      {readersOfA, seeded("/api/bureaux/92002_0001")},
		"GET /api/crosstab":            {readersOfA, seeded("/api/crosstab?election=lg2024&round=1&measure=nuance:UG&indicator=share_60p&quantiles=2&commune=92002")},
		"GET /api/crosstab/indicators": {signedIn, fixed("/api/crosstab/indicators", "")},
		"GET /api/targets":             {readersOfA, seeded("/api/targets?election=lg2024&round=1&favourable=UG&volunteers=2&leaflets=1000&commune=92002")},
		"GET /api/exports/bureaux":     {[]string{"analyst", "admin"}, seeded("/api/exports/bureaux?election=lg2024&round=1&format=csv")},
	}
}

// TestServer_AuthorizationMatrix calls every endpoint as every actor and checks the
// answer: allowed (2xx) or refused (401 anonymous, 403 otherwise). It fails when a
// route exists that the matrix does not list, so a new endpoint cannot ship unreviewed.
func TestServer_AuthorizationMatrix(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	m := matrix(f)
	var routes []string
	err := chi.Walk(f.h.(chi.Routes), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+pattern)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(routes)
	for _, r := range routes {
		if _, ok := m[r]; !ok {
			t.Errorf("route %s is not in the authorisation matrix: add it with who may call it", r)
		}
	}
	for name := range m {
		if !slices.Contains(routes, name) {
			t.Errorf("matrix lists %s, which is not routed", name)
		}
	}
	calls := 0
	for _, name := range routes {
		rt, ok := m[name]
		method, pattern, _ := strings.Cut(name, " ")
		if !ok || (isPage(pattern) && method == http.MethodPost) {
			continue // form posts need their CSRF field: pages_test.go checks them
		}
		for _, a := range actors {
			var caller int64
			tok := ""
			if a.role != "" {
				caller = f.member(a.role, a.code) // fresh each time: logout and erasure destroy it
				tok = f.session(caller)
			}
			path, body := rt.build(f, caller)
			w := f.do(method, path, body, tok)
			calls++
			allowed := slices.Contains(rt.allowed, a.name)
			switch {
			case allowed && w.Code >= 300:
				t.Errorf("%s as %s: %d %s, want allowed", name, a.name, w.Code, w.Body)
			case !allowed && a.role == "" && isPage(pattern) && (w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/connexion")):
				t.Errorf("%s as %s: %d to %q, want 303 to the login page", name, a.name, w.Code, w.Header().Get("Location"))
			case !allowed && a.role == "" && !isPage(pattern) && w.Code != http.StatusUnauthorized:
				t.Errorf("%s as %s: %d, want 401", name, a.name, w.Code)
			case !allowed && a.role != "" && w.Code != http.StatusForbidden:
				t.Errorf("%s as %s: %d %s, want 403", name, a.name, w.Code, w.Body)
			}
		}
	}
	t.Logf("%d routes × %d actors = %d calls", len(routes), len(actors), calls)
}
