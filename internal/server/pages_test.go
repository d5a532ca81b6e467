package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/web"
)

// browser is a cookie-keeping client of the pages that does not follow redirects, so
// each step's status and Location can be checked.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, f *fixture) *browser {
	t.Helper()
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: srv.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{res.StatusCode, res.Header, string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

// post sends a form as a browser does, with the Origin header of this site.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

var csrfFieldRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// submit loads the page of a form, then posts fields with the form's CSRF token.
func (b *browser) submit(formPage, action string, fields url.Values) page {
	b.t.Helper()
	p := b.get(formPage)
	m := csrfFieldRE.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("%s: no CSRF field in %d %s", formPage, p.status, p.body)
	}
	fields.Set("csrf", m[1])
	return b.post(action, fields)
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func wantPage(t *testing.T, what string, p page, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Errorf("%s: status %d, want %d\n%s", what, p.status, status, p.body)
	}
	for _, s := range contains {
		if !strings.Contains(p.body, s) {
			t.Errorf("%s: page lacks %q\n%s", what, s, p.body)
		}
	}
}

// signUp creates an account through the sign-up form and leaves the browser signed in.
func (b *browser) signUp(email string) {
	b.t.Helper()
	p := b.submit("/inscription", "/inscription", url.Values{"prenom": {"Léa"}, "nom": {"Martin"}, "email": {email},
		"password": {testPassword}, "commune": {"92002"}, "consent_newsletter": {"oui"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/compte?message=bienvenue" {
		b.t.Fatalf("sign-up: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
}

func TestPages_VisitorSeesFrenchPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	b := newBrowser(t, f)
	home := b.get("/")
	wantPage(t, "home", home, http.StatusOK, `<html lang="fr">`, "Créer un compte", `href="/connexion"`, `href="/inscription"`,
		`href="#contenu"`, `<main id="contenu"`, `<nav class="menu" aria-label="Navigation principale">`)
	if csp := home.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	if nav := home.body[strings.Index(home.body, "<nav"):strings.Index(home.body, "</nav>")]; strings.Contains(nav, "Administration") ||
		strings.Contains(nav, "Mon compte") || !strings.Contains(nav, "Connexion") {
		t.Errorf("a visitor's menu: %s", nav)
	}
	if strings.Contains(home.body, "<style") || strings.Contains(home.body, "style=") || strings.Contains(home.body, "<script>") {
		t.Errorf("inline style or script, refused by the CSP")
	}
	wantPage(t, "datasets", b.get("/donnees"), http.StatusOK, "Données chargées", "Aucune donnée chargée")
	for path, title := range map[string]string{"/connexion": "Connexion", "/inscription": "Créer un compte",
		"/mot-de-passe-oublie": "Mot de passe oublié", "/reinitialiser?token=abc": "Nouveau mot de passe"} {
		wantPage(t, path, b.get(path), http.StatusOK, "<h1>"+title+"</h1>", `name="csrf"`)
	}
	wantPage(t, "unknown page", b.get("/nulle-part"), http.StatusNotFound, "Page introuvable", `lang="fr"`)
	api := b.get("/api/nulle-part")
	if api.status != http.StatusNotFound || !strings.HasPrefix(api.header.Get("Content-Type"), "application/json") {
		t.Errorf("unknown API path: %d %s, want a JSON 404", api.status, api.header.Get("Content-Type"))
	}
	acct := b.get("/compte")
	if acct.status != http.StatusSeeOther || acct.header.Get("Location") != "/connexion?retour=%2Fcompte" {
		t.Errorf("/compte as a visitor: %d to %q, want the login page", acct.status, acct.header.Get("Location"))
	}
}

func TestPages_FormsRefuseMissingOrWrongCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	b := newBrowser(t, f)
	creds := url.Values{"email": {f.email(f.target)}, "password": {testPassword}}
	wantPage(t, "login without token", b.post("/connexion", creds), http.StatusForbidden, "Accès refusé")
	b.get("/connexion") // sets the form cookie
	creds.Set("csrf", auth.CSRFToken("another secret entirely"))
	wantPage(t, "login with a foreign token", b.post("/connexion", creds), http.StatusForbidden, "Accès refusé")
	if b.cookie(sessionCookie) != "" {
		t.Fatalf("a refused form opened a session")
	}

	b.signUp("csrf@example.org")
	p := b.post("/compte/profil", url.Values{"prenom": {"Pirate"}, "nom": {"Martin"}})
	wantPage(t, "profile without token", p, http.StatusForbidden, "Accès refusé")
	id, _, err := f.db.Credentials(context.Background(), "csrf@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if prof, _ := f.db.Profile(context.Background(), id); prof.FirstName != "Léa" {
		t.Errorf("first name = %q after a refused form", prof.FirstName)
	}
	wantPage(t, "erase without token", b.post("/compte/supprimer", url.Values{"password": {testPassword}, "confirmer": {"oui"}}),
		http.StatusForbidden)
	if _, err := f.db.Profile(context.Background(), id); err != nil {
		t.Errorf("account gone after a refused erase: %v", err)
	}
}

func TestPages_AccountFormsRefuseVisitors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	b := newBrowser(t, f)
	for _, action := range []string{"/compte/profil", "/compte/consentements", "/compte/export", "/compte/supprimer"} {
		p := b.submit("/connexion", action, url.Values{"prenom": {"X"}, "nom": {"Y"}, "password": {testPassword}, "confirmer": {"oui"}})
		wantPage(t, "visitor posting to "+action, p, http.StatusUnauthorized, "Connexion nécessaire")
	}
	p := b.submit("/connexion", "/connexion", url.Values{"email": {"a\xffb@example.org"}, "password": {testPassword}})
	wantPage(t, "invalid UTF-8", p, http.StatusBadRequest, "Requête invalide")
}

func TestPages_SignUpErrorsKeepTypedValuesNotPasswords(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	b := newBrowser(t, f)
	const pw = "Tr0p-c0urt"
	p := b.submit("/inscription", "/inscription", url.Values{"prenom": {"Léa <b>"}, "nom": {""}, "email": {"pas-une-adresse"},
		"password": {pw}, "telephone": {"0601020304"}, "commune": {"ABC"}, "consent_sms": {"oui"}})
	wantPage(t, "bad sign-up", p, http.StatusBadRequest, "<title>Erreur : Inscription — coopol</title>",
		`value="Léa &lt;b&gt;"`, `value="pas-une-adresse"`, `value="0601020304"`, `value="ABC"`,
		"Ce champ est obligatoire.", "n&#39;est pas valide", "12 à 256 caractères", "code INSEE",
		`aria-invalid="true" aria-describedby="email-erreur"`, `<li><a href="#nom">Ce champ est obligatoire.</a></li>`, `id="consent_sms" name="consent_sms" value="oui" checked`)
	if strings.Contains(p.body, pw) {
		t.Errorf("the password is echoed back")
	}
	if _, _, err := f.db.Credentials(context.Background(), "pas-une-adresse"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("a refused sign-up stored an account: %v", err)
	}

	b.signUp("lea@example.org")
	other := newBrowser(t, f)
	p = other.submit("/inscription", "/inscription", url.Values{"prenom": {"Léa"}, "nom": {"Bis"}, "email": {"LEA@example.org"},
		"password": {testPassword}})
	wantPage(t, "second account", p, http.StatusConflict, "Un compte existe déjà", `value="LEA@example.org"`)
}

func TestPages_SignUpPlacesInSectionAndSignsIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	b := newBrowser(t, f)
	b.signUp("antony@example.org")
	p := b.get("/compte?message=bienvenue")
	wantPage(t, "account", p, http.StatusOK, "Votre compte est créé", "antony@example.org", "(sympathisant·e)", `value="Léa"`,
		`id="consent_newsletter" name="consent_newsletter" value="oui" checked`, `href="/compte" aria-current="page"`)
	if strings.Contains(p.body, `id="consent_sms" name="consent_sms" value="oui" checked`) {
		t.Errorf("sms consent checked though not given")
	}
	id, _, err := f.db.Credentials(context.Background(), "antony@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if tr, err := f.db.MemberTerritory(context.Background(), id); err != nil || tr.ID != f.terr["92002"].ID {
		t.Errorf("territory = %v, %v; want the Antony section", tr, err)
	}
}

