package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/mail"
	"github.com/coopol/coopol/internal/territory"
)

// asMember runs fn in a transaction acting for member id as coopol_app, so row-level
// security on members and consents applies: a bug in a query's WHERE clause still
// cannot read outside what that member may see.
func (db *DB) asMember(ctx context.Context, id int64, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL ROLE coopol_app`); err != nil {
		return fmt.Errorf("postgres: set role: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('coopol.member_id', $1, true)`, strconv.FormatInt(id, 10)); err != nil {
		return fmt.Errorf("postgres: set member: %w", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// asSystem runs fn as coopol_system, for account operations that happen before anyone
// is known (login, sign-up, reset) or on one's own account (export, erasure).
func (db *DB) asSystem(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL ROLE coopol_system`); err != nil {
		return fmt.Errorf("postgres: set role: %w", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// SignUp creates a member (status sympathisant, role sympathisant on their territory)
// with their first consents. s.PasswordHash must be set; an e-mail in use is ErrConflict.
func (db *DB) SignUp(ctx context.Context, s auth.SignUp) (int64, error) {
	var id int64
	err := db.asSystem(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO members (email, password_hash, first_name, last_name, phone, address, territory_id)
			VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''), $7) RETURNING id`,
			s.Email, s.PasswordHash, s.FirstName, s.LastName, s.Phone, s.Address, s.TerritoryID).Scan(&id)
		if err != nil {
			return fmt.Errorf("postgres: sign up: %w", translate(err))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO grants (member_id, territory_id, role) VALUES ($1, $2, 'sympathisant')`,
			id, s.TerritoryID); err != nil {
			return fmt.Errorf("postgres: sign up: %w", err)
		}
		return insertConsents(ctx, tx, id, s.Consents)
	})
	return id, err
}

func insertConsents(ctx context.Context, tx pgx.Tx, id int64, cs []auth.Consent) error {
	for _, c := range cs {
		if _, err := tx.Exec(ctx, `INSERT INTO consents (member_id, purpose, granted, source) VALUES ($1, $2, $3, $4)`,
			id, c.Purpose, c.Granted, c.Source); err != nil {
			return fmt.Errorf("postgres: consent: %w", err)
		}
	}
	return nil
}

// Credentials returns the id and password hash of the live account with email;
// ErrNotFound when there is none.
func (db *DB) Credentials(ctx context.Context, email string) (id int64, hash string, err error) {
	err = db.asSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id, password_hash FROM members
			WHERE lower(email) = lower($1) AND erased_at IS NULL`, email).Scan(&id, &hash)
	})
	if err != nil {
		return 0, "", fmt.Errorf("postgres: credentials: %w", translate(err))
	}
	return id, hash, nil
}

// SetPassword replaces a member's password hash (rehash on login, demo accounts).
func (db *DB) SetPassword(ctx context.Context, id int64, hash string) error {
	return db.asSystem(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE members SET password_hash = $2 WHERE id = $1 AND erased_at IS NULL`, id, hash)
		if err != nil {
			return fmt.Errorf("postgres: set password: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: member %d: %w", id, errs.ErrNotFound)
		}
		return nil
	})
}

// RecordLoginFailure audits a failed login; memberID is the account the e-mail belongs
// to, nil when none does (the e-mail itself is not stored in the audit). Throttling
// counted the attempt before the password was checked (ClaimAttempt).
func (db *DB) RecordLoginFailure(ctx context.Context, memberID *int64, ip, reason string) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: login failure: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := insertAudit(ctx, tx, auditRow{action: auth.AuditLoginFailure, target: memberID, ip: ip,
		details: map[string]any{"reason": reason}}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Session is a new browser session.
type Session struct {
	MemberID  int64
	TokenHash []byte
	ExpiresAt time.Time
	IP        string
	UserAgent string
	// Replaces is the hash of the session cookie the browser came with, if any: it is
	// deleted, so a session id planted before login is never the one after it.
	Replaces []byte
}

// CreateSession opens a session after a successful login, and audits the login.
func (db *DB) CreateSession(ctx context.Context, s Session) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: create session: %w", err)
	}
	defer tx.Rollback(ctx)
	if s.Replaces != nil {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, s.Replaces); err != nil {
			return fmt.Errorf("postgres: create session: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO sessions (token_hash, member_id, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5)`,
		s.TokenHash, s.MemberID, s.ExpiresAt, s.IP, truncate(s.UserAgent, 300)); err != nil {
		return fmt.Errorf("postgres: create session: %w", translate(err))
	}
	// Expired sessions of this member go now rather than by a separate sweeper.
	if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE member_id = $1 AND expires_at < now()`, s.MemberID); err != nil {
		return fmt.Errorf("postgres: create session: %w", err)
	}
	if err := insertAudit(ctx, tx, auditRow{actor: &s.MemberID, action: auth.AuditLoginSuccess, ip: s.IP}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// SessionMember returns the member of a live session; ErrUnauthorized when the session
// is unknown or expired.
func (db *DB) SessionMember(ctx context.Context, tokenHash []byte) (*auth.Member, error) {
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT member_id FROM sessions WHERE token_hash = $1 AND expires_at > now()`,
		tokenHash).Scan(&id)
	if err != nil {
		if translate(err) == errs.ErrNotFound {
			return nil, errs.ErrUnauthorized
		}
		return nil, fmt.Errorf("postgres: session: %w", err)
	}
	m, err := db.Principal(ctx, id)
	if err != nil {
		return nil, err
	}
	m.Method, m.SessionHash = auth.MethodSession, tokenHash
	return m, nil
}

