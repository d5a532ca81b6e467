package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/territory"
)

// Tree: 1 national → 2 fédération 92 → 3 section Antony; 1 → 4 fédération 75 → 5 Paris.
var (
	national = territory.Territory{ID: 1, Kind: territory.National, Ancestors: []int64{1}}
	fed92    = territory.Territory{ID: 2, Kind: territory.Federation, Ancestors: []int64{1, 2}}
	antony   = territory.Territory{ID: 3, Kind: territory.Section, Ancestors: []int64{1, 2, 3}}
	paris    = territory.Territory{ID: 5, Kind: territory.Section, Ancestors: []int64{1, 4, 5}}
)

func member(grants ...auth.Grant) *auth.Member { return &auth.Member{ID: 42, Grants: grants} }

func TestAuthorize(t *testing.T) {
	secAntony := member(auth.Grant{Role: auth.RoleSectionSecretary, TerritoryID: 3})
	fedSec := member(auth.Grant{Role: auth.RoleFederalSecretary, TerritoryID: 2})
	admin := member(auth.Grant{Role: auth.RoleAdmin, TerritoryID: 1})
	exporter := member(auth.Grant{Role: auth.RoleSectionSecretary, TerritoryID: 3}, auth.Grant{Permission: auth.PermMemberExport, TerritoryID: 3})
	cases := []struct {
		name string
		m    *auth.Member
		p    auth.Permission
		t    territory.Territory
		want error
	}{
		{"anonymous", nil, auth.PermMemberList, antony, errs.ErrUnauthorized},
		{"secretary in own section", secAntony, auth.PermMemberList, antony, nil},
		{"secretary contact in own section", secAntony, auth.PermMemberContact, antony, nil},
		{"secretary in another section", secAntony, auth.PermMemberList, paris, errs.ErrForbidden},
		{"secretary above own section", secAntony, auth.PermMemberList, fed92, errs.ErrForbidden},
		{"secretary cannot export", secAntony, auth.PermMemberExport, antony, errs.ErrForbidden},
		{"export granted apart", exporter, auth.PermMemberExport, antony, nil},
		{"fédération covers its sections", fedSec, auth.PermMemberContact, antony, nil},
		{"fédération not another", fedSec, auth.PermMemberList, paris, errs.ErrForbidden},
		{"admin everywhere", admin, auth.PermAuditRead, paris, nil},
		{"sympathisant nothing", member(auth.Grant{Role: auth.RoleSympathisant, TerritoryID: 3}), auth.PermMemberList, antony, errs.ErrForbidden},
		{"analyst no member data", member(auth.Grant{Role: auth.RoleAnalyst, TerritoryID: 1}), auth.PermMemberList, antony, errs.ErrForbidden},
		{"sympathisant reads no aggregates", member(auth.Grant{Role: auth.RoleSympathisant, TerritoryID: 3}), auth.PermDataRead, antony, errs.ErrForbidden},
		{"adhérent reads own section", member(auth.Grant{Role: auth.RoleAdherent, TerritoryID: 3}), auth.PermDataRead, antony, nil},
		{"adhérent not another section", member(auth.Grant{Role: auth.RoleAdherent, TerritoryID: 3}), auth.PermDataRead, paris, errs.ErrForbidden},
		{"adhérent not the country", member(auth.Grant{Role: auth.RoleAdherent, TerritoryID: 3}), auth.PermDataRead, national, errs.ErrForbidden},
		{"read-only token cannot export", &auth.Member{ID: 42, Method: auth.MethodToken, TokenScopes: []auth.Scope{auth.ScopeRead},
			Grants: []auth.Grant{{Role: auth.RoleAdmin, TerritoryID: 1}}}, auth.PermDataExport, antony, errs.ErrForbidden},
		{"export token exports", &auth.Member{ID: 42, Method: auth.MethodToken, TokenScopes: []auth.Scope{auth.ScopeRead, auth.ScopeExport},
			Grants: []auth.Grant{{Role: auth.RoleAdmin, TerritoryID: 1}}}, auth.PermDataExport, antony, nil},
		{"read-only token reads", &auth.Member{ID: 42, Method: auth.MethodToken, TokenScopes: []auth.Scope{auth.ScopeRead},
			Grants: []auth.Grant{{Role: auth.RoleAdmin, TerritoryID: 1}}}, auth.PermMemberList, antony, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := auth.Authorize(tc.m, tc.p, tc.t)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Authorize = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAuthorizeGrant(t *testing.T) {
	secAntony := member(auth.Grant{Role: auth.RoleSectionSecretary, TerritoryID: 3})
	admin := member(auth.Grant{Role: auth.RoleAdmin, TerritoryID: 1})
	cases := []struct {
		name string
		m    *auth.Member
		g    auth.Grant
		t    territory.Territory
		ok   bool
	}{
		{"secretary makes an adhérent", secAntony, auth.Grant{Role: auth.RoleAdherent}, antony, true},
		{"secretary cannot make a secretary", secAntony, auth.Grant{Role: auth.RoleSectionSecretary}, antony, false},
		{"secretary cannot make an admin", secAntony, auth.Grant{Role: auth.RoleAdmin}, antony, false},
		{"secretary cannot give export", secAntony, auth.Grant{Permission: auth.PermMemberExport}, antony, false},
		{"secretary may pass on contact", secAntony, auth.Grant{Permission: auth.PermMemberContact}, antony, true},
		{"secretary outside", secAntony, auth.Grant{Role: auth.RoleAdherent}, paris, false},
		{"admin anything", admin, auth.Grant{Role: auth.RoleAdmin}, national, true},
		{"admin gives export", admin, auth.Grant{Permission: auth.PermMemberExport}, antony, true},
		// Rank alone let a secretary hand out analyste, and with it data.export they lack.
		{"secretary cannot make an analyst", secAntony, auth.Grant{Role: auth.RoleAnalyst, MemberID: 7}, antony, false},
		{"secretary cannot give data.export", secAntony, auth.Grant{Permission: auth.PermDataExport, MemberID: 7}, antony, false},
		{"secretary may pass on data.read", secAntony, auth.Grant{Permission: auth.PermDataRead, MemberID: 7}, antony, true},
		{"nobody grants themself a role", secAntony, auth.Grant{Role: auth.RoleAdherent, MemberID: 42}, antony, false},
		{"nobody grants themself a permission", secAntony, auth.Grant{Permission: auth.PermMemberContact, MemberID: 42}, antony, false},
		{"not even an admin", admin, auth.Grant{Permission: auth.PermMemberExport, MemberID: 42}, antony, false},
		{"fédération secretary cannot make an analyst", member(auth.Grant{Role: auth.RoleFederalSecretary, TerritoryID: 2}),
			auth.Grant{Role: auth.RoleAnalyst, MemberID: 7}, antony, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := auth.AuthorizeGrant(tc.m, tc.g, tc.t)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errs.ErrForbidden)) {
				t.Fatalf("AuthorizeGrant = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestHasher(t *testing.T) {
	ctx := context.Background()
	h := auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1}, 2)
	a, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.Hash(ctx, "correct horse battery")
	if a == b || !strings.HasPrefix(a, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hashes %q, %q: want salted PHC strings", a, b)
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		if ok, err := h.Verify(ctx, a, pw); ok != want || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if ok, err := h.Verify(ctx, "", "anything"); ok || err != nil {
		t.Errorf("Verify of no account = %v, %v; want false, nil", ok, err)
	}
	if !auth.NewHasher(auth.DefaultParams(), 1).NeedsRehash(a) || h.NeedsRehash(a) {
		t.Error("NeedsRehash wrong")
	}
	for _, bad := range []string{"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "plain"} {
		if _, err := h.Verify(ctx, bad, "x"); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Verify(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestCSRFToken(t *testing.T) {
	s1, _ := auth.NewToken()
	s2, _ := auth.NewToken()
	if !auth.CheckCSRF(s1, auth.CSRFToken(s1)) || auth.CheckCSRF(s1, auth.CSRFToken(s2)) || auth.CheckCSRF(s1, "") {
		t.Fatal("CSRF token not bound to its session")
	}
}

func TestSignUpValidate(t *testing.T) {
	ok := auth.SignUp{Email: " Alice@Example.org ", Password: "douze caractères", FirstName: "Alice", LastName: "Martin"}
	if err := ok.Validate(); err != nil || ok.Email != "alice@example.org" {
		t.Fatalf("Validate = %v, email %q", err, ok.Email)
	}
	for name, mod := range map[string]func(*auth.SignUp){
		"short password":   func(s *auth.SignUp) { s.Password = "court" },
		"display name":     func(s *auth.SignUp) { s.Email = "Eve <eve@example.org>" },
		"header injection": func(s *auth.SignUp) { s.Email = "eve@example.org\r\nBcc: x@y.z" },
		"no name":          func(s *auth.SignUp) { s.FirstName = " " },
		"bad consent":      func(s *auth.SignUp) { s.Consents = []auth.Consent{{Purpose: "sell"}} },
	} {
		s := auth.SignUp{Email: "a@example.org", Password: "douze caractères", FirstName: "A", LastName: "B"}
		mod(&s)
		if err := s.Validate(); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
