package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/territory"
)

// Members is what the account, member, territory and audit handlers need from storage;
// *postgres.DB satisfies it.
type Members interface {
	SignUp(ctx context.Context, s auth.SignUp) (int64, error)
	Credentials(ctx context.Context, email string) (int64, string, error)
	SetPassword(ctx context.Context, id int64, hash string) error
	ClaimAttempt(ctx context.Context, window, maxDelay time.Duration, keys ...postgres.ThrottleKey) (time.Duration, error)
	ForgiveAttempt(ctx context.Context, clear, refund []string) error
	RecordLoginFailure(ctx context.Context, memberID *int64, ip, reason string) error
	NotifyAccountHolder(ctx context.Context, email string, compose func(auth.Profile) mail.Message) error
	CreateSession(ctx context.Context, s postgres.Session) error
	SessionMember(ctx context.Context, tokenHash []byte) (*auth.Member, error)
	TokenMember(ctx context.Context, tokenHash []byte) (*auth.Member, error)
	DeleteSession(ctx context.Context, tokenHash []byte) error
	DeleteSessions(ctx context.Context, memberID int64, ip string) error
	RequestPasswordReset(ctx context.Context, email string, tokenHash []byte, expires time.Time, ip string, compose func(auth.Profile) mail.Message) error
	ConfirmPasswordReset(ctx context.Context, tokenHash []byte, newHash, ip string) error
	Audit(ctx context.Context, e auth.AuditEntry) error
	AuditEach(ctx context.Context, es []auth.AuditEntry) error
	AuditEntries(ctx context.Context, f postgres.AuditFilter) ([]auth.AuditEntry, error)

	Profile(ctx context.Context, id int64) (auth.Profile, error)
	UpdateProfile(ctx context.Context, id int64, u postgres.ProfileUpdate) error
	Consents(ctx context.Context, id int64) ([]auth.Consent, error)
	AddConsents(ctx context.Context, id int64, cs []auth.Consent) error
	ExportMemberData(ctx context.Context, id int64, ip string) (auth.DataExport, error)
	EraseMember(ctx context.Context, id int64, ip string) error
	MemberTerritory(ctx context.Context, id int64) (territory.Territory, error)
	Members(ctx context.Context, viewer int64, f postgres.MemberFilter) ([]auth.Summary, error)
	Member(ctx context.Context, viewer, id int64) (auth.Summary, error)
	RevealContact(ctx context.Context, viewer, id int64, ip string) (auth.Contact, error)
	ExportMembers(ctx context.Context, viewer, under int64, withContact bool, ip string) ([]auth.Profile, error)

	Grants(ctx context.Context, f postgres.GrantFilter) ([]auth.Grant, error)
	Grant(ctx context.Context, id int64) (auth.Grant, error)
	CreateGrant(ctx context.Context, g auth.Grant, ip string) (auth.Grant, error)
	DeleteGrant(ctx context.Context, id int64, actor *int64, ip string) error
	CreateAPIToken(ctx context.Context, memberID int64, name string, scopes []auth.Scope, hash []byte, expires time.Time, ip string) (auth.APIToken, error)
	APITokens(ctx context.Context, memberID int64) ([]auth.APIToken, error)
	RevokeAPIToken(ctx context.Context, memberID, id int64, ip string) error

	Territory(ctx context.Context, id int64) (territory.Territory, error)
	NationalTerritory(ctx context.Context) (territory.Territory, error)
	Territories(ctx context.Context, f territory.Filter) ([]territory.Territory, error)
	CreateTerritory(ctx context.Context, actorID *int64, t territory.Territory) (territory.Territory, error)
	TerritoryAreas(ctx context.Context, id int64) ([]territory.Area, error)
	AddTerritoryAreas(ctx context.Context, actorID *int64, id int64, areas []territory.Area) error
	RemoveTerritoryArea(ctx context.Context, actorID *int64, id int64, a territory.Area) error
	SectionFor(ctx context.Context, a territory.Area) (territory.Territory, error)
	ScopeTerritories(ctx context.Context, areas []territory.Area, depts []string) ([]territory.Territory, error)
}

// pathID reads an integer path parameter; anything else is ErrInvalid.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s %q: %w", name, r.PathValue(name), errs.ErrInvalid)
	}
	return id, nil
}

// queryID reads an integer query parameter; def when absent.
func queryID(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s %q: %w", name, v, errs.ErrInvalid)
	}
	return id, nil
}

func queryInt(r *http.Request, name string, def, maxV int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxV {
		return 0, fmt.Errorf("%s %q: 0 to %d: %w", name, v, maxV, errs.ErrInvalid)
	}
	return n, nil
}

type meResponse struct {
	Profile   auth.Profile   `json:"profile"`
	Consents  []auth.Consent `json:"consents"`
	Grants    []auth.Grant   `json:"grants"`
	CSRFToken string         `json:"csrf_token,omitempty"`
}