// TokenMember returns the member of a live API token; ErrUnauthorized otherwise.
func (db *DB) TokenMember(ctx context.Context, tokenHash []byte) (*auth.Member, error) {
	var id int64
	var scopes []auth.Scope
	err := db.pool.QueryRow(ctx, `UPDATE api_tokens SET last_used_at = now()
		WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now() RETURNING member_id, scopes`, tokenHash).Scan(&id, &scopes)
	if err != nil {
		if translate(err) == errs.ErrNotFound {
			return nil, errs.ErrUnauthorized
		}
		return nil, fmt.Errorf("postgres: api token: %w", err)
	}
	m, err := db.Principal(ctx, id)
	if err != nil {
		return nil, err
	}
	m.Method, m.TokenScopes = auth.MethodToken, scopes
	return m, nil
}

// Principal returns member id with their grants.
func (db *DB) Principal(ctx context.Context, id int64) (*auth.Member, error) {
	gs, err := db.Grants(ctx, GrantFilter{MemberID: &id})
	if err != nil {
		return nil, err
	}
	return &auth.Member{ID: id, Grants: gs}, nil
}

// DeleteSession ends one session (log out).
func (db *DB) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return nil
}

// DeleteSessions ends every session of a member and revokes their API tokens (log out
// everywhere), and audits it.
func (db *DB) DeleteSessions(ctx context.Context, memberID int64, ip string) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: delete sessions: %w", err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE member_id = $1`, memberID)
	if err != nil {
		return fmt.Errorf("postgres: delete sessions: %w", err)
	}
	revoked, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE member_id = $1 AND revoked_at IS NULL`, memberID)
	if err != nil {
		return fmt.Errorf("postgres: delete sessions: %w", err)
	}
	if err := insertAudit(ctx, tx, auditRow{actor: &memberID, action: auth.AuditLogoutAll, ip: ip,
		details: map[string]any{"sessions": tag.RowsAffected(), "api_tokens": revoked.RowsAffected()}}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// RequestPasswordReset stores a reset token for the live account with email and queues
// the e-mail compose writes. An unknown e-mail does nothing and is not an error, so
// the endpoint cannot tell who has an account.
func (db *DB) RequestPasswordReset(ctx context.Context, email string, tokenHash []byte, expires time.Time, ip string,
	compose func(p auth.Profile) mail.Message) error {
	return db.asSystem(ctx, func(tx pgx.Tx) error {
		var p auth.Profile
		err := tx.QueryRow(ctx, `SELECT id, email, first_name, last_name FROM members
			WHERE lower(email) = lower($1) AND erased_at IS NULL`, email).Scan(&p.ID, &p.Email, &p.FirstName, &p.LastName)
		if translate(err) == errs.ErrNotFound {
			return nil
		}
		if err != nil {
			return fmt.Errorf("postgres: password reset: %w", err)
		}
		// One live token per member: a new request voids the previous link.
		if _, err := tx.Exec(ctx, `DELETE FROM password_resets WHERE member_id = $1`, p.ID); err != nil {
			return fmt.Errorf("postgres: password reset: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO password_resets (token_hash, member_id, expires_at) VALUES ($1, $2, $3)`,
			tokenHash, p.ID, expires); err != nil {
			return fmt.Errorf("postgres: password reset: %w", err)
		}
		m := compose(p)
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (to_addr, subject, body) VALUES ($1, $2, $3)`,
			m.To, m.Subject, m.Body); err != nil {
			return fmt.Errorf("postgres: password reset: %w", err)
		}
		return insertAudit(ctx, tx, auditRow{action: "password.reset_request", target: &p.ID, ip: ip})
	})
}

// ConfirmPasswordReset sets a new password with a reset token, once, before it expires,
// ends every session of the member and revokes their API tokens: whoever held the old
// password may have minted one. A bad or used token is ErrInvalid.
func (db *DB) ConfirmPasswordReset(ctx context.Context, tokenHash []byte, newHash, ip string) error {
	return db.asSystem(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `UPDATE password_resets SET used_at = now()
			WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING member_id`, tokenHash).Scan(&id)
		if translate(err) == errs.ErrNotFound {
			return fmt.Errorf("reset token invalid or expired: %w", errs.ErrInvalid)
		}
		if err != nil {
			return fmt.Errorf("postgres: password reset: %w", err)
		}
		var email string
		if err := tx.QueryRow(ctx, `UPDATE members SET password_hash = $2 WHERE id = $1 AND erased_at IS NULL RETURNING email`,
			id, newHash).Scan(&email); err != nil {
			return fmt.Errorf("postgres: password reset: %w", translate(err))
		}
		for _, q := range []string{`DELETE FROM sessions WHERE member_id = $1`, `DELETE FROM password_resets WHERE member_id = $1`,
			`UPDATE api_tokens SET revoked_at = now() WHERE member_id = $1 AND revoked_at IS NULL`} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("postgres: password reset: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM throttle WHERE key = $1`, AccountThrottleKey(email)); err != nil {
			return fmt.Errorf("postgres: password reset: %w", err)
		}
		return insertAudit(ctx, tx, auditRow{actor: &id, action: auth.AuditPasswordReset, target: &id, ip: ip})
	})
}

