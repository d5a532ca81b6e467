// Package auth holds who a member is and what they may do: roles granted on a
// territory, permissions, the one authorisation function every handler calls,
// passwords, session and API tokens. It does no I/O.
package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/territory"
)

// Role is a position in the party, granted on a territory.
type Role string

// The roles, from the least to the most trusted.
const (
	RoleSympathisant     Role = "sympathisant"
	RoleAdherent         Role = "adherent"
	RoleAnalyst          Role = "analyste"
	RoleSectionSecretary Role = "secretaire_section"
	RoleFederalSecretary Role = "secretaire_federal"
	RoleAdmin            Role = "admin_national"
)

// Permission is a feature a grant opens; roles are bundles of them.
type Permission string

// The permissions. Export is separate from listing and contact on purpose: a file
// leaving the system is a bigger risk than a screen, so it is granted apart.
const (
	PermMemberList      Permission = "member.list"      // names, section, status of members
	PermMemberContact   Permission = "member.contact"   // e-mail, phone, address; each reveal audited
	PermMemberExport    Permission = "member.export"    // a file of members
	PermCampaign        Permission = "campaign.manage"  // SMS / e-mail campaigns, missions
	PermRoleGrant       Permission = "role.grant"       // grant and revoke roles below oneself
	PermTerritoryManage Permission = "territory.manage" // create sections, assign communes and bureaux
	PermAuditRead       Permission = "audit.read"
	PermDataExport      Permission = "data.export" // aggregated crosstabs, no personal data
	PermDataRead        Permission = "data.read"   // bureau profiles, crosstabs, targeting scores
	PermFieldRecord     Permission = "field.record"
)

// rolePermissions is the table of what each role carries. Migration 0006 holds a copy
// for row-level security; TestRolePermissionsMatchDatabase keeps them equal.
var rolePermissions = map[Role][]Permission{
	RoleSympathisant:     nil,
	RoleAdherent:         {PermFieldRecord, PermDataRead},
	RoleAnalyst:          {PermDataExport, PermDataRead},
	RoleSectionSecretary: {PermFieldRecord, PermMemberList, PermMemberContact, PermCampaign, PermRoleGrant, PermDataRead},
	RoleFederalSecretary: {PermFieldRecord, PermMemberList, PermMemberContact, PermCampaign, PermRoleGrant, PermTerritoryManage, PermDataRead},
	RoleAdmin: {PermFieldRecord, PermMemberList, PermMemberContact, PermMemberExport, PermCampaign,
		PermRoleGrant, PermTerritoryManage, PermAuditRead, PermDataExport, PermDataRead},
}

// roleLabels name roles as members read them, in the GDPR export among others.
var roleLabels = map[Role]string{
	RoleSympathisant: "sympathisant", RoleAdherent: "adhérent", RoleAnalyst: "analyste",
	RoleSectionSecretary: "secrétaire de section", RoleFederalSecretary: "secrétaire fédéral",
	RoleAdmin: "administrateur national",
}

// Label is the role's French name, "secrétaire de section".
func (r Role) Label() string { return roleLabels[r] }

// BestRole returns the highest-ranked role among gs, "" when they hold none.
func BestRole(gs []Grant) Role {
	var best Role
	for _, g := range gs {
		if g.Role != "" && (best == "" || rank[g.Role] > rank[best]) {
			best = g.Role
		}
	}
	return best
}

// rank orders roles for granting: one may grant only roles ranked strictly below one's
// own best role holding role.grant on that territory (an admin may grant anything).
var rank = map[Role]int{
	RoleSympathisant: 0, RoleAdherent: 1, RoleAnalyst: 2, RoleSectionSecretary: 3,
	RoleFederalSecretary: 4, RoleAdmin: 5,
}

// Roles returns every role, least trusted first.
func Roles() []Role {
	return []Role{RoleSympathisant, RoleAdherent, RoleAnalyst, RoleSectionSecretary, RoleFederalSecretary, RoleAdmin}
}

