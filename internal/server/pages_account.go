package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/territory"
)

// purposeLabels names each consent purpose in French, in the order of auth.Purposes.
var purposeLabels = map[string]string{
	"newsletter":      "Recevoir la lettre d'information par e-mail",
	"sms":             "Recevoir des SMS (mobilisations, rappels)",
	"phone":           "Être appelé·e par téléphone",
	"section_contact": "Être contacté·e par les responsables de ma section",
}

type purposeField struct {
	Name, Label string
	Checked     bool
}

// purposeFields are the consent checkboxes, checked where checked says so.
func purposeFields(checked func(purpose string) bool) []purposeField {
	var out []purposeField
	for _, p := range auth.Purposes() {
		out = append(out, purposeField{Name: "consent_" + p, Label: purposeLabels[p], Checked: checked(p)})
	}
	return out
}

// resetMail is the e-mail carrying a password-reset link. The token rides in the query
// so the link works without JavaScript; the reset page sends no Referer, so it does not
// leak onwards.
func resetMail(baseURL, token string) func(auth.Profile) mail.Message {
	return func(p auth.Profile) mail.Message {
		return mail.Message{To: p.Email, Subject: "Réinitialisation de votre mot de passe coopol",
			Body: fmt.Sprintf("Bonjour %s,\n\nPour choisir un nouveau mot de passe, ouvrez ce lien dans les 30 minutes :\n%s/reinitialiser?token=%s\n\n"+
				"Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste inchangé.\n", p.FirstName, baseURL, url.QueryEscape(token))}
	}
}

// checkPassword is the one login check, shared by the API and the login form: the
// attempt is charged to the account and the IP before the password is hashed (costly
// even for unknown addresses), failures are recorded. It returns the member id, or an
// error wrapping auth.ErrThrottled (with Retry-After set) or errs.ErrUnauthorized.
func checkPassword(w http.ResponseWriter, r *http.Request, d Deps, email, password string) (int64, error) {
	ctx, ip := r.Context(), clientIP(r, d.TrustProxy)
	if err := claimPasswordCheck(w, r, d, email, ip); err != nil {
		return 0, err
	}
	id, hash, err := d.Members.Credentials(ctx, email)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return 0, err
	}
	ok, err := d.Hasher.Verify(ctx, hash, password) // hash "" still costs a hash
	if err != nil {
		return 0, err
	}
	if !ok {
		var who *int64
		if id != 0 {
			who = &id
		}
		if err := d.Members.RecordLoginFailure(ctx, who, ip, "bad credentials"); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("e-mail ou mot de passe incorrect: %w", errs.ErrUnauthorized)
	}
	if d.Hasher.NeedsRehash(hash) {
		if h, err := d.Hasher.Hash(ctx, password); err == nil {
			if err := d.Members.SetPassword(ctx, id, h); err != nil {
				d.Logger.WarnContext(ctx, "rehash password", "member_id", id, "err", err)
			}
		}
	}
	// A success clears the account's count and does not count against its IP.
	if err := d.Members.ForgiveAttempt(ctx, []string{postgres.AccountThrottleKey(email)}, []string{postgres.IPThrottleKey(ip)}); err != nil {
		d.Logger.WarnContext(ctx, "throttle reset", "err", err)
	}
	return id, nil
}

// startSession opens a new session for member id and sets its cookies. A session cookie
// that came in is replaced, never promoted. It returns the session token.
func startSession(ctx context.Context, d Deps, w http.ResponseWriter, r *http.Request, id int64) (string, error) {
	token, tokenHash := auth.NewToken()
	s := postgres.Session{MemberID: id, TokenHash: tokenHash, ExpiresAt: time.Now().Add(sessionTTL),
		IP: clientIP(r, d.TrustProxy), UserAgent: r.UserAgent()}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		s.Replaces = auth.HashToken(c.Value)
	}
	if err := d.Members.CreateSession(ctx, s); err != nil {
		return "", err
	}
	setSessionCookies(w, r, token, s.ExpiresAt)
	d.Logger.InfoContext(ctx, "login", "member_id", id)
	return token, nil
}

func (s *shell) loginForm(w http.ResponseWriter, r *http.Request) error {
	f := newForm()
	f.Values["retour"] = localPath(r.URL.Query().Get("retour"))
	return s.render(w, r, http.StatusOK, "connexion", "Connexion", f, nil)
}