// PendingMail returns up to limit unsent messages that have not failed five times.
func (db *DB) PendingMail(ctx context.Context, limit int) ([]mail.Queued, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, to_addr, subject, body FROM outbox
		WHERE sent_at IS NULL AND attempts < 5 ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: outbox: %w", err)
	}
	qs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mail.Queued, error) {
		var q mail.Queued
		return q, r.Scan(&q.ID, &q.To, &q.Subject, &q.Body)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: outbox: %w", err)
	}
	return qs, nil
}

// MarkMailSent records a delivery and empties the body, which may hold a reset link.
func (db *DB) MarkMailSent(ctx context.Context, id int64) error {
	if _, err := db.pool.Exec(ctx, `UPDATE outbox SET sent_at = now(), body = '' WHERE id = $1`, id); err != nil {
		return fmt.Errorf("postgres: outbox: %w", err)
	}
	return nil
}

// MarkMailFailed counts a failed delivery.
func (db *DB) MarkMailFailed(ctx context.Context, id int64, reason string) error {
	if _, err := db.pool.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1`,
		id, truncate(reason, 500)); err != nil {
		return fmt.Errorf("postgres: outbox: %w", err)
	}
	return nil
}

// MemberTerritory returns the territory a live member belongs to, for authorising
// access to that member.
func (db *DB) MemberTerritory(ctx context.Context, id int64) (territory.Territory, error) {
	var t territory.Territory
	err := db.asSystem(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = scanTerritory(tx.QueryRow(ctx, `SELECT `+prefixed("t.", territoryColumns)+`
			FROM members m JOIN territories t ON t.id = m.territory_id WHERE m.id = $1 AND m.erased_at IS NULL`, id))
		return err
	})
	if err != nil {
		return t, fmt.Errorf("postgres: member %d: %w", id, translate(err))
	}
	return t, nil
}

// MemberFilter selects members of a territory and below.
type MemberFilter struct {
	Under  int64
	Limit  int
	Offset int
}

const summaryColumns = `m.id, m.first_name, m.last_name, m.territory_id, m.status`

func scanSummary(r pgx.CollectableRow) (auth.Summary, error) {
	var s auth.Summary
	return s, r.Scan(&s.ID, &s.FirstName, &s.LastName, &s.TerritoryID, &s.Status)
}

// Members lists, as viewer, the live members of f.Under and below, by name.
func (db *DB) Members(ctx context.Context, viewer int64, f MemberFilter) ([]auth.Summary, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	var out []auth.Summary
	err := db.asMember(ctx, viewer, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+summaryColumns+` FROM members m
			JOIN territories t ON t.id = m.territory_id
			WHERE $1 = ANY (t.ancestors) AND m.erased_at IS NULL
			ORDER BY m.last_name, m.first_name, m.id LIMIT $2 OFFSET $3`, f.Under, f.Limit, max(f.Offset, 0))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanSummary)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: members: %w", err)
	}
	return out, nil
}

// Member returns, as viewer, one member's summary; ErrNotFound also when row-level
// security hides it.
func (db *DB) Member(ctx context.Context, viewer, id int64) (auth.Summary, error) {
	var s auth.Summary
	err := db.asMember(ctx, viewer, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+summaryColumns+` FROM members m WHERE m.id = $1 AND m.erased_at IS NULL`, id)
		if err != nil {
			return err
		}
		s, err = pgx.CollectExactlyOneRow(rows, scanSummary)
		return err
	})
	if err != nil {
		return s, fmt.Errorf("postgres: member %d: %w", id, translate(err))
	}
	return s, nil
}

// contactConsentSQL is true for members whose latest answer to being contacted by
// their section is yes; no answer is no.
const contactConsentSQL = `coalesce((SELECT c.granted FROM consents c WHERE c.member_id = m.id AND c.purpose = '` +
	auth.PurposeSectionContact + `' ORDER BY c.at DESC, c.id DESC LIMIT 1), false)`

// RevealContact returns, as viewer, a member's contact details and audits the reveal in
// the same transaction: no audit row, no reveal. A member who has not consented to
// being contacted by the party is refused (ErrForbidden), and nothing is audited.
func (db *DB) RevealContact(ctx context.Context, viewer, id int64, ip string) (auth.Contact, error) {
	c := auth.Contact{ID: id}
	err := db.asMember(ctx, viewer, func(tx pgx.Tx) error {
		var terr int64
		var consented bool
		if err := tx.QueryRow(ctx, `SELECT coalesce(m.email, ''), coalesce(m.phone, ''), coalesce(m.address, ''), m.territory_id, `+
			contactConsentSQL+` FROM members m WHERE m.id = $1 AND m.erased_at IS NULL`, id).Scan(&c.Email, &c.Phone, &c.Address, &terr, &consented); err != nil {
			return translate(err)
		}
		if !consented {
			return fmt.Errorf("ce membre n'a pas accepté d'être contacté par le parti: %w", errs.ErrForbidden)
		}
		role := auth.BestRole(grantsOf(ctx, tx, viewer))
		return insertAudit(ctx, tx, auditRow{actor: &viewer, action: auth.AuditContactReveal, target: &id, territory: &terr, ip: ip,
			details: map[string]any{"actor_role": role}})
	})
	if err != nil {
		return auth.Contact{}, fmt.Errorf("postgres: contact of member %d: %w", id, err)
	}
	return c, nil
}

// ExportMembers returns, as viewer, the live members of territory under and below, with
// contact details when withContact, and audits the export with its size.
func (db *DB) ExportMembers(ctx context.Context, viewer, under int64, withContact bool, ip string) ([]auth.Profile, error) {
	var out []auth.Profile
	err := db.asMember(ctx, viewer, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+profileColumns+`, `+contactConsentSQL+` FROM members m
			JOIN territories t ON t.id = m.territory_id
			WHERE $1 = ANY (t.ancestors) AND m.erased_at IS NULL ORDER BY m.last_name, m.first_name, m.id`, under)
		if err != nil {
			return err
		}
		contacts := 0
		if out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (auth.Profile, error) {
			var p auth.Profile
			var consented bool
			err := r.Scan(&p.ID, &p.Email, &p.FirstName, &p.LastName, &p.Phone, &p.Address, &p.TerritoryID,
				&p.Status, &p.CreatedAt, &p.ErasedAt, &consented)
			// Contact details only of members who agreed to be contacted.
			if !withContact || !consented {
				p.Email, p.Phone, p.Address = "", "", ""
			} else {
				contacts++
			}
			return p, err
		}); err != nil {
			return err
		}
		return insertAudit(ctx, tx, auditRow{actor: &viewer, action: auth.AuditMemberExport, territory: &under, ip: ip,
			details: map[string]any{"rows": len(out), "contact": withContact, "contacts": contacts}})
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: export members: %w", err)
	}
	return out, nil
}

const profileColumns = `m.id, coalesce(m.email, ''), m.first_name, m.last_name, coalesce(m.phone, ''),
	coalesce(m.address, ''), m.territory_id, m.status, m.created_at, m.erased_at`

func scanProfile(r pgx.CollectableRow) (auth.Profile, error) {
	var p auth.Profile
	return p, r.Scan(&p.ID, &p.Email, &p.FirstName, &p.LastName, &p.Phone, &p.Address, &p.TerritoryID,
		&p.Status, &p.CreatedAt, &p.ErasedAt)
}

// Profile returns a member's own personal data, read as that member.
func (db *DB) Profile(ctx context.Context, id int64) (auth.Profile, error) {
	var p auth.Profile
	err := db.asMember(ctx, id, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+profileColumns+` FROM members m WHERE m.id = $1 AND m.erased_at IS NULL`, id)
		if err != nil {
			return err
		}
		p, err = pgx.CollectExactlyOneRow(rows, scanProfile)
		return err
	})
	if err != nil {
		return p, fmt.Errorf("postgres: profile %d: %w", id, translate(err))
	}
	return p, nil
}