func handleMe(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		p, err := d.Members.Profile(r.Context(), m.ID)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		cs, err := d.Members.Consents(r.Context(), m.ID)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		resp := meResponse{Profile: p, Consents: cs, Grants: m.Grants}
		if resp.Consents == nil {
			resp.Consents = []auth.Consent{}
		}
		if c, err := r.Cookie(sessionCookie); err == nil && m.Method == auth.MethodSession {
			resp.CSRFToken = auth.CSRFToken(c.Value)
		}
		respondJSON(w, http.StatusOK, resp)
	}
}

// profileRequest is the body of PATCH /api/me; absent fields are left alone.
type profileRequest struct {
	FirstName *string `json:"first_name"`
	LastName  *string `json:"last_name"`
	Phone     *string `json:"phone"`
	Address   *string `json:"address"`
}

func parseProfileUpdate(r *http.Request) (postgres.ProfileUpdate, error) {
	var req profileRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return postgres.ProfileUpdate{}, err
	}
	for name, v := range map[string]*string{"first_name": req.FirstName, "last_name": req.LastName} {
		if v != nil && (*v == "" || len(*v) > 400) {
			return postgres.ProfileUpdate{}, fmt.Errorf("%s: 1 to 100 characters: %w", name, errs.ErrInvalid)
		}
	}
	if (req.Phone != nil && len(*req.Phone) > 30) || (req.Address != nil && len(*req.Address) > 1200) {
		return postgres.ProfileUpdate{}, fmt.Errorf("phone or address too long: %w", errs.ErrInvalid)
	}
	return postgres.ProfileUpdate(req), nil
}

func handleMeUpdate(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		u, err := parseProfileUpdate(r)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := d.Members.UpdateProfile(r.Context(), m.ID, u); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		handleMe(d)(w, r)
	}
}

type consentsRequest struct {
	Consents []struct {
		Purpose string `json:"purpose"`
		Granted bool   `json:"granted"`
	} `json:"consents"`
}

func parseConsents(r *http.Request, source string) ([]auth.Consent, error) {
	var req consentsRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return nil, err
	}
	if len(req.Consents) == 0 || len(req.Consents) > 20 {
		return nil, fmt.Errorf("consents: 1 to 20 answers: %w", errs.ErrInvalid)
	}
	cs := make([]auth.Consent, 0, len(req.Consents))
	for _, c := range req.Consents {
		if !auth.ValidPurpose(c.Purpose) {
			return nil, fmt.Errorf("consent purpose %q: %w", c.Purpose, errs.ErrInvalid)
		}
		cs = append(cs, auth.Consent{Purpose: c.Purpose, Granted: c.Granted, Source: source})
	}
	return cs, nil
}

func handleMeConsents(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		cs, err := parseConsents(r, "api")
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := d.Members.AddConsents(r.Context(), m.ID, cs); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		cur, err := d.Members.Consents(r.Context(), m.ID)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		respondJSON(w, http.StatusOK, cur)
	}
}

// handleMeExport serves everything held about the caller as a JSON download.
func handleMeExport(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		if err := refuseCrossSite(r); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := auth.RequireScope(m, auth.ScopeExport); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		x, err := d.Members.ExportMemberData(r.Context(), m.ID, clientIP(r, d.TrustProxy))
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		w.Header().Set("Content-Disposition", `attachment; filename="coopol-mes-donnees.json"`)
		respondJSON(w, http.StatusOK, x)
	}
}

type eraseRequest struct {
	Password string `json:"password"`
}

