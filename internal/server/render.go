package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/web"
)

// handlerFunc is a handler that returns its failure instead of writing it: page and api
// turn the error kind into a status and render it, French HTML or JSON, in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// pageCSP is the policy of server-rendered pages: our own scripts and stylesheets only,
// no inline script or style, forms posting back to us only.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// shell renders the pages of the web app: the layout, the navigation, the error pages.
type shell struct {
	log   *slog.Logger
	pages map[string]*template.Template // by page name, each with the layout
	// assets maps a static file name to its content hash, for cache-busting URLs.
	assets map[string]string
}

// newShell parses the embedded templates. They are part of the program: a parse error
// is a bug, caught by every test that builds a server.
func newShell(log *slog.Logger, static fs.FS) *shell {
	s := &shell{log: log, pages: map[string]*template.Template{}, assets: map[string]string{}}
	if static != nil {
		_ = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(static, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			s.assets[p] = hex.EncodeToString(sum[:])[:12]
			return nil
		})
	}
	funcs := template.FuncMap{"asset": s.assetURL, "field": newField}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(web.Templates, "templates/layout.html"))
	names, err := fs.Glob(web.Templates, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		s.pages[name] = template.Must(template.Must(layout.Clone()).ParseFS(web.Templates, n))
	}
	return s
}

// assetURL is the URL of a static file with its content hash, which serveStatic answers
// with a year-long immutable cache: a changed file gets a new URL.
func (s *shell) assetURL(name string) string {
	if h, ok := s.assets[name]; ok {
		return "/static/" + name + "?v=" + h
	}
	return "/static/" + name
}

// serveStatic serves the static files; a URL carrying the current hash is cached for a
// year, anything else is revalidated.
func (s *shell) serveStatic(static fs.FS) http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if v := r.URL.Query().Get("v"); v != "" && v == s.assets[name] {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// navItem is one entry of the navigation.
type navItem struct {
	Href, Label string
	Current     bool
}

// view is what every page template receives: the layout's needs, then the page's own.
type view struct {
	Title    string
	Nav      []navItem
	SignedIn bool
	CSRF     string // the hidden field of every form
	Notice   string // a fixed French message after a redirect, never user input
	Status   int
	Form     *form
	Data     any
}

// navigation is the menu for m (nil: a visitor). An entry appears only where the member
// holds a permission it needs: the pages still check with auth.Authorize.
func navigation(m *auth.Member, current string) []navItem {
	items := []navItem{{Href: "/carte", Label: "Carte"}}
	if m.Any(auth.PermFieldRecord) || m.Any(auth.PermCampaign) {
		items = append(items, navItem{Href: "/ciblage", Label: "Ciblage"})
	}
	if m.Any(auth.PermDataExport) {
		items = append(items, navItem{Href: "/analyses", Label: "Analyses"})
	}
	items = append(items, navItem{Href: "/donnees", Label: "Données"})
	if m.Any(auth.PermRoleGrant) || m.Any(auth.PermTerritoryManage) || m.Any(auth.PermAuditRead) {
		items = append(items, navItem{Href: "/administration", Label: "Administration"})
	}
	if m != nil {
		items = append(items, navItem{Href: "/compte", Label: "Mon compte"})
	} else {
		items = append(items, navItem{Href: "/connexion", Label: "Connexion"})
	}
	for i := range items {
		items[i].Current = items[i].Href == current
	}
	return items
}

// notices are the messages a redirect may ask a page to show, by key: the query string
// chooses among them and is never echoed.
var notices = map[string]string{
	"bienvenue":       "Votre compte est créé et vous êtes connecté·e.",
	"connecte":        "Vous êtes connecté·e.",
	"deconnecte":      "Vous êtes déconnecté·e.",
	"profil":          "Votre profil est enregistré.",
	"consentements":   "Vos choix sont enregistrés.",
	"compte-supprime": "Votre compte et vos données personnelles ont été supprimés.",
	"lien-envoye":     "Si un compte existe pour cette adresse, un e-mail avec un lien vient de lui être envoyé. Le lien vaut 30 minutes.",
	"mot-de-passe":    "Votre mot de passe est changé. Connectez-vous avec le nouveau.",
}

// render writes page name with status. The body is built in memory first, so a
// template failure becomes a clean 500 instead of half a page.
func (s *shell) render(w http.ResponseWriter, r *http.Request, status int, name, title string, f *form, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("page template %q missing", name)
	}
	m := auth.MemberFrom(r.Context())
	if f != nil && !f.ok() {
		title = "Erreur : " + title // read first by screen readers after a failed submit
	}
	v := view{Title: title, Nav: navigation(m, r.URL.Path), SignedIn: m != nil, CSRF: formToken(w, r),
		Notice: notices[r.URL.Query().Get("message")], Status: status, Form: f, Data: data}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	setPageHeaders(w)
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	if err != nil {
		s.log.DebugContext(r.Context(), "write page", "page", name, "err", err)
	}
	return nil
}