// ProfileUpdate changes a member's own details; nil fields are left alone.
type ProfileUpdate struct {
	FirstName *string
	LastName  *string
	Phone     *string
	Address   *string
}

// UpdateProfile changes a member's own details, as that member.
func (db *DB) UpdateProfile(ctx context.Context, id int64, u ProfileUpdate) error {
	return db.asMember(ctx, id, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE members SET first_name = coalesce($2, first_name), last_name = coalesce($3, last_name),
			phone = CASE WHEN $4::text IS NULL THEN phone ELSE NULLIF($4, '') END,
			address = CASE WHEN $5::text IS NULL THEN address ELSE NULLIF($5, '') END
			WHERE id = $1`, id, u.FirstName, u.LastName, u.Phone, u.Address)
		if err != nil {
			return fmt.Errorf("postgres: update profile: %w", err)
		}
		return nil
	})
}

// AddConsents records a member's answers, as that member.
func (db *DB) AddConsents(ctx context.Context, id int64, cs []auth.Consent) error {
	return db.asMember(ctx, id, func(tx pgx.Tx) error { return insertConsents(ctx, tx, id, cs) })
}

const consentsSQL = `SELECT DISTINCT ON (purpose) purpose, granted, source, at FROM consents
WHERE member_id = $1 ORDER BY purpose, at DESC, id DESC`

func scanConsent(r pgx.CollectableRow) (auth.Consent, error) {
	var c auth.Consent
	return c, r.Scan(&c.Purpose, &c.Granted, &c.Source, &c.At)
}

// Consents returns a member's current answer per purpose.
func (db *DB) Consents(ctx context.Context, id int64) ([]auth.Consent, error) {
	var out []auth.Consent
	err := db.asMember(ctx, id, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, consentsSQL, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanConsent)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: consents: %w", err)
	}
	return out, nil
}

// ExportMemberData gathers everything held about member id, for that member, and
// audits the download.
func (db *DB) ExportMemberData(ctx context.Context, id int64, ip string) (auth.DataExport, error) {
	x := auth.DataExport{ExportedAt: time.Now().UTC()}
	err := db.asSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+profileColumns+` FROM members m WHERE m.id = $1 AND m.erased_at IS NULL`, id)
		if err != nil {
			return err
		}
		if x.Profile, err = pgx.CollectExactlyOneRow(rows, scanProfile); err != nil {
			return translate(err)
		}
		// The whole consent history, not only current answers: it is data held about them.
		if rows, err = tx.Query(ctx, `SELECT purpose, granted, source, at FROM consents WHERE member_id = $1 ORDER BY at, id`, id); err != nil {
			return err
		}
		if x.Consents, err = pgx.CollectRows(rows, scanConsent); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, grantsSQL, id, nil); err != nil {
			return err
		}
		if x.Grants, err = pgx.CollectRows(rows, scanGrant); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, `SELECT created_at, expires_at, ip, user_agent FROM sessions WHERE member_id = $1 ORDER BY created_at`, id); err != nil {
			return err
		}
		if x.Sessions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (auth.SessionInfo, error) {
			var s auth.SessionInfo
			return s, r.Scan(&s.CreatedAt, &s.ExpiresAt, &s.IP, &s.UserAgent)
		}); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, apiTokensSQL, id); err != nil {
			return err
		}
		if x.APITokens, err = pgx.CollectRows(rows, scanAPIToken); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, `SELECT `+auditColumns+` FROM audit_log a
			WHERE a.actor_id = $1 OR a.target_id = $1 ORDER BY a.id`, id); err != nil {
			return err
		}
		if x.Audit, err = pgx.CollectRows(rows, scanAudit); err != nil {
			return err
		}
		// Who looked at them is theirs to know, but as a role ("secrétaire de section"),
		// not the officer's IP address, which is the officer's personal data.
		for i, e := range x.Audit {
			if e.ActorID == nil || *e.ActorID == id {
				continue
			}
			x.Audit[i].IP = ""
			if r, ok := e.Details["actor_role"].(string); ok && auth.Role(r).Valid() {
				x.Audit[i].ActorRole = auth.Role(r).Label()
			} else if r := auth.BestRole(grantsOf(ctx, tx, *e.ActorID)); r != "" {
				x.Audit[i].ActorRole = r.Label()
			}
		}
		return insertAudit(ctx, tx, auditRow{actor: &id, action: auth.AuditSelfExport, target: &id, ip: ip})
	})
	if err != nil {
		return x, fmt.Errorf("postgres: export data of member %d: %w", id, err)
	}
	if x.Consents == nil {
		x.Consents = []auth.Consent{}
	}
	return x, nil
}

// EraseMember deletes a member's personal data (GDPR art. 17): identity and contact
// fields emptied, consents, sessions, tokens, grants and queued mail deleted. The row
// stays as a pseudonymous id, so aggregates and the audit log keep their meaning.
func (db *DB) EraseMember(ctx context.Context, id int64, ip string) error {
	return db.asSystem(ctx, func(tx pgx.Tx) error {
		var email string
		if err := tx.QueryRow(ctx, `SELECT email FROM members WHERE id = $1 AND erased_at IS NULL FOR UPDATE`, id).Scan(&email); err != nil {
			return fmt.Errorf("postgres: erase member %d: %w", id, translate(err))
		}
		if _, err := tx.Exec(ctx, `UPDATE members SET email = NULL, password_hash = NULL, first_name = '', last_name = '',
			phone = NULL, address = NULL, status = 'former', erased_at = now() WHERE id = $1`, id); err != nil {
			return fmt.Errorf("postgres: erase member %d: %w", id, err)
		}
		for _, q := range []string{
			`DELETE FROM consents WHERE member_id = $1`,
			`DELETE FROM sessions WHERE member_id = $1`,
			`DELETE FROM api_tokens WHERE member_id = $1`,
			`DELETE FROM password_resets WHERE member_id = $1`,
			`DELETE FROM grants WHERE member_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("postgres: erase member %d: %w", id, err)
			}
		}
		// Mail to them or about them: the address, reset links, sign-up notices.
		if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE lower(to_addr) = lower($1)
			OR strpos(lower(body), lower($1)) > 0 OR strpos(lower(subject), lower($1)) > 0`, email); err != nil {
			return fmt.Errorf("postgres: erase member %d: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM throttle WHERE key = ANY ($1)`,
			[]string{AccountThrottleKey(email), ResetThrottleKey(email)}); err != nil {
			return fmt.Errorf("postgres: erase member %d: %w", id, err)
		}
		return insertAudit(ctx, tx, auditRow{actor: &id, action: auth.AuditErase, target: &id, ip: ip})
	})
}

