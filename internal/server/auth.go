package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/territory"
)

// Lifetimes of the secrets the account endpoints hand out.
const (
	sessionTTL     = 14 * 24 * time.Hour
	resetTTL       = 30 * time.Minute
	maxAPITokenTTL = 366 * 24 * time.Hour
)

type signUpRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Phone     string `json:"phone"`
	Address   string `json:"address"`
	Commune   string `json:"commune"` // INSEE code of where they live: places them in a section
	Bureau    string `json:"bureau"`  // optional bureau key, for communes split between sections
	Consents  []struct {
		Purpose string `json:"purpose"`
		Granted bool   `json:"granted"`
	} `json:"consents"`
}

// parseSignUp decodes and checks a sign-up body; the area is zero when no commune is given.
func parseSignUp(r *http.Request) (auth.SignUp, territory.Area, error) {
	var req signUpRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return auth.SignUp{}, territory.Area{}, err
	}
	s := auth.SignUp{Email: req.Email, Password: req.Password, FirstName: req.FirstName, LastName: req.LastName,
		Phone: strings.TrimSpace(req.Phone), Address: strings.TrimSpace(req.Address)}
	for _, c := range req.Consents {
		s.Consents = append(s.Consents, auth.Consent{Purpose: c.Purpose, Granted: c.Granted, Source: "signup"})
	}
	if len(s.Consents) > 20 {
		return s, territory.Area{}, fmt.Errorf("consents: at most 20: %w", errs.ErrInvalid)
	}
	if err := s.Validate(); err != nil {
		return s, territory.Area{}, err
	}
	var area territory.Area
	if req.Commune != "" || req.Bureau != "" {
		a, err := territory.ParseArea(req.Commune, req.Bureau)
		if err != nil {
			return s, area, err
		}
		area = a
	}
	return s, area, nil
}

// signUpStatus is the one answer of a sign-up, whether or not the address already had
// an account: telling them apart would reveal who belongs to the party.
const signUpStatus = "inscription enregistrée : un e-mail vous a été envoyé si nécessaire ; connectez-vous avec votre adresse et votre mot de passe"

// handleSignUp creates a sympathisant account in the section covering their commune
// (national when none does). It does not sign in: the member logs in next. A registered
// address gets the same 202 and its owner an e-mail saying someone tried. Throttled per
// IP.
func handleSignUp(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, area, err := parseSignUp(r)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		ip := clientIP(r, d.TrustProxy)
		if err := claim(w, r, d, postgres.ThrottleKey{Key: postgres.SignUpIPThrottleKey(ip), Limit: d.Throttle.IPLimit}); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		t, err := d.Members.NationalTerritory(r.Context())
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if area.Commune != "" {
			sec, err := d.Members.SectionFor(r.Context(), area)
			switch {
			case err == nil:
				t = sec
			case !errors.Is(err, errs.ErrNotFound):
				respondError(w, r, d.Logger, err)
				return
			}
		}
		s.TerritoryID = t.ID
		if s.PasswordHash, err = d.Hasher.Hash(r.Context(), s.Password); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		id, err := d.Members.SignUp(r.Context(), s)
		switch {
		case errors.Is(err, errs.ErrConflict):
			compose := func(p auth.Profile) mail.Message {
				return mail.Message{To: p.Email, Subject: "Tentative d'inscription avec votre adresse",
					Body: fmt.Sprintf("Bonjour %s,\n\nQuelqu'un a essayé de créer un compte coopol avec votre adresse, qui en a déjà un.\n"+
						"Si c'était vous, connectez-vous : %s\nSi vous avez oublié votre mot de passe, réinitialisez-le depuis la page de connexion.\n"+
						"Sinon, ignorez ce message : votre compte n'a pas changé.\n", p.FirstName, d.BaseURL)}
			}
			if err := d.Members.NotifyAccountHolder(r.Context(), s.Email, compose); err != nil {
				respondError(w, r, d.Logger, err)
				return
			}
		case err != nil:
			respondError(w, r, d.Logger, err)
			return
		default:
			d.Logger.InfoContext(r.Context(), "sign-up", "member_id", id, "territory_id", t.ID)
		}
		respondJSON(w, http.StatusAccepted, map[string]string{"status": signUpStatus})
	}
}