// setPageHeaders adds what every HTML answer carries; a CSP set by an outer middleware
// is left as it is.
func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", pageCSP)
	}
	if h.Get("Referrer-Policy") == "" {
		h.Set("Referrer-Policy", "same-origin")
	}
}

// page adapts a handler of an HTML page: its error becomes a French error page, or a
// redirect to the login page when nobody is signed in.
func (s *shell) page(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.pageError(w, r, err)
		}
	}
}

// api adapts a handler of /api: its error becomes {"error": …} with the status of its kind.
func (s *shell) api(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			respondError(w, r, s.log, err)
		}
	}
}

// errorTitles are the French titles of the error pages, by status.
var errorTitles = map[int]string{
	http.StatusBadRequest:          "Requête invalide",
	http.StatusUnauthorized:        "Connexion nécessaire",
	http.StatusForbidden:           "Accès refusé",
	http.StatusNotFound:            "Page introuvable",
	http.StatusMethodNotAllowed:    "Méthode non permise",
	http.StatusConflict:            "Conflit",
	http.StatusTooManyRequests:     "Trop de tentatives",
	http.StatusInternalServerError: "Erreur du serveur",
	http.StatusGatewayTimeout:      "Délai dépassé",
}

// errorTexts explain each status to a person, in French, without internal details.
var errorTexts = map[int]string{
	http.StatusBadRequest:          "La demande est mal formée. Vérifiez l'adresse ou le formulaire, puis réessayez.",
	http.StatusUnauthorized:        "Connectez-vous pour voir cette page.",
	http.StatusForbidden:           "Vous n'avez pas les droits nécessaires pour cette page, ou le formulaire a expiré. Rechargez la page précédente et réessayez.",
	http.StatusNotFound:            "Cette page n'existe pas ou plus. Vérifiez l'adresse.",
	http.StatusMethodNotAllowed:    "Cette adresse ne s'utilise pas ainsi.",
	http.StatusConflict:            "La demande entre en conflit avec l'état actuel des données. Rechargez la page et réessayez.",
	http.StatusTooManyRequests:     "Trop de tentatives en peu de temps. Attendez quelques minutes avant de réessayer.",
	http.StatusInternalServerError: "Une erreur est survenue de notre côté. Elle est enregistrée ; réessayez dans un moment.",
	http.StatusGatewayTimeout:      "La demande a pris trop de temps. Réessayez dans un moment.",
}

type errorData struct {
	Status int
	Text   string
	Detail string
}

// pageError renders err as a French error page. Only the messages of invalid input and
// conflicts are shown, since they speak of what the person sent; the rest is logged.
func (s *shell) pageError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status == http.StatusUnauthorized && safeMethod(r.Method) {
		http.Redirect(w, r, "/connexion?retour="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "page failed", "path", r.URL.Path, "err", err,
			"request_id", middleware.GetReqID(r.Context()))
	}
	s.errorPage(w, r, status, err)
}

func (s *shell) errorPage(w http.ResponseWriter, r *http.Request, status int, err error) {
	d := errorData{Status: status, Text: errorTexts[status]}
	if d.Text == "" {
		d.Text = errorTexts[http.StatusInternalServerError]
	}
	if err != nil && (status == http.StatusBadRequest || status == http.StatusConflict) {
		d.Detail = err.Error()
	}
	title := errorTitles[status]
	if title == "" {
		title = http.StatusText(status)
	}
	if rerr := s.render(w, r, status, "erreur", title, nil, d); rerr != nil {
		s.log.ErrorContext(r.Context(), "render error page", "err", rerr)
		http.Error(w, title, status)
	}
}

// notFound answers unknown paths: JSON under /api, a French page elsewhere.
func (s *shell) notFound(w http.ResponseWriter, r *http.Request) {
	err := fmt.Errorf("%s: %w", r.URL.Path, errs.ErrNotFound)
	if isAPI(r) {
		respondError(w, r, s.log, err)
		return
	}
	s.errorPage(w, r, http.StatusNotFound, err)
}

func (s *shell) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if isAPI(r) {
		respondJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}
	s.errorPage(w, r, http.StatusMethodNotAllowed, nil)
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// formCookie holds a random secret for the forms of visitors without a session (login,
// sign-up, reset), so those forms carry a CSRF token too.
const formCookie = "coopol_form"