// GrantFilter selects grants; nil fields do not filter.
type GrantFilter struct {
	MemberID *int64
	Under    *int64 // grants on this territory or below
}

const grantsSQL = `SELECT g.id, g.member_id, g.territory_id, coalesce(g.role, ''), coalesce(g.permission, ''), g.granted_by, g.granted_at
FROM grants g JOIN territories t ON t.id = g.territory_id
WHERE ($1::bigint IS NULL OR g.member_id = $1) AND ($2::bigint IS NULL OR $2 = ANY (t.ancestors))
ORDER BY g.id`

func scanGrant(r pgx.CollectableRow) (auth.Grant, error) {
	var g auth.Grant
	return g, r.Scan(&g.ID, &g.MemberID, &g.TerritoryID, &g.Role, &g.Permission, &g.GrantedBy, &g.GrantedAt)
}

// Grants returns the grants matching f.
func (db *DB) Grants(ctx context.Context, f GrantFilter) ([]auth.Grant, error) {
	rows, err := db.pool.Query(ctx, grantsSQL, f.MemberID, f.Under)
	if err != nil {
		return nil, fmt.Errorf("postgres: grants: %w", err)
	}
	gs, err := pgx.CollectRows(rows, scanGrant)
	if err != nil {
		return nil, fmt.Errorf("postgres: grants: %w", err)
	}
	return gs, nil
}