// handleMeErase erases the caller's account. It asks for the password again, so a
// stolen session or a forgotten open laptop cannot erase an account; that re-check is
// throttled like a login (same counters), or it would be a password oracle. The
// development sender's .eml files naming the member go too.
func handleMeErase(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		if m.Method != auth.MethodSession {
			respondError(w, r, d.Logger, fmt.Errorf("erasing an account needs a browser session, not an API token: %w", errs.ErrForbidden))
			return
		}
		var req eraseRequest
		if err := decodeJSON(r.Body, &req); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		p, err := d.Members.Profile(r.Context(), m.ID)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		ip := clientIP(r, d.TrustProxy)
		if err := claimPasswordCheck(w, r, d, p.Email, ip); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		_, hash, err := d.Members.Credentials(r.Context(), p.Email)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		ok, err := d.Hasher.Verify(r.Context(), hash, req.Password)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if !ok {
			if err := d.Members.RecordLoginFailure(r.Context(), &m.ID, ip, "erasure password re-check"); err != nil {
				respondError(w, r, d.Logger, err)
				return
			}
			respondError(w, r, d.Logger, fmt.Errorf("mot de passe incorrect: %w", errs.ErrForbidden))
			return
		}
		if err := d.Members.EraseMember(r.Context(), m.ID, ip); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := d.Members.ForgiveAttempt(r.Context(), nil, []string{postgres.IPThrottleKey(ip)}); err != nil {
			d.Logger.WarnContext(r.Context(), "throttle refund", "err", err)
		}
		if n, err := mail.PurgeFiles(d.MailDir, p.Email); err != nil {
			// The account is erased; a file left behind is logged for the operator.
			d.Logger.ErrorContext(r.Context(), "purge mail files of an erased member", "member_id", m.ID, "err", err)
		} else if n > 0 {
			d.Logger.InfoContext(r.Context(), "purged mail files of an erased member", "member_id", m.ID, "files", n)
		}
		clearSessionCookies(w, r)
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleMembers lists the members of a territory and below: names only.
func handleMembers(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		t, err := territoryParam(r, d, m, auth.PermMemberList)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		limit, err := queryInt(r, "limit", 100, 500)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		offset, err := queryInt(r, "offset", 0, 1<<30)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := auth.Authorize(m, auth.PermMemberList, t); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		ms, err := d.Members.Members(r.Context(), m.ID, postgres.MemberFilter{Under: t.ID, Limit: limit, Offset: offset})
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if ms == nil {
			ms = []auth.Summary{}
		}
		respondJSON(w, http.StatusOK, ms)
	}
}

// territoryParam returns the territory named by ?territory=ID, or by default the first
// territory where m holds p (the national one when m holds it nowhere, which
// Authorize then refuses).
func territoryParam(r *http.Request, d Deps, m *auth.Member, p auth.Permission) (territory.Territory, error) {
	var def int64
	if scopes := m.Scopes(p); len(scopes) > 0 {
		def = scopes[0]
	}
	id, err := queryID(r, "territory", def)
	if err != nil {
		return territory.Territory{}, err
	}
	if id == 0 {
		return d.Members.NationalTerritory(r.Context())
	}
	t, err := d.Members.Territory(r.Context(), id)
	if err != nil {
		return t, err
	}
	return t, nil
}

// memberTarget authorises p on the territory of member {id} from the path.
func memberTarget(r *http.Request, d Deps, p auth.Permission) (int64, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, err
	}
	t, err := d.Members.MemberTerritory(r.Context(), id)
	if errors.Is(err, errs.ErrNotFound) {
		// An unknown or erased id answers like a forbidden one, so ids cannot be probed.
		return 0, fmt.Errorf("member %d: %w", id, errs.ErrForbidden)
	}
	if err != nil {
		return 0, err
	}
	if err := auth.Authorize(auth.MemberFrom(r.Context()), p, t); err != nil {
		return 0, fmt.Errorf("member %d: %w", id, err)
	}
	return id, nil
}

func handleMember(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := memberTarget(r, d, auth.PermMemberList)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		s, err := d.Members.Member(r.Context(), auth.MemberFrom(r.Context()).ID, id)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		respondJSON(w, http.StatusOK, s)
	}
}

// handleMemberContact reveals a member's contact details; the store audits each reveal
// and refuses members who did not consent to being contacted. POST: a reveal writes an
// audit entry, and a cross-site link must not be able to forge one.
func handleMemberContact(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := memberTarget(r, d, auth.PermMemberContact)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		c, err := d.Members.RevealContact(r.Context(), auth.MemberFrom(r.Context()).ID, id, clientIP(r, d.TrustProxy))
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		respondJSON(w, http.StatusOK, c)
	}
}

// refuseCrossSite refuses a download another site's link started. Audited downloads
// stay GET, so a plain link of the app's own pages can fetch them, but a link on
// another site must not write audit entries in a member's name.
func refuseCrossSite(r *http.Request) error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return fmt.Errorf("audited download started from another site: %w", errs.ErrForbidden)
	}
	return nil
}

// handleMembersExport downloads the member file of a territory: export permission
// needed, contact details included only with the contact permission too, and only of
// members who consented to being contacted; audited.
func handleMembersExport(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		if err := refuseCrossSite(r); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		t, err := territoryParam(r, d, m, auth.PermMemberExport)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := auth.Authorize(m, auth.PermMemberExport, t); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		withContact := auth.Authorize(m, auth.PermMemberContact, t) == nil
		ps, err := d.Members.ExportMembers(r.Context(), m.ID, t.ID, withContact, clientIP(r, d.TrustProxy))
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if ps == nil {
			ps = []auth.Profile{}
		}
		d.Logger.InfoContext(r.Context(), "member export", "member_id", m.ID, "territory_id", t.ID, "rows", len(ps))
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="adherents-%d.json"`, t.ID))
		respondJSON(w, http.StatusOK, ps)
	}
}