// formField is the name of the hidden CSRF field of every form.
const formField = "csrf"

// formToken is the CSRF token of the forms of this page: derived from the session for a
// signed-in member, from the visitor's form cookie otherwise (set here when missing).
func formToken(w http.ResponseWriter, r *http.Request) string {
	if secret := formSecret(r); secret != "" {
		return auth.CSRFToken(secret)
	}
	secret, _ := auth.NewToken()
	http.SetCookie(w, &http.Cookie{Name: formCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: isTLS(r), SameSite: http.SameSiteLaxMode})
	return auth.CSRFToken(secret)
}

// formSecret is the secret the request's form token derives from.
func formSecret(r *http.Request) string {
	if m := auth.MemberFrom(r.Context()); m != nil && m.Method == auth.MethodSession {
		if c, err := r.Cookie(sessionCookie); err == nil {
			return c.Value
		}
	}
	if c, err := r.Cookie(formCookie); err == nil && len(c.Value) >= 20 {
		return c.Value
	}
	return ""
}

// maxForm bounds form bodies: our forms hold a few short fields.
const maxForm = 16 << 10

// parseForm reads a POSTed form and checks its CSRF field (or the X-CSRF-Token header
// scripts send), refusing with ErrForbidden.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("formulaire illisible: %v: %w", err, errs.ErrInvalid)
	}
	for _, vs := range r.PostForm {
		for _, v := range vs {
			// PostgreSQL text holds neither: refused here, not as a 500 later.
			if strings.ContainsRune(v, 0) || !utf8.ValidString(v) {
				return fmt.Errorf("formulaire: caractère NUL ou UTF-8 invalide: %w", errs.ErrInvalid)
			}
		}
	}
	secret := formSecret(r)
	submitted := r.PostForm.Get(formField)
	if submitted == "" {
		submitted = r.Header.Get(csrfHeader)
	}
	if secret == "" || !auth.CheckCSRF(secret, submitted) {
		return fmt.Errorf("formulaire sans jeton CSRF valide: %w", errs.ErrForbidden)
	}
	return nil
}

// form is a submitted form: what was typed (passwords never kept) and French messages
// per field.
type form struct {
	Values map[string]string
	Errors map[string]string
	Error  string   // about the whole form
	order  []string // fields in error, in the order checked (the page's order)
}

func newForm() *form { return &form{Values: map[string]string{}, Errors: map[string]string{}} }

// formFrom keeps the typed values of fields, trimmed.
func formFrom(r *http.Request, fields ...string) *form {
	f := newForm()
	for _, name := range fields {
		f.Values[name] = strings.TrimSpace(r.PostForm.Get(name))
	}
	return f
}

func (f *form) fail(field, msg string) {
	if _, dup := f.Errors[field]; !dup {
		f.order = append(f.order, field)
	}
	f.Errors[field] = msg
}

// fieldError is one line of the error summary at the top of a form.
type fieldError struct{ Field, Message string }

// Summary lists the field errors in page order, for the links of the summary.
func (f *form) Summary() []fieldError {
	if f == nil {
		return nil
	}
	out := make([]fieldError, 0, len(f.order))
	for _, name := range f.order {
		out = append(out, fieldError{name, f.Errors[name]})
	}
	return out
}

func (f *form) ok() bool { return len(f.Errors) == 0 && f.Error == "" }

// V is the typed value of a field, for templates.
func (f *form) V(name string) string {
	if f == nil {
		return ""
	}
	return f.Values[name]
}

// E is the error message of a field, for templates.
func (f *form) E(name string) string {
	if f == nil {
		return ""
	}
	return f.Errors[name]
}

// fieldView is one labelled input of a form, rendered by the "champ" template of the
// layout: label, input with what was typed, French message tied by aria-describedby.
type fieldView struct {
	Name, Label, Type, Autocomplete, Value, Error, Hint string
	Required                                            bool
}

// newField builds a fieldView from a template: field .Form "email" "Adresse e-mail"
// "email" "email" true. Password fields never carry a value back.
func newField(f *form, name, label, typ, autocomplete string, required bool) fieldView {
	v := fieldView{Name: name, Label: label, Type: typ, Autocomplete: autocomplete, Required: required, Error: f.E(name)}
	if typ != "password" {
		v.Value = f.V(name)
	}
	return v
}

// seeOther redirects after a successful POST, so reloading does not post again.
func seeOther(w http.ResponseWriter, r *http.Request, to string) error {
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// localPath keeps a return address only when it stays on this site.
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return ""
	}
	if u, err := url.Parse(p); err != nil || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return p
}
