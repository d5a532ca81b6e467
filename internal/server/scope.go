package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/territory"
)

// scopeTerritories returns every territory a crosstab, ranking or export scope touches:
// the section of each bureau or commune (the fédération when no section covers it),
// the fédération of a département or circonscription, the national territory for all
// of France. A request is authorised on each, never on the first one alone.
func scopeTerritories(ctx context.Context, d Deps, s crosstab.Scope) ([]territory.Territory, error) {
	var areas []territory.Area
	var depts []string
	for _, b := range s.Bureaux {
		commune, _, _ := strings.Cut(b, "_")
		areas = append(areas, territory.Area{Commune: commune, Bureau: b})
	}
	if s.Commune != "" {
		areas = append(areas, territory.Area{Commune: s.Commune})
	}
	if c := s.Circonscription; len(c) > 2 {
		depts = append(depts, c[:len(c)-2])
	}
	if s.Dept != "" {
		depts = append(depts, s.Dept)
	}
	if len(areas) == 0 && len(depts) == 0 {
		t, err := d.Members.NationalTerritory(ctx)
		return []territory.Territory{t}, err
	}
	return d.Members.ScopeTerritories(ctx, areas, depts)
}

// authorizeScope authorises p on every territory scope touches and returns them. For
// reading (data.read) with no scope named, a member without national reach gets their
// own territory: a fédération's département, a section's commune or bureaux.
func authorizeScope(r *http.Request, d Deps, p auth.Permission, s *crosstab.Scope) ([]territory.Territory, error) {
	m := auth.MemberFrom(r.Context())
	empty := s.Commune == "" && s.Circonscription == "" && s.Dept == "" && len(s.Bureaux) == 0
	if empty && p == auth.PermDataRead {
		own, err := ownScope(r.Context(), d, m)
		if err != nil {
			return nil, err
		}
		*s = own
	}
	ts, err := scopeTerritories(r.Context(), d, *s)
	if err != nil {
		return nil, err
	}
	if err := auth.AuthorizeAll(m, p, ts); err != nil {
		return nil, err
	}
	return ts, nil
}

// ownScope is the scope of m's first territory holding data.read, or all of France
// when m holds it nationally (or nowhere, which Authorize then refuses).
func ownScope(ctx context.Context, d Deps, m *auth.Member) (crosstab.Scope, error) {
	national, err := d.Members.NationalTerritory(ctx)
	if err != nil {
		return crosstab.Scope{}, err
	}
	ids := m.Scopes(auth.PermDataRead)
	if len(ids) == 0 || auth.Authorize(m, auth.PermDataRead, national) == nil {
		return crosstab.Scope{}, nil
	}
	t, err := d.Members.Territory(ctx, ids[0])
	if err != nil {
		return crosstab.Scope{}, err
	}
	if t.Kind == territory.Federation {
		return crosstab.Scope{Dept: t.Code}, nil
	}
	areas, err := d.Members.TerritoryAreas(ctx, t.ID)
	if err != nil {
		return crosstab.Scope{}, err
	}
	if len(areas) == 1 && areas[0].Bureau == "" {
		return crosstab.Scope{Commune: areas[0].Commune}, nil
	}
	var s crosstab.Scope
	for _, a := range areas {
		if a.Bureau == "" {
			return crosstab.Scope{}, fmt.Errorf("section %s covers several communes: name a commune or bureaux: %w", t.Code, errs.ErrInvalid)
		}
		s.Bureaux = append(s.Bureaux, a.Bureau)
	}
	if len(s.Bureaux) == 0 {
		return crosstab.Scope{}, fmt.Errorf("section %s covers no commune yet: %w", t.Code, errs.ErrNotFound)
	}
	return s, nil
}