// Permissions returns every permission.
func Permissions() []Permission {
	return []Permission{PermMemberList, PermMemberContact, PermMemberExport, PermCampaign,
		PermRoleGrant, PermTerritoryManage, PermAuditRead, PermDataExport, PermDataRead, PermFieldRecord}
}

// RolePermissions returns a copy of the role → permissions table.
func RolePermissions() map[Role][]Permission {
	m := make(map[Role][]Permission, len(rolePermissions))
	for r, ps := range rolePermissions {
		m[r] = slices.Clone(ps)
	}
	return m
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { _, ok := rolePermissions[r]; return ok }

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool { return slices.Contains(Permissions(), p) }

// Has reports whether the role carries p.
func (r Role) Has(p Permission) bool { return slices.Contains(rolePermissions[r], p) }

// Grant is a role, or a single permission, given to a member on a territory.
type Grant struct {
	ID          int64      `json:"id"`
	MemberID    int64      `json:"member_id"`
	TerritoryID int64      `json:"territory_id"`
	Role        Role       `json:"role,omitempty"`
	Permission  Permission `json:"permission,omitempty"`
	GrantedBy   *int64     `json:"granted_by,omitempty"`
	GrantedAt   time.Time  `json:"granted_at"`
}

// Gives reports whether the grant opens p.
func (g Grant) Gives(p Permission) bool { return g.Permission == p || g.Role.Has(p) }

// Validate checks that the grant names exactly one known role or permission.
func (g Grant) Validate() error {
	switch {
	case g.Role != "" && g.Permission != "":
		return fmt.Errorf("a grant names a role or a permission, not both: %w", errs.ErrInvalid)
	case g.Role != "" && !g.Role.Valid():
		return fmt.Errorf("role %q: %w", g.Role, errs.ErrInvalid)
	case g.Permission != "" && !g.Permission.Valid():
		return fmt.Errorf("permission %q: %w", g.Permission, errs.ErrInvalid)
	case g.Role == "" && g.Permission == "":
		return fmt.Errorf("a grant needs a role or a permission: %w", errs.ErrInvalid)
	}
	return nil
}

// Method is how a request proved who it comes from.
type Method int

// The two ways in: a browser session cookie (CSRF-checked) or an API token.
const (
	MethodSession Method = iota + 1
	MethodToken
)

// Member is the authenticated caller: enough to authorise, no personal data.
type Member struct {
	ID     int64
	Grants []Grant
	Method Method
	// SessionHash identifies the session a cookie request rides on (nil for tokens).
	SessionHash []byte
	// Scopes bound what an API token may do, whatever its holder's grants; sessions
	// are not bounded by scopes.
	TokenScopes []Scope
}

// Scope is what an API token was issued for.
type Scope string

// The token scopes: reading, changing, and taking files out.
const (
	ScopeRead   Scope = "read"
	ScopeWrite  Scope = "write"
	ScopeExport Scope = "export"
)

// Scopes returns every token scope.
func Scopes() []Scope { return []Scope{ScopeRead, ScopeWrite, ScopeExport} }

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return slices.Contains(Scopes(), s) }

// scopeOf is the token scope a permission needs beyond the method's: a file leaving
// the system needs export even on a GET.
func scopeOf(p Permission) Scope {
	if p == PermMemberExport || p == PermDataExport {
		return ScopeExport
	}
	return ""
}

// ScopeForMethod is the scope an HTTP method needs: read for safe methods, write for
// the rest.
func ScopeForMethod(method string) Scope {
	switch method {
	case "GET", "HEAD", "OPTIONS":
		return ScopeRead
	}
	return ScopeWrite
}

// RequireScope refuses a token caller whose token lacks s; sessions pass.
func RequireScope(m *Member, s Scope) error {
	if m == nil {
		return errs.ErrUnauthorized
	}
	if m.Method == MethodToken && !slices.Contains(m.TokenScopes, s) {
		return fmt.Errorf("API token without scope %s: %w", s, errs.ErrForbidden)
	}
	return nil
}