func TestPages_Login(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Throttle{Window: 1e12, AccountLimit: 2, IPLimit: 100})
	b := newBrowser(t, f)
	email := f.email(f.target)
	p := b.submit("/connexion", "/connexion", url.Values{"email": {email}, "password": {"pas le bon mot de passe"}})
	wantPage(t, "bad password", p, http.StatusUnauthorized, "E-mail ou mot de passe incorrect.", `value="`+email+`"`)
	if strings.Contains(p.body, "pas le bon mot de passe") {
		t.Errorf("the password is echoed back")
	}
	wantPage(t, "empty form", b.submit("/connexion", "/connexion", url.Values{}), http.StatusBadRequest,
		"Indiquez votre adresse e-mail.", "Indiquez votre mot de passe.")

	// The return address is followed only when it stays on this site.
	p = b.submit("/connexion?retour=%2F%2Fevil.example%2F", "/connexion", url.Values{"email": {email}, "password": {testPassword},
		"retour": {"//evil.example/"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/?message=connecte" || b.cookie(sessionCookie) == "" {
		t.Fatalf("login: %d to %q, session %q", p.status, p.header.Get("Location"), b.cookie(sessionCookie))
	}
	wantPage(t, "home of a member", b.get("/"), http.StatusOK, "Vos outils", "Se déconnecter", "Mon compte")

	p = b.submit("/", "/deconnexion", url.Values{})
	if p.status != http.StatusSeeOther || b.cookie(sessionCookie) != "" {
		t.Errorf("logout: %d, session cookie %q", p.status, b.cookie(sessionCookie))
	}
	p = b.get("/compte")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/connexion?retour=%2Fcompte" {
		t.Fatalf("/compte after logout: %d to %q", p.status, p.header.Get("Location"))
	}
	wantPage(t, "login with a return path", b.get(p.header.Get("Location")), http.StatusOK, `name="retour" value="/compte"`)
	p = b.submit("/connexion?retour=%2Fcompte", "/connexion", url.Values{"email": {email}, "password": {testPassword}, "retour": {"/compte"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/compte" {
		t.Errorf("login back to /compte: %d to %q", p.status, p.header.Get("Location"))
	}

	// Throttled after AccountLimit failures, with a French message.
	other := newBrowser(t, f)
	victim := f.email(f.member("", "92002"))
	for range 2 {
		other.submit("/connexion", "/connexion", url.Values{"email": {victim}, "password": {"essai de mot de passe"}})
	}
	p = other.submit("/connexion", "/connexion", url.Values{"email": {victim}, "password": {testPassword}})
	wantPage(t, "throttled", p, http.StatusTooManyRequests, "Trop de tentatives")
}

func TestPages_NavigationFollowsRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	for _, tc := range []struct {
		role       auth.Role
		want, hide []string
	}{
		{auth.RoleSympathisant, []string{"Carte", "Données", "Mon compte"}, []string{"Ciblage", "Analyses", "Administration", "Connexion</a>"}},
		{auth.RoleAdherent, []string{"Ciblage"}, []string{"Analyses", "Administration"}},
		{auth.RoleAnalyst, []string{"Analyses"}, []string{"Ciblage", "Administration"}},
		{auth.RoleAdmin, []string{"Ciblage", "Analyses", "Administration"}, nil},
	} {
		w := f.do("GET", "/", "", f.session(f.member(tc.role, "92002")))
		body := w.Body.String()
		nav := body[strings.Index(body, "<nav"):strings.Index(body, "</nav>")]
		for _, s := range tc.want {
			if !strings.Contains(nav, s) {
				t.Errorf("%s: menu lacks %q", tc.role, s)
			}
		}
		for _, s := range tc.hide {
			if strings.Contains(nav, s) {
				t.Errorf("%s: menu shows %q", tc.role, s)
			}
		}
	}
}

func TestPages_AccountProfileConsentsExportErase(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	b := newBrowser(t, f)
	b.signUp("compte@example.org")
	ctx := context.Background()
	id, _, err := f.db.Credentials(ctx, "compte@example.org")
	if err != nil {
		t.Fatal(err)
	}

	p := b.submit("/compte", "/compte/profil", url.Values{"prenom": {""}, "nom": {"Durand"}, "telephone": {"0612345678"}})
	wantPage(t, "bad profile", p, http.StatusBadRequest, "Ce champ est obligatoire.", `value="Durand"`, `value="0612345678"`)
	p = b.submit("/compte", "/compte/profil", url.Values{"prenom": {"Léonie"}, "nom": {"Durand"}, "telephone": {"0612345678"}, "adresse": {"2 rue Haute"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("profile: %d %s", p.status, p.body)
	}
	prof, err := f.db.Profile(ctx, id)
	if err != nil || prof.FirstName != "Léonie" || prof.LastName != "Durand" || prof.Phone != "0612345678" || prof.Address != "2 rue Haute" {
		t.Errorf("profile = %+v, %v", prof, err)
	}
	wantPage(t, "after profile", b.get(p.header.Get("Location")), http.StatusOK, "Votre profil est enregistré.", `value="Léonie"`)

	if p := b.submit("/compte", "/compte/consentements", url.Values{"consent_sms": {"oui"}}); p.status != http.StatusSeeOther {
		t.Fatalf("consents: %d %s", p.status, p.body)
	}
	cs, err := f.db.Consents(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range cs {
		got[c.Purpose] = c.Granted
	}
	if !got["sms"] || got["newsletter"] || len(got) != len(auth.Purposes()) {
		t.Errorf("consents = %v, want sms only, newsletter withdrawn", got)
	}

	p = b.submit("/compte", "/compte/export", url.Values{})
	if p.status != http.StatusOK || !strings.Contains(p.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", p.status, p.header)
	}
	var x auth.DataExport
	if err := json.Unmarshal([]byte(p.body), &x); err != nil || x.Profile.Email != "compte@example.org" || len(x.Consents) == 0 {
		t.Errorf("export = %+v, %v", x.Profile, err)
	}

	p = b.submit("/compte/supprimer", "/compte/supprimer", url.Values{"password": {"pas le bon mot de passe"}})
	wantPage(t, "erase, wrong password", p, http.StatusBadRequest, "Mot de passe incorrect.", "Cochez cette case")
	if strings.Contains(p.body, "pas le bon mot de passe") {
		t.Errorf("the password is echoed back")
	}
	p = b.submit("/compte/supprimer", "/compte/supprimer", url.Values{"password": {testPassword}, "confirmer": {"oui"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/?message=compte-supprime" || b.cookie(sessionCookie) != "" {
		t.Fatalf("erase: %d to %q", p.status, p.header.Get("Location"))
	}
	if _, _, err := f.db.Credentials(ctx, "compte@example.org"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("credentials after erasure: %v, want not found", err)
	}
	wantPage(t, "after erasure", b.get("/?message=compte-supprime"), http.StatusOK, "ont été supprimés")
}

func TestPages_PasswordResetFromTheEmailLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.DefaultThrottle())
	ctx := context.Background()
	email := f.email(f.target)
	b := newBrowser(t, f)
	p := b.submit("/mot-de-passe-oublie", "/mot-de-passe-oublie", url.Values{"email": {"pas une adresse"}})
	wantPage(t, "bad address", p, http.StatusBadRequest, "adresse e-mail valide", `value="pas une adresse"`)
	for _, e := range []string{email, "personne@example.org"} {
		p = b.submit("/mot-de-passe-oublie", "/mot-de-passe-oublie", url.Values{"email": {e}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/mot-de-passe-oublie?message=lien-envoye" {
			t.Fatalf("reset request for %s: %d to %q", e, p.status, p.header.Get("Location"))
		}
	}
	dir := t.TempDir()
	if n, err := mail.Flush(ctx, f.db, mail.FileSender{Dir: dir, From: "coopol <noreply@coopol.test>"}); err != nil || n != 1 {
		t.Fatalf("flush = %d, %v (one message: the unknown address gets none)", n, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	msg, _ := os.ReadFile(files[0])
	m := regexp.MustCompile(`http://coopol\.test(/reinitialiser\?token=[A-Za-z0-9_-]{43})`).FindSubmatch(msg)
	if m == nil {
		t.Fatalf("no reset link in %s", msg)
	}
	link := string(m[1])
	p = b.get(link)
	wantPage(t, "reset page", p, http.StatusOK, "Nouveau mot de passe", `name="token"`)
	if p.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy = %q: the token would leak", p.header.Get("Referrer-Policy"))
	}
	const newPW = "un mot de passe tout neuf"
	token, _ := url.QueryUnescape(strings.TrimPrefix(link, "/reinitialiser?token="))
	p = b.submit(link, "/reinitialiser", url.Values{"token": {token}, "password": {newPW}, "password2": {"autre chose encore"}})
	wantPage(t, "mismatch", p, http.StatusBadRequest, "Les deux mots de passe diffèrent.")
	if strings.Contains(p.body, newPW) {
		t.Errorf("the password is echoed back")
	}
	p = b.submit(link, "/reinitialiser", url.Values{"token": {token}, "password": {newPW}, "password2": {newPW}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/connexion?message=mot-de-passe" {
		t.Fatalf("reset: %d to %q %s", p.status, p.header.Get("Location"), p.body)
	}
	p = b.submit(link, "/reinitialiser", url.Values{"token": {token}, "password": {newPW}, "password2": {newPW}})
	wantPage(t, "reused link", p, http.StatusBadRequest, "plus valable")
	p = b.submit("/connexion", "/connexion", url.Values{"email": {email}, "password": {newPW}})
	if p.status != http.StatusSeeOther || b.cookie(sessionCookie) == "" {
		t.Errorf("login with the new password: %d", p.status)
	}
}

func TestPages_StaticAssetsHashedCachedAndCompressed(t *testing.T) {
	t.Parallel()
	static := os.DirFS(filepath.Join("..", "..", "web", "static"))
	h := New(Deps{Logger: slog.New(slog.DiscardHandler), Store: emptyStore{}, Web: static})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("home: %d, Content-Encoding %q, want gzip", w.Code, w.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	css := regexp.MustCompile(`href="(/static/app\.css\?v=[0-9a-f]{12})"`).FindSubmatch(body)
	if css == nil {
		t.Fatalf("no hashed stylesheet URL in %s", body)
	}
	for path, want := range map[string]string{string(css[1]): "public, max-age=31536000, immutable",
		"/static/app.css": "no-cache", "/static/app.css?v=000000000000": "no-cache"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != want {
			t.Errorf("%s: %d, Cache-Control %q, want %q", path, w.Code, w.Header().Get("Cache-Control"), want)
		}
	}
}

// emptyStore serves pages without a database: no dataset loaded.
type emptyStore struct{}

func (emptyStore) Ping(context.Context) error { return nil }
func (emptyStore) Datasets(context.Context, bool) ([]postgres.Dataset, error) {
	return nil, nil
}
func (emptyStore) DatasetWarnings(context.Context, int64) ([]ingest.Warning, error) {
	return nil, nil
}

func TestPages_ErrorAdapter(t *testing.T) {
	t.Parallel()
	s := newShell(slog.New(slog.DiscardHandler), nil)
	for _, tc := range []struct {
		err    error
		status int
		title  string
	}{
		{fmt.Errorf("x: %w", errs.ErrForbidden), http.StatusForbidden, "Accès refusé"},
		{fmt.Errorf("x: %w", errs.ErrNotFound), http.StatusNotFound, "Page introuvable"},
		{fmt.Errorf("champ y: %w", errs.ErrInvalid), http.StatusBadRequest, "Requête invalide"},
		{fmt.Errorf("x: %w", errs.ErrConflict), http.StatusConflict, "Conflit"},
		{auth.ErrThrottled, http.StatusTooManyRequests, "Trop de tentatives"},
		{errors.New("connexion perdue au serveur 10.0.0.7"), http.StatusInternalServerError, "Erreur du serveur"},
	} {
		fail := func(http.ResponseWriter, *http.Request) error { return tc.err }
		w := httptest.NewRecorder()
		s.page(fail)(w, httptest.NewRequest("GET", "/x", nil))
		if w.Code != tc.status || !strings.Contains(w.Body.String(), "<h1>"+tc.title+"</h1>") ||
			!strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("page(%v): %d %q", tc.err, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "10.0.0.7") {
			t.Errorf("page(%v) shows internal details", tc.err)
		}
		w = httptest.NewRecorder()
		s.api(fail)(w, httptest.NewRequest("GET", "/api/x", nil))
		var body map[string]string
		if w.Code != tc.status || json.Unmarshal(w.Body.Bytes(), &body) != nil || body["error"] == "" {
			t.Errorf("api(%v): %d %q", tc.err, w.Code, w.Body)
		}
	}
	w := httptest.NewRecorder()
	s.page(func(http.ResponseWriter, *http.Request) error { return errs.ErrUnauthorized })(w, httptest.NewRequest("GET", "/compte?a=1", nil))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/connexion?retour=%2Fcompte%3Fa%3D1" {
		t.Errorf("unauthenticated page: %d to %q", w.Code, w.Header().Get("Location"))
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{"/compte": "/compte", "/carte#12/48/2": "/carte#12/48/2", "//evil.example": "",
		"/\\evil.example": "", "https://evil.example/": "", "compte": "", "": ""} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPages_OwnAssetsWithinBudget keeps our own scripts and stylesheets (vendored
// libraries aside) under 100 KB gzipped, the most any page may load of them.
func TestPages_OwnAssetsWithinBudget(t *testing.T) {
	const budget = 100 << 10
	total := 0
	err := fs.WalkDir(web.FS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.Name() == "vendor" {
				return fs.SkipDir
			}
			return err
		}
		if ext := path.Ext(p); ext != ".css" && ext != ".js" && ext != ".mjs" {
			return nil
		}
		b, err := fs.ReadFile(web.FS, p)
		if err != nil {
			return err
		}
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		t.Logf("%s: %d bytes, %d gzipped", p, len(b), z.Len())
		total += z.Len()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || total > budget {
		t.Errorf("own JS and CSS: %d bytes gzipped, budget %d", total, budget)
	}
}