// Grant returns one grant.
func (db *DB) Grant(ctx context.Context, id int64) (auth.Grant, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, member_id, territory_id, coalesce(role, ''), coalesce(permission, ''), granted_by, granted_at
		FROM grants WHERE id = $1`, id)
	if err != nil {
		return auth.Grant{}, fmt.Errorf("postgres: grant %d: %w", id, err)
	}
	g, err := pgx.CollectExactlyOneRow(rows, scanGrant)
	if err != nil {
		return g, fmt.Errorf("postgres: grant %d: %w", id, translate(err))
	}
	return g, nil
}

// CreateGrant gives g and audits it; granting what the member already has is ErrConflict.
func (db *DB) CreateGrant(ctx context.Context, g auth.Grant, ip string) (auth.Grant, error) {
	if err := g.Validate(); err != nil {
		return g, err
	}
	// As coopol_system: the statement reads members, which row-level security guards.
	err := db.asSystem(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO grants (member_id, territory_id, role, permission, granted_by)
			SELECT $1, $2, NULLIF($3, ''), NULLIF($4, ''), $5 FROM members WHERE id = $1 AND erased_at IS NULL
			RETURNING id, granted_at`, g.MemberID, g.TerritoryID, g.Role, g.Permission, g.GrantedBy).Scan(&g.ID, &g.GrantedAt)
		if err != nil {
			if translate(err) == errs.ErrNotFound {
				return fmt.Errorf("postgres: grant: member %d: %w", g.MemberID, errs.ErrNotFound)
			}
			return fmt.Errorf("postgres: grant: %w", translateArea(err))
		}
		return insertAudit(ctx, tx, auditRow{actor: g.GrantedBy, action: auth.AuditGrantCreate, target: &g.MemberID,
			territory: &g.TerritoryID, ip: ip, details: map[string]any{"grant_id": g.ID, "role": g.Role, "permission": g.Permission}})
	})
	return g, err
}