// handleLoginPost signs in from the login form, then goes back where the member was
// sent from (a local path only).
func (s *shell) handleLoginPost(d Deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(w, r); err != nil {
			return err
		}
		f := formFrom(r, "email", "retour")
		f.Values["retour"] = localPath(f.Values["retour"])
		email, password := auth.NormalizeEmail(f.V("email")), r.PostForm.Get("password")
		if email == "" {
			f.fail("email", "Indiquez votre adresse e-mail.")
		} else if len(email) > 254 {
			f.fail("email", "Cette adresse est trop longue.")
		}
		if password == "" {
			f.fail("password", "Indiquez votre mot de passe.")
		} else if len(password) > 256 {
			f.fail("password", "Ce mot de passe est trop long.")
		}
		if !f.ok() {
			return s.render(w, r, http.StatusBadRequest, "connexion", "Connexion", f, nil)
		}
		id, err := checkPassword(w, r, d, email, password)
		switch {
		case errors.Is(err, auth.ErrThrottled):
			w.Header().Set("Retry-After", fmt.Sprint(int(d.Throttle.Window.Seconds())))
			f.Error = "Trop de tentatives pour ce compte ou depuis cette adresse. Attendez un quart d'heure, ou réinitialisez votre mot de passe."
			return s.render(w, r, http.StatusTooManyRequests, "connexion", "Connexion", f, nil)
		case errors.Is(err, errs.ErrUnauthorized):
			f.Error = "E-mail ou mot de passe incorrect."
			return s.render(w, r, http.StatusUnauthorized, "connexion", "Connexion", f, nil)
		case err != nil:
			return err
		}
		if _, err := startSession(r.Context(), d, w, r, id); err != nil {
			return err
		}
		if to := f.V("retour"); to != "" {
			return seeOther(w, r, to)
		}
		return seeOther(w, r, "/?message=connecte")
	}
}

// signUpFields are the text fields of the sign-up form, kept when it is re-rendered.
var signUpFields = []string{"prenom", "nom", "email", "telephone", "adresse", "commune"}

func (s *shell) signUpForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, http.StatusOK, "inscription", "Inscription", newForm(),
		purposeFields(func(string) bool { return false }))
}

// checkName is the French message for a bad first or last name, "" when it is fine.
func checkName(v string) string {
	switch {
	case v == "":
		return "Ce champ est obligatoire."
	case utf8.RuneCountInString(v) > 100:
		return "100 caractères au plus."
	}
	return ""
}

// checkContact is the French message for a bad phone or address, by field.
func checkContact(f *form) {
	if utf8.RuneCountInString(f.V("telephone")) > 30 {
		f.fail("telephone", "30 caractères au plus.")
	}
	if utf8.RuneCountInString(f.V("adresse")) > 300 {
		f.fail("adresse", "300 caractères au plus.")
	}
}

// handleSignUpPost creates a sympathisant account in the section covering their commune
// (national when none does), as POST /api/auth/signup does, then signs them in.
func (s *shell) handleSignUpPost(d Deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(w, r); err != nil {
			return err
		}
		f := formFrom(r, signUpFields...)
		password := r.PostForm.Get("password")
		consents := purposeFields(func(p string) bool { return r.PostForm.Get("consent_"+p) != "" })
		for _, name := range []string{"prenom", "nom"} {
			if msg := checkName(f.V(name)); msg != "" {
				f.fail(name, msg)
			}
		}
		email := auth.NormalizeEmail(f.V("email"))
		if email == "" {
			f.fail("email", "Indiquez votre adresse e-mail.")
		} else if auth.ValidateEmail(email) != nil {
			f.fail("email", "Cette adresse e-mail n'est pas valide (exemple : prenom.nom@exemple.fr).")
		}
		if auth.ValidatePassword(password) != nil {
			f.fail("password", "Choisissez un mot de passe de 12 à 256 caractères.")
		}
		checkContact(f)
		var area territory.Area
		if c := f.V("commune"); c != "" {
			a, err := territory.ParseArea(c, "")
			if err != nil {
				f.fail("commune", "Indiquez le code INSEE de votre commune, 5 caractères (exemple : 92002).")
			}
			area = a
		}
		if !f.ok() {
			return s.render(w, r, http.StatusBadRequest, "inscription", "Inscription", f, consents)
		}
		su := auth.SignUp{Email: email, Password: password, FirstName: f.V("prenom"), LastName: f.V("nom"),
			Phone: f.V("telephone"), Address: f.V("adresse")}
		for _, c := range consents {
			su.Consents = append(su.Consents, auth.Consent{Purpose: strings.TrimPrefix(c.Name, "consent_"),
				Granted: c.Checked, Source: "signup"})
		}
		if err := su.Validate(); err != nil {
			return err
		}
		t, err := d.Members.NationalTerritory(r.Context())
		if err != nil {
			return err
		}
		if area.Commune != "" {
			sec, err := d.Members.SectionFor(r.Context(), area)
			switch {
			case err == nil:
				t = sec
			case !errors.Is(err, errs.ErrNotFound):
				return err
			}
		}
		su.TerritoryID = t.ID
		if su.PasswordHash, err = d.Hasher.Hash(r.Context(), password); err != nil {
			return err
		}
		id, err := d.Members.SignUp(r.Context(), su)
		if errors.Is(err, errs.ErrConflict) {
			f.fail("email", "Un compte existe déjà avec cette adresse. Connectez-vous, ou réinitialisez votre mot de passe.")
			return s.render(w, r, http.StatusConflict, "inscription", "Inscription", f, consents)
		}
		if err != nil {
			return err
		}
		if _, err := startSession(r.Context(), d, w, r, id); err != nil {
			return err
		}
		return seeOther(w, r, "/compte?message=bienvenue")
	}
}

