package server

import (
	"fmt"
	"net/http"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/postgres"
)

// pageMember is the member of a page that needs one; the page adapter sends anyone else
// to the login page.
func pageMember(r *http.Request) (*auth.Member, error) {
	m := auth.MemberFrom(r.Context())
	if m == nil {
		return nil, fmt.Errorf("sign in first: %w", errs.ErrUnauthorized)
	}
	return m, nil
}

// compteData is what the account page shows besides the profile form.
type compteData struct {
	Email    string
	Status   string
	Consents []purposeField
}

// statusLabels name a member's standing in French.
var statusLabels = map[auth.Status]string{
	auth.StatusSympathisant: "sympathisant·e",
	auth.StatusAdherent:     "adhérent·e",
	auth.StatusFormer:       "ancien·ne membre",
}

// accountPage renders /compte with the profile form f (the stored profile when nil).
func (s *shell) accountPage(d Deps, w http.ResponseWriter, r *http.Request, status int, f *form) error {
	m, err := pageMember(r)
	if err != nil {
		return err
	}
	p, err := d.Members.Profile(r.Context(), m.ID)
	if err != nil {
		return err
	}
	cs, err := d.Members.Consents(r.Context(), m.ID)
	if err != nil {
		return err
	}
	granted := map[string]bool{}
	for _, c := range cs {
		granted[c.Purpose] = c.Granted
	}
	if f == nil {
		f = newForm()
		f.Values = map[string]string{"prenom": p.FirstName, "nom": p.LastName, "telephone": p.Phone, "adresse": p.Address}
	}
	data := compteData{Email: p.Email, Status: statusLabels[p.Status], Consents: purposeFields(func(p string) bool { return granted[p] })}
	return s.render(w, r, status, "compte", "Mon compte", f, data)
}

func (s *shell) handleAccount(d Deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return s.accountPage(d, w, r, http.StatusOK, nil)
	}
}

// handleProfilePost corrects the member's own details through the store function of
// PATCH /api/me.
func (s *shell) handleProfilePost(d Deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := pageMember(r)
		if err != nil {
			return err
		}
		if err := parseForm(w, r); err != nil {
			return err
		}
		f := formFrom(r, "prenom", "nom", "telephone", "adresse")
		for _, name := range []string{"prenom", "nom"} {
			if msg := checkName(f.V(name)); msg != "" {
				f.fail(name, msg)
			}
		}
		checkContact(f)
		if !f.ok() {
			return s.accountPage(d, w, r, http.StatusBadRequest, f)
		}
		u := postgres.ProfileUpdate{FirstName: new(f.V("prenom")), LastName: new(f.V("nom")),
			Phone: new(f.V("telephone")), Address: new(f.V("adresse"))}
		if err := d.Members.UpdateProfile(r.Context(), m.ID, u); err != nil {
			return err
		}
		return seeOther(w, r, "/compte?message=profil")
	}
}

// handleConsentsPost records the answers that changed; consents are kept as history,
// so unchanged answers add nothing.
func (s *shell) handleConsentsPost(d Deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := pageMember(r)
		if err != nil {
			return err
		}
		if err := parseForm(w, r); err != nil {
			return err
		}
		cur, err := d.Members.Consents(r.Context(), m.ID)
		if err != nil {
			return err
		}
		before := map[string]bool{}
		known := map[string]bool{}
		for _, c := range cur {
			before[c.Purpose], known[c.Purpose] = c.Granted, true
		}
		var changed []auth.Consent
		for _, p := range auth.Purposes() {
			granted := r.PostForm.Get("consent_"+p) != ""
			if !known[p] || before[p] != granted {
				changed = append(changed, auth.Consent{Purpose: p, Granted: granted, Source: "web"})
			}
		}
		if len(changed) > 0 {
			if err := d.Members.AddConsents(r.Context(), m.ID, changed); err != nil {
				return err
			}
		}
		return seeOther(w, r, "/compte?message=consentements")
	}
}

// handleExportPost downloads everything held about the member (GDPR art. 15 and 20),
// as GET /api/me/export does; the store audits it. A POST with the form token, so
// another site cannot make a browser add entries to the audit log.
func (s *shell) handleExportPost(d Deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := pageMember(r)
		if err != nil {
			return err
		}
		if err := parseForm(w, r); err != nil {
			return err
		}
		x, err := d.Members.ExportMemberData(r.Context(), m.ID, clientIP(r, d.TrustProxy))
		if err != nil {
			return err
		}
		w.Header().Set("Content-Disposition", `attachment; filename="coopol-mes-donnees.json"`)
		respondJSON(w, http.StatusOK, x)
		return nil
	}
}

func (s *shell) eraseForm(w http.ResponseWriter, r *http.Request) error {
	if _, err := pageMember(r); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "supprimer", "Supprimer mon compte", newForm(), nil)
}

// handleErasePost erases the member's account after checking the password again and an
// explicit confirmation, as DELETE /api/me does.
func (s *shell) handleErasePost(d Deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := pageMember(r)
		if err != nil {
			return err
		}
		if err := parseForm(w, r); err != nil {
			return err
		}
		if m.Method != auth.MethodSession {
			return fmt.Errorf("erasing an account needs a browser session: %w", errs.ErrForbidden)
		}
		f := newForm()
		password := r.PostForm.Get("password")
		if password == "" || len(password) > 256 {
			f.fail("password", "Indiquez votre mot de passe actuel.")
		} else {
			p, err := d.Members.Profile(r.Context(), m.ID)
			if err != nil {
				return err
			}
			_, hash, err := d.Members.Credentials(r.Context(), p.Email)
			if err != nil {
				return err
			}
			ok, err := d.Hasher.Verify(r.Context(), hash, password)
			if err != nil {
				return err
			}
			if !ok {
				f.fail("password", "Mot de passe incorrect.")
			}
		}
		if r.PostForm.Get("confirmer") != "" {
			f.Values["confirmer"] = "on"
		} else {
			f.fail("confirmer", "Cochez cette case pour confirmer la suppression.")
		}
		if !f.ok() {
			return s.render(w, r, http.StatusBadRequest, "supprimer", "Supprimer mon compte", f, nil)
		}
		if err := d.Members.EraseMember(r.Context(), m.ID, clientIP(r, d.TrustProxy)); err != nil {
			return err
		}
		clearSessionCookies(w, r)
		return seeOther(w, r, "/?message=compte-supprime")
	}
}

// homeData tells the home page who is reading it.
type homeData struct {
	Tools []navItem
}

// handleHome presents coopol to a visitor, and their tools to a member.
func (s *shell) handleHome(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path != "/" {
		return fmt.Errorf("%s: %w", r.URL.Path, errs.ErrNotFound)
	}
	var tools []navItem
	if m := auth.MemberFrom(r.Context()); m != nil {
		tools = navigation(m, "")
	}
	return s.render(w, r, http.StatusOK, "accueil", "Accueil", nil, homeData{Tools: tools})
}