// claim charges one attempt to keys (postgres.ClaimAttempt) and answers ErrThrottled,
// with Retry-After, when the caller must wait.
func claim(w http.ResponseWriter, r *http.Request, d Deps, keys ...postgres.ThrottleKey) error {
	wait, err := d.Members.ClaimAttempt(r.Context(), d.Throttle.Window, d.Throttle.Cap(), keys...)
	if err != nil {
		return err
	}
	if wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Round(time.Second).Seconds())))
		return auth.ErrThrottled
	}
	return nil
}

// claimPasswordCheck charges a password check to the account and the IP, before the
// password is hashed: of 40 concurrent guesses only the limit are checked. A refused
// check is audited as a failed login.
func claimPasswordCheck(w http.ResponseWriter, r *http.Request, d Deps, email, ip string) error {
	err := claim(w, r, d, postgres.ThrottleKey{Key: postgres.AccountThrottleKey(email), Limit: d.Throttle.AccountLimit},
		postgres.ThrottleKey{Key: postgres.IPThrottleKey(ip), Limit: d.Throttle.IPLimit})
	if auth.IsThrottled(err) {
		if aerr := d.Members.Audit(r.Context(), auth.AuditEntry{Action: auth.AuditLoginFailure, IP: ip,
			Details: map[string]any{"reason": "throttled"}}); aerr != nil {
			return aerr
		}
	}
	return err
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func parseLogin(r *http.Request) (loginRequest, error) {
	var req loginRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return req, err
	}
	req.Email = auth.NormalizeEmail(req.Email)
	if req.Email == "" || req.Password == "" || len(req.Email) > 254 || len(req.Password) > 256 {
		return req, fmt.Errorf("email and password required: %w", errs.ErrInvalid)
	}
	return req, nil
}

// handleLogin checks a password under per-account and per-IP throttling, then opens a
// new session. Whatever session cookie came in is deleted, never promoted: a session id
// planted before login is useless after it.
func handleLogin(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := parseLogin(r)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		id, err := checkPassword(w, r, d, req.Email, req.Password)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		token, err := startSession(r.Context(), d, w, r, id)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		respondJSON(w, http.StatusOK, map[string]any{"member_id": id, "csrf_token": auth.CSRFToken(token)})
	}
}

func setSessionCookies(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	secure := isTLS(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	// Readable by the page's script, which echoes it in X-CSRF-Token.
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: auth.CSRFToken(token), Path: "/", Expires: expires,
		Secure: secure, SameSite: http.SameSiteLaxMode})
}

func clearSessionCookies(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{sessionCookie, csrfCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: name == sessionCookie,
			Secure: isTLS(r), SameSite: http.SameSiteLaxMode})
	}
}

func handleLogout(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		if m.Method == auth.MethodSession {
			if err := d.Members.DeleteSession(r.Context(), m.SessionHash); err != nil {
				respondError(w, r, d.Logger, err)
				return
			}
		}
		clearSessionCookies(w, r)
		w.WriteHeader(http.StatusNoContent)
	}
}

func handleLogoutAll(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		if err := d.Members.DeleteSessions(r.Context(), m.ID, clientIP(r, d.TrustProxy)); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		clearSessionCookies(w, r)
		w.WriteHeader(http.StatusNoContent)
	}
}

type resetRequest struct {
	Email string `json:"email"`
}

// handlePasswordReset queues a reset link by e-mail. It answers 202 whether or not the
// address has an account, so it cannot be used to find members. Throttled per IP (429)
// and per address: past its limit an address gets the same 202 and no more mail, so
// nobody can flood a mailbox, nor learn anything from the answer.
func handlePasswordReset(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req resetRequest
		if err := decodeJSON(r.Body, &req); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		email := auth.NormalizeEmail(req.Email)
		if err := auth.ValidateEmail(email); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		ip := clientIP(r, d.TrustProxy)
		if err := claim(w, r, d, postgres.ThrottleKey{Key: postgres.ResetIPThrottleKey(ip), Limit: d.Throttle.IPLimit}); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		accepted := map[string]string{"status": "si un compte existe, un e-mail a été envoyé"}
		wait, err := d.Members.ClaimAttempt(r.Context(), d.Throttle.Window, d.Throttle.Cap(),
			postgres.ThrottleKey{Key: postgres.ResetThrottleKey(email), Limit: d.Throttle.AccountLimit})
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if wait > 0 {
			respondJSON(w, http.StatusAccepted, accepted)
			return
		}
		token, hash := auth.NewToken()
		compose := resetMail(d.BaseURL, token)
		if err := d.Members.RequestPasswordReset(r.Context(), email, hash, time.Now().Add(resetTTL), ip, compose); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		respondJSON(w, http.StatusAccepted, accepted)
	}
}

type resetConfirmRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func parseResetConfirm(r *http.Request) (resetConfirmRequest, error) {
	var req resetConfirmRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return req, err
	}
	if req.Token == "" || len(req.Token) > 100 {
		return req, fmt.Errorf("token: %w", errs.ErrInvalid)
	}
	return req, auth.ValidatePassword(req.Password)
}

func handlePasswordResetConfirm(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := parseResetConfirm(r)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		h, err := d.Hasher.Hash(r.Context(), req.Password)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := d.Members.ConfirmPasswordReset(r.Context(), auth.HashToken(req.Token), h, clientIP(r, d.TrustProxy)); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

type tokenRequest struct {
	Name      string       `json:"name"`
	ExpiresIn int          `json:"expires_in_days"`
	Scopes    []auth.Scope `json:"scopes"` // read, write, export; read alone when absent
}

func parseTokenRequest(r *http.Request) (tokenRequest, time.Duration, error) {
	var req tokenRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return req, 0, err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		return req, 0, fmt.Errorf("name: 1 to 100 characters: %w", errs.ErrInvalid)
	}
	ttl := time.Duration(req.ExpiresIn) * 24 * time.Hour
	if req.ExpiresIn <= 0 || ttl > maxAPITokenTTL {
		return req, 0, fmt.Errorf("expires_in_days: 1 to 366: %w", errs.ErrInvalid)
	}
	if len(req.Scopes) == 0 {
		req.Scopes = []auth.Scope{auth.ScopeRead}
	}
	slices.Sort(req.Scopes)
	req.Scopes = slices.Compact(req.Scopes)
	for _, s := range req.Scopes {
		if !s.Valid() {
			return req, 0, fmt.Errorf("scope %q: read, write or export: %w", s, errs.ErrInvalid)
		}
	}
	return req, ttl, nil
}

// tokenScope refuses an API token whose scopes do not cover the method: read for GET,
// write for changes. Export scope is checked by auth.Authorize with the export
// permissions. Sessions pass.
func tokenScope(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := auth.RequireScope(auth.MemberFrom(r.Context()), auth.ScopeForMethod(r.Method)); err != nil {
				respondError(w, r, log, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// handleTokenCreate issues an API token, shown once. Only a browser session may issue
// one: a leaked token must not be able to mint others.
func handleTokenCreate(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		if m.Method != auth.MethodSession {
			respondError(w, r, d.Logger, fmt.Errorf("API tokens are created from a browser session: %w", errs.ErrForbidden))
			return
		}
		req, ttl, err := parseTokenRequest(r)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		secret, hash := auth.NewAPIToken()
		t, err := d.Members.CreateAPIToken(r.Context(), m.ID, req.Name, req.Scopes, hash, time.Now().Add(ttl), clientIP(r, d.TrustProxy))
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		respondJSON(w, http.StatusCreated, map[string]any{"token": secret, "api_token": t})
	}
}

// handleTokens lists the caller's API tokens with their scopes, never their secrets.
func handleTokens(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ts, err := d.Members.APITokens(r.Context(), auth.MemberFrom(r.Context()).ID)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if ts == nil {
			ts = []auth.APIToken{}
		}
		respondJSON(w, http.StatusOK, ts)
	}
}

func handleTokenRevoke(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		// The store matches on the caller's id too: another member's token is not found.
		if err := d.Members.RevokeAPIToken(r.Context(), auth.MemberFrom(r.Context()).ID, id, clientIP(r, d.TrustProxy)); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleRoles describes the roles and the permissions each carries.
func handleRoles(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		type role struct {
			Role        auth.Role         `json:"role"`
			Permissions []auth.Permission `json:"permissions"`
		}
		table := auth.RolePermissions()
		out := []role{}
		for _, r := range auth.Roles() {
			ps := table[r]
			if ps == nil {
				ps = []auth.Permission{}
			}
			out = append(out, role{Role: r, Permissions: ps})
		}
		respondJSON(w, http.StatusOK, map[string]any{"roles": out, "permissions": auth.Permissions()})
	}
}

func handleGrants(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		t, err := territoryParam(r, d, m, auth.PermRoleGrant)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := auth.Authorize(m, auth.PermRoleGrant, t); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		gs, err := d.Members.Grants(r.Context(), postgres.GrantFilter{Under: &t.ID})
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if gs == nil {
			gs = []auth.Grant{}
		}
		respondJSON(w, http.StatusOK, gs)
	}
}

