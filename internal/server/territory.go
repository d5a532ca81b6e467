package server

import (
	"fmt"
	"net/http"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/territory"
)

// handleTerritories lists the territorial tree; its shape is not personal data, so
// every member may read it.
func handleTerritories(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var f territory.Filter
		under, err := queryID(r, "under", 0)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if under != 0 {
			f.Under = &under
		}
		if k := territory.Kind(r.URL.Query().Get("kind")); k != "" {
			if k != territory.National && k != territory.Federation && k != territory.Section {
				respondError(w, r, d.Logger, fmt.Errorf("kind %q: %w", k, errs.ErrInvalid))
				return
			}
			f.Kind = &k
		}
		ts, err := d.Members.Territories(r.Context(), f)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if ts == nil {
			ts = []territory.Territory{}
		}
		respondJSON(w, http.StatusOK, ts)
	}
}

func handleTerritory(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		t, err := d.Members.Territory(r.Context(), id)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		areas, err := d.Members.TerritoryAreas(r.Context(), id)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if areas == nil {
			areas = []territory.Area{}
		}
		respondJSON(w, http.StatusOK, map[string]any{"territory": t, "areas": areas})
	}
}

type territoryRequest struct {
	Kind     string `json:"kind"`
	Code     string `json:"code"`
	Name     string `json:"name"`
	ParentID int64  `json:"parent_id"`
}

func parseTerritory(r *http.Request) (territory.Territory, error) {
	var req territoryRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return territory.Territory{}, err
	}
	if req.ParentID <= 0 {
		return territory.Territory{}, fmt.Errorf("parent_id required: %w", errs.ErrInvalid)
	}
	t := territory.Territory{Kind: territory.Kind(req.Kind), Code: req.Code, Name: req.Name, ParentID: &req.ParentID}
	// Checked against a stand-in parent of the right kind; the store checks the real one.
	parent := territory.Territory{Kind: territory.National}
	if t.Kind == territory.Section {
		parent.Kind = territory.Federation
	}
	return t, territory.Validate(t, &parent)
}

// handleTerritoryCreate adds a fédération or section, with territory.manage on its parent.
func handleTerritoryCreate(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		t, err := parseTerritory(r)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		parent, err := d.Members.Territory(r.Context(), *t.ParentID)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := auth.Authorize(m, auth.PermTerritoryManage, parent); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		created, err := d.Members.CreateTerritory(r.Context(), &m.ID, t)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		respondJSON(w, http.StatusCreated, created)
	}
}

type areasRequest struct {
	Areas []territory.Area `json:"areas"`
}

func parseAreas(r *http.Request) ([]territory.Area, error) {
	var req areasRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return nil, err
	}
	if len(req.Areas) == 0 || len(req.Areas) > 2000 {
		return nil, fmt.Errorf("areas: 1 to 2000: %w", errs.ErrInvalid)
	}
	out := make([]territory.Area, 0, len(req.Areas))
	for _, a := range req.Areas {
		n, err := territory.ParseArea(a.Commune, a.Bureau)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// managedTerritory authorises territory.manage on territory {id} of the path.
func managedTerritory(r *http.Request, d Deps) (territory.Territory, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return territory.Territory{}, err
	}
	t, err := d.Members.Territory(r.Context(), id)
	if err != nil {
		return t, err
	}
	return t, auth.Authorize(auth.MemberFrom(r.Context()), auth.PermTerritoryManage, t)
}

func handleTerritoryAreasAdd(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := managedTerritory(r, d)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		areas, err := parseAreas(r)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := d.Members.AddTerritoryAreas(r.Context(), &auth.MemberFrom(r.Context()).ID, t.ID, areas); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		handleTerritory(d)(w, r)
	}
}

func handleTerritoryAreaDelete(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := managedTerritory(r, d)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		a, err := territory.ParseArea(r.URL.Query().Get("commune"), r.URL.Query().Get("bureau"))
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if err := d.Members.RemoveTerritoryArea(r.Context(), &auth.MemberFrom(r.Context()).ID, t.ID, a); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