// Authorize is the one authorisation decision of coopol: nil when m holds p on t or on
// a territory above it, an error wrapping errs.ErrForbidden otherwise (ErrUnauthorized
// when nobody is signed in). Every handler touching protected data calls it.
func Authorize(m *Member, p Permission, t territory.Territory) error {
	if m == nil {
		return errs.ErrUnauthorized
	}
	if sc := scopeOf(p); sc != "" {
		if err := RequireScope(m, sc); err != nil {
			return err
		}
	}
	for _, g := range m.Grants {
		if g.Gives(p) && t.Covers(g.TerritoryID) {
			return nil
		}
	}
	return fmt.Errorf("%s on territory %d: %w", p, t.ID, errs.ErrForbidden)
}

// AuthorizeAll authorises p on every territory of ts: a request touching several
// territories (an export by bureau list) is allowed only if each one is.
func AuthorizeAll(m *Member, p Permission, ts []territory.Territory) error {
	for _, t := range ts {
		if err := Authorize(m, p, t); err != nil {
			return err
		}
	}
	return nil
}

// AuthorizeGrant decides whether m may give (or take back) g on t. Nobody grants
// themself anything. m needs role.grant there; a role must rank below m's best granting
// role on t (an admin may grant any), and every permission the grant opens, each one
// the role carries or the single permission, must be held by m on t: a grant never
// passes on more than the granter has.
func AuthorizeGrant(m *Member, g Grant, t territory.Territory) error {
	if m != nil && g.MemberID == m.ID {
		return fmt.Errorf("nobody grants themself anything: %w", errs.ErrForbidden)
	}
	if err := Authorize(m, PermRoleGrant, t); err != nil {
		return err
	}
	if g.Role != "" {
		best := -1
		for _, mg := range m.Grants {
			if mg.Role.Has(PermRoleGrant) && t.Covers(mg.TerritoryID) {
				best = max(best, rank[mg.Role])
			}
		}
		if best != rank[RoleAdmin] && rank[g.Role] >= best {
			return fmt.Errorf("granting %s needs a higher role: %w", g.Role, errs.ErrForbidden)
		}
	}
	opened := rolePermissions[g.Role]
	if g.Permission != "" {
		opened = []Permission{g.Permission}
	}
	for _, p := range opened {
		if err := Authorize(m, p, t); err != nil {
			return fmt.Errorf("granting %s%s needs holding %s: %w", g.Role, g.Permission, p, errs.ErrForbidden)
		}
	}
	return nil
}

// Any reports whether m holds p anywhere: for endpoints that list what is visible.
func (m *Member) Any(p Permission) bool {
	if m == nil {
		return false
	}
	return slices.ContainsFunc(m.Grants, func(g Grant) bool { return g.Gives(p) })
}

// Scopes returns the territories on which m holds p directly.
func (m *Member) Scopes(p Permission) []int64 {
	var ids []int64
	for _, g := range m.Grants {
		if g.Gives(p) && !slices.Contains(ids, g.TerritoryID) {
			ids = append(ids, g.TerritoryID)
		}
	}
	return ids
}

type memberKey struct{}

// WithMember returns a context carrying the authenticated member.
func WithMember(ctx context.Context, m *Member) context.Context {
	return context.WithValue(ctx, memberKey{}, m)
}

// MemberFrom returns the authenticated member, or nil.
func MemberFrom(ctx context.Context) *Member {
	m, _ := ctx.Value(memberKey{}).(*Member)
	return m
}

// ErrThrottled is returned when too many attempts came recently; it wraps ErrForbidden
// so code unaware of it still refuses.
var ErrThrottled = fmt.Errorf("too many attempts, try again later: %w", errs.ErrForbidden)

// IsThrottled reports whether err is ErrThrottled.
func IsThrottled(err error) bool { return errors.Is(err, ErrThrottled) }