type grantRequest struct {
	MemberID    int64  `json:"member_id"`
	TerritoryID int64  `json:"territory_id"`
	Role        string `json:"role"`
	Permission  string `json:"permission"`
}

func parseGrant(r *http.Request) (auth.Grant, error) {
	var req grantRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return auth.Grant{}, err
	}
	g := auth.Grant{MemberID: req.MemberID, TerritoryID: req.TerritoryID, Role: auth.Role(req.Role), Permission: auth.Permission(req.Permission)}
	if g.MemberID <= 0 || g.TerritoryID <= 0 {
		return g, fmt.Errorf("member_id and territory_id required: %w", errs.ErrInvalid)
	}
	return g, g.Validate()
}

// handleGrantCreate gives a role or permission on a territory, within the granter's
// reach (auth.AuthorizeGrant); audited by the store.
func handleGrantCreate(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		g, err := parseGrant(r)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		t, err := d.Members.Territory(r.Context(), g.TerritoryID)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := auth.AuthorizeGrant(m, g, t); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		// The grantee must be someone the granter may see: no granting to strangers.
		mt, err := d.Members.MemberTerritory(r.Context(), g.MemberID)
		if err != nil || auth.Authorize(m, auth.PermMemberList, mt) != nil {
			respondError(w, r, d.Logger, fmt.Errorf("member %d is outside your territory: %w", g.MemberID, errs.ErrForbidden))
			return
		}
		g.GrantedBy = &m.ID
		g, err = d.Members.CreateGrant(r.Context(), g, clientIP(r, d.TrustProxy))
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		respondJSON(w, http.StatusCreated, g)
	}
}

func handleGrantDelete(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		id, err := pathID(r, "id")
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		g, err := d.Members.Grant(r.Context(), id)
		if errors.Is(err, errs.ErrNotFound) {
			respondError(w, r, d.Logger, fmt.Errorf("grant %d: %w", id, errs.ErrForbidden))
			return
		}
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		t, err := d.Members.Territory(r.Context(), g.TerritoryID)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := auth.AuthorizeGrant(m, g, t); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := d.Members.DeleteGrant(r.Context(), id, &m.ID, clientIP(r, d.TrustProxy)); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleAudit reads the audit log of a territory and below (national by default).
func handleAudit(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		t, err := territoryParam(r, d, m, auth.PermAuditRead)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := auth.Authorize(m, auth.PermAuditRead, t); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		f := postgres.AuditFilter{}
		if t.Kind != territory.National {
			f.Under = &t.ID // national readers also see entries tied to no territory (logins)
		}
		a, err := queryText(r, "action", 64)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if a != "" {
			f.Action = &a
		}
		if f.Limit, err = queryInt(r, "limit", 100, 1000); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		for name, dst := range map[string]**int64{"member": &f.MemberID, "before": &f.BeforeID} {
			v, err := queryID(r, name, 0)
			if err != nil {
				respondError(w, r, d.Logger, err)
				return
			}
			if v != 0 {
				*dst = &v
			}
		}
		es, err := d.Members.AuditEntries(r.Context(), f)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if es == nil {
			es = []auth.AuditEntry{}
		}
		respondJSON(w, http.StatusOK, es)
	}
}