// DeleteGrant takes grant id back and audits it.
func (db *DB) DeleteGrant(ctx context.Context, id int64, actor *int64, ip string) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		var g auth.Grant
		err := tx.QueryRow(ctx, `DELETE FROM grants WHERE id = $1 RETURNING member_id, territory_id, coalesce(role, ''), coalesce(permission, '')`,
			id).Scan(&g.MemberID, &g.TerritoryID, &g.Role, &g.Permission)
		if err != nil {
			return fmt.Errorf("postgres: delete grant %d: %w", id, translate(err))
		}
		return insertAudit(ctx, tx, auditRow{actor: actor, action: auth.AuditGrantDelete, target: &g.MemberID,
			territory: &g.TerritoryID, ip: ip, details: map[string]any{"grant_id": id, "role": g.Role, "permission": g.Permission}})
	})
}

func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

const apiTokensSQL = `SELECT id, member_id, name, scopes, created_at, expires_at, revoked_at, last_used_at
FROM api_tokens WHERE member_id = $1 ORDER BY id`

func scanAPIToken(r pgx.CollectableRow) (auth.APIToken, error) {
	var t auth.APIToken
	return t, r.Scan(&t.ID, &t.MemberID, &t.Name, &t.Scopes, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &t.LastUsedAt)
}

