package auth

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coopol/coopol/internal/errs"
)

// Status is a member's standing in the party, distinct from the roles they hold.
type Status string

// The statuses: a sign-up is a sympathisant; the section makes them adhérent.
const (
	StatusSympathisant Status = "sympathisant"
	StatusAdherent     Status = "adherent"
	StatusFormer       Status = "former"
)

// Profile is a member's personal data.
type Profile struct {
	ID          int64      `json:"id"`
	Email       string     `json:"email"`
	FirstName   string     `json:"first_name"`
	LastName    string     `json:"last_name"`
	Phone       string     `json:"phone,omitempty"`
	Address     string     `json:"address,omitempty"`
	TerritoryID int64      `json:"territory_id"`
	Status      Status     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	ErasedAt    *time.Time `json:"erased_at,omitempty"`
}

// Summary is what a member list shows: names and standing, no contact details.
type Summary struct {
	ID          int64  `json:"id"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	TerritoryID int64  `json:"territory_id"`
	Status      Status `json:"status"`
}

// Contact is the part of a profile only PermMemberContact reveals.
type Contact struct {
	ID      int64  `json:"id"`
	Email   string `json:"email"`
	Phone   string `json:"phone,omitempty"`
	Address string `json:"address,omitempty"`
}

// Consent is a member's answer for one purpose, kept as history.
type Consent struct {
	Purpose string    `json:"purpose"`
	Granted bool      `json:"granted"`
	Source  string    `json:"source,omitempty"`
	At      time.Time `json:"at"`
}

// PurposeSectionContact is the consent to being contacted by one's section and the
// party: without it, nobody is shown the member's contact details.
const PurposeSectionContact = "section_contact"

// Purposes are the uses of personal data a member may accept or refuse.
func Purposes() []string {
	return []string{"newsletter", "sms", "phone", PurposeSectionContact}
}

// ValidPurpose reports whether p is a known consent purpose.
func ValidPurpose(p string) bool {
	for _, q := range Purposes() {
		if p == q {
			return true
		}
	}
	return false
}

// SignUp is a new account as entered; the store receives it with the password hashed.
type SignUp struct {
	Email        string
	Password     string
	PasswordHash string
	FirstName    string
	LastName     string
	Phone        string
	Address      string
	TerritoryID  int64
	Consents     []Consent
}

// NormalizeEmail lower-cases and trims an address, so one person has one account.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateEmail checks an address is a plain addr-spec, without a display name.
func ValidateEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || strings.ContainsAny(s, "\r\n") {
		return fmt.Errorf("e-mail %q: %w", s, errs.ErrInvalid)
	}
	return nil
}

// Validate checks a sign-up before hashing, and normalises the e-mail.
func (s *SignUp) Validate() error {
	s.Email = NormalizeEmail(s.Email)
	if err := ValidateEmail(s.Email); err != nil {
		return err
	}
	if err := ValidatePassword(s.Password); err != nil {
		return err
	}
	for name, v := range map[string]*string{"first_name": &s.FirstName, "last_name": &s.LastName} {
		*v = strings.TrimSpace(*v)
		if *v == "" || utf8.RuneCountInString(*v) > 100 {
			return fmt.Errorf("%s: 1 to 100 characters: %w", name, errs.ErrInvalid)
		}
	}
	if utf8.RuneCountInString(s.Phone) > 30 || utf8.RuneCountInString(s.Address) > 300 {
		return fmt.Errorf("phone or address too long: %w", errs.ErrInvalid)
	}
	for _, c := range s.Consents {
		if !ValidPurpose(c.Purpose) {
			return fmt.Errorf("consent purpose %q: %w", c.Purpose, errs.ErrInvalid)
		}
	}
	return nil
}

// AuditEntry is one line of the append-only audit log. It names members by id only, so
// erasing a member's personal data leaves the entry pseudonymous.
type AuditEntry struct {
	ID          int64          `json:"id"`
	At          time.Time      `json:"at"`
	ActorID     *int64         `json:"actor_id,omitempty"`
	Action      string         `json:"action"`
	TargetID    *int64         `json:"target_id,omitempty"`
	TerritoryID *int64         `json:"territory_id,omitempty"`
	IP          string         `json:"ip,omitempty"`
	Details     map[string]any `json:"details,omitempty"`
	// ActorRole names the actor's role ("secrétaire de section") where the IP would say
	// too much: in a member's own data export, about someone who looked at them.
	ActorRole string `json:"actor_role,omitempty"`
}

// The audited actions.
const (
	AuditLoginSuccess   = "login.success"
	AuditLoginFailure   = "login.failure"
	AuditLogoutAll      = "logout.all"
	AuditPasswordReset  = "password.reset"
	AuditGrantCreate    = "grant.create"
	AuditGrantDelete    = "grant.delete"
	AuditContactReveal  = "member.contact_reveal"
	AuditMemberExport   = "member.export"
	AuditSelfExport     = "member.self_export"
	AuditErase          = "member.erase"
	AuditTokenCreate    = "token.create"
	AuditTokenRevoke    = "token.revoke"
	AuditTerritoryWrite = "territory.write"
)

// APIToken is a long-lived credential for scripts; only its hash is stored.
type APIToken struct {
	ID         int64      `json:"id"`
	MemberID   int64      `json:"member_id"`
	Name       string     `json:"name"`
	Scopes     []Scope    `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// SessionInfo describes an open session, for the member's own data export.
type SessionInfo struct {
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
}

// DataExport is everything coopol holds about one member (GDPR art. 15 and 20).
type DataExport struct {
	Profile   Profile       `json:"profile"`
	Consents  []Consent     `json:"consents"`
	Grants    []Grant       `json:"grants"`
	Sessions  []SessionInfo `json:"sessions"`
	APITokens []APIToken    `json:"api_tokens"`
	// Audit holds what the member did and who looked at their data.
	Audit      []AuditEntry `json:"audit"`
	ExportedAt time.Time    `json:"exported_at"`
}

// Throttle bounds attempts at guessing a secret or flooding a form, over a window, per
// account (or address) and per IP. Beyond the limit each attempt waits twice as long
// as the one before (2 s, 4 s, 8 s … up to MaxDelay) instead of a lockout, so nobody can
// lock an account or, behind one proxy IP, everyone. The per-IP limit is the larger:
// one address may carry many people.
type Throttle struct {
	Window       time.Duration
	AccountLimit int
	IPLimit      int
	MaxDelay     time.Duration // 0: DefaultThrottle's
}

// DefaultThrottle allows 5 attempts per account and 100 per IP in 15 minutes before
// delays start, capped at 15 minutes.
func DefaultThrottle() Throttle {
	return Throttle{Window: 15 * time.Minute, AccountLimit: 5, IPLimit: 100, MaxDelay: 15 * time.Minute}
}

// Cap returns MaxDelay, or the default when unset.
func (t Throttle) Cap() time.Duration {
	if t.MaxDelay <= 0 {
		return DefaultThrottle().MaxDelay
	}
	return t.MaxDelay
}