func (s *shell) forgotForm(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, http.StatusOK, "oubli", "Mot de passe oublié", newForm(), nil)
}

// handleForgotPost queues a reset link by e-mail. The answer is the same whether or not
// the address has an account, so the form cannot be used to find members.
func (s *shell) handleForgotPost(d Deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(w, r); err != nil {
			return err
		}
		f := formFrom(r, "email")
		email := auth.NormalizeEmail(f.V("email"))
		if auth.ValidateEmail(email) != nil {
			f.fail("email", "Indiquez une adresse e-mail valide (exemple : prenom.nom@exemple.fr).")
			return s.render(w, r, http.StatusBadRequest, "oubli", "Mot de passe oublié", f, nil)
		}
		token, hash := auth.NewToken()
		if err := d.Members.RequestPasswordReset(r.Context(), email, hash, time.Now().Add(resetTTL),
			clientIP(r, d.TrustProxy), resetMail(d.BaseURL, token)); err != nil {
			return err
		}
		return seeOther(w, r, "/mot-de-passe-oublie?message=lien-envoye")
	}
}

// resetHeaders keep the reset token of the page's URL out of Referer headers and caches.
func resetHeaders(w http.ResponseWriter) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
}

func (s *shell) resetForm(w http.ResponseWriter, r *http.Request) error {
	resetHeaders(w)
	f := newForm()
	f.Values["token"] = r.URL.Query().Get("token")
	if f.V("token") == "" || len(f.V("token")) > 100 {
		f.Error = "Ce lien est incomplet. Ouvrez le lien reçu par e-mail tel quel, ou demandez-en un nouveau."
		f.Values["token"] = ""
	}
	return s.render(w, r, http.StatusOK, "reinitialiser", "Nouveau mot de passe", f, nil)
}

// handleResetPost sets the new password of a reset link; every session of the account
// is closed by the store, and the member logs in with the new password.
func (s *shell) handleResetPost(d Deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		resetHeaders(w)
		if err := parseForm(w, r); err != nil {
			return err
		}
		f := formFrom(r, "token")
		password := r.PostForm.Get("password")
		if f.V("token") == "" || len(f.V("token")) > 100 {
			f.Error = "Ce lien est incomplet. Ouvrez le lien reçu par e-mail tel quel, ou demandez-en un nouveau."
		}
		if auth.ValidatePassword(password) != nil {
			f.fail("password", "Choisissez un mot de passe de 12 à 256 caractères.")
		} else if password != r.PostForm.Get("password2") {
			f.fail("password2", "Les deux mots de passe diffèrent.")
		}
		if !f.ok() {
			return s.render(w, r, http.StatusBadRequest, "reinitialiser", "Nouveau mot de passe", f, nil)
		}
		h, err := d.Hasher.Hash(r.Context(), password)
		if err != nil {
			return err
		}
		err = d.Members.ConfirmPasswordReset(r.Context(), auth.HashToken(f.V("token")), h, clientIP(r, d.TrustProxy))
		if errors.Is(err, errs.ErrInvalid) {
			f.Error = "Ce lien n'est plus valable (déjà utilisé ou plus de 30 minutes). Demandez-en un nouveau."
			return s.render(w, r, http.StatusBadRequest, "reinitialiser", "Nouveau mot de passe", f, nil)
		}
		if err != nil {
			return err
		}
		return seeOther(w, r, "/connexion?message=mot-de-passe")
	}
}

// handleLogoutPost closes the current session.
func (s *shell) handleLogoutPost(d Deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(w, r); err != nil {
			return err
		}
		if m := auth.MemberFrom(r.Context()); m != nil && m.Method == auth.MethodSession {
			if err := d.Members.DeleteSession(r.Context(), m.SessionHash); err != nil {
				return err
			}
		}
		clearSessionCookies(w, r)
		return seeOther(w, r, "/?message=deconnecte")
	}
}