// CreateAPIToken stores the hash of a new API token of member, limited to scopes
// (read only when none is given), and audits it.
func (db *DB) CreateAPIToken(ctx context.Context, memberID int64, name string, scopes []auth.Scope, hash []byte, expires time.Time, ip string) (auth.APIToken, error) {
	var t auth.APIToken
	if len(scopes) == 0 {
		scopes = []auth.Scope{auth.ScopeRead}
	}
	for _, s := range scopes {
		if !s.Valid() {
			return t, fmt.Errorf("scope %q: %w", s, errs.ErrInvalid)
		}
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO api_tokens (member_id, name, token_hash, expires_at, scopes) VALUES ($1, $2, $3, $4, $5)
			RETURNING id, member_id, name, scopes, created_at, expires_at, revoked_at, last_used_at`, memberID, name, hash, expires, scopes)
		if err != nil {
			return fmt.Errorf("postgres: api token: %w", err)
		}
		if t, err = pgx.CollectExactlyOneRow(rows, scanAPIToken); err != nil {
			return fmt.Errorf("postgres: api token: %w", translate(err))
		}
		return insertAudit(ctx, tx, auditRow{actor: &memberID, action: auth.AuditTokenCreate, ip: ip,
			details: map[string]any{"token_id": t.ID, "expires_at": expires, "scopes": scopes}})
	})
	return t, err
}

// APITokens lists a member's API tokens, without secrets.
func (db *DB) APITokens(ctx context.Context, memberID int64) ([]auth.APIToken, error) {
	rows, err := db.pool.Query(ctx, apiTokensSQL, memberID)
	if err != nil {
		return nil, fmt.Errorf("postgres: api tokens: %w", err)
	}
	ts, err := pgx.CollectRows(rows, scanAPIToken)
	if err != nil {
		return nil, fmt.Errorf("postgres: api tokens: %w", err)
	}
	return ts, nil
}

// RevokeAPIToken revokes token id of memberID; another member's token is ErrNotFound.
func (db *DB) RevokeAPIToken(ctx context.Context, memberID, id int64, ip string) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND member_id = $2 AND revoked_at IS NULL`, id, memberID)
		if err != nil {
			return fmt.Errorf("postgres: revoke token: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: api token %d: %w", id, errs.ErrNotFound)
		}
		return insertAudit(ctx, tx, auditRow{actor: &memberID, action: auth.AuditTokenRevoke, ip: ip,
			details: map[string]any{"token_id": id}})
	})
}

// grantsOf returns a member's grants inside tx; a failed read is no grant, as it only
// labels audit entries.
func grantsOf(ctx context.Context, tx pgx.Tx, id int64) []auth.Grant {
	rows, err := tx.Query(ctx, grantsSQL, id, nil)
	if err != nil {
		return nil
	}
	gs, _ := pgx.CollectRows(rows, scanGrant)
	return gs
}

// NotifyAccountHolder queues the message compose writes to the live account with
// email, if any, and does nothing otherwise: a sign-up with a registered address
// answers like any other and tells the owner instead.
func (db *DB) NotifyAccountHolder(ctx context.Context, email string, compose func(p auth.Profile) mail.Message) error {
	return db.asSystem(ctx, func(tx pgx.Tx) error {
		var p auth.Profile
		err := tx.QueryRow(ctx, `SELECT id, email, first_name, last_name FROM members
			WHERE lower(email) = lower($1) AND erased_at IS NULL`, email).Scan(&p.ID, &p.Email, &p.FirstName, &p.LastName)
		if translate(err) == errs.ErrNotFound {
			return nil
		}
		if err != nil {
			return fmt.Errorf("postgres: notify account: %w", err)
		}
		m := compose(p)
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (to_addr, subject, body) VALUES ($1, $2, $3)`, m.To, m.Subject, m.Body); err != nil {
			return fmt.Errorf("postgres: notify account: %w", err)
		}
		return nil
	})
}
