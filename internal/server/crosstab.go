package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/export"
	"github.com/coopol/coopol/internal/postgres"
)

// CrossService serves bureau profiles, crosstabs, targeting and exports;
// *postgres.DB satisfies it.
type CrossService interface {
	BureauProfile(ctx context.Context, code string) (*postgres.BureauProfile, error)
	Crosstab(ctx context.Context, q crosstab.Query) (*crosstab.Crosstab, error)
	Targets(ctx context.Context, q postgres.TargetQuery) (*postgres.Targets, error)
	export.Source
}

// crossTimeout bounds a crosstab or a ranking; a national one takes well under a second.
const crossTimeout = 30 * time.Second

// addCrossRoutes mounts the bureau, crosstab, targeting and export endpoints; they sit
// behind requireMember. Reading them needs data.read (adhérents and above) on every
// territory the request touches; a file leaving the system needs data.export.
func addCrossRoutes(r chi.Router, d Deps) {
	r.Get("/api/bureaux/{code}", handleBureauGet(d))
	r.Get("/api/crosstab", handleCrosstab(d))
	r.Get("/api/crosstab/indicators", handleIndicatorList())
	r.Get("/api/targets", handleTargets(d))
	r.Get("/api/exports/bureaux", handleExportBureaux(d))
}

// respondNaN writes v as JSON with NaN as null.
func respondNaN(w http.ResponseWriter, r *http.Request, d Deps, v any) {
	b, err := crosstab.MarshalJSON(v)
	if err != nil {
		respondError(w, r, d.Logger, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(append(b, '\n'))
}

func handleBureauGet(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, _, _, err := electoral.ParseBureauKey(r.PathValue("code"))
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		s := crosstab.Scope{Bureaux: []string{key}}
		if err := s.Validate(); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if _, err := authorizeScope(r, d, auth.PermDataRead, &s); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), crossTimeout)
		defer cancel()
		p, err := d.Cross.BureauProfile(ctx, key)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		respondNaN(w, r, d, p)
	}
}

func handleIndicatorList() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		respondJSON(w, http.StatusOK, map[string]any{"indicators": crosstab.Indicators(), "counts": crosstab.Counts()})
	}
}

// queryScope reads commune, circonscription, dept or bureaux.
func queryScope(r *http.Request) (crosstab.Scope, error) {
	v := r.URL.Query()
	s := crosstab.Scope{Commune: v.Get("commune"), Circonscription: v.Get("circonscription"), Dept: v.Get("dept"),
		Bureaux: crosstab.ParseBureaux(v.Get("bureaux"))}
	return s, s.Validate()
}

// queryElection reads election and round (default 1).
func queryElection(r *http.Request, name string) (electoral.Election, error) {
	id, round := r.URL.Query().Get(name), 1
	if i, rs, ok := strings.Cut(id, "/"); ok {
		id = i
		n, err := strconv.Atoi(rs)
		if err != nil {
			return electoral.Election{}, fmt.Errorf("%s %q: %w", name, r.URL.Query().Get(name), errs.ErrInvalid)
		}
		round = n
	} else if rs := r.URL.Query().Get("round"); rs != "" && name == "election" {
		n, err := strconv.Atoi(rs)
		if err != nil {
			return electoral.Election{}, fmt.Errorf("round %q: %w", rs, errs.ErrInvalid)
		}
		round = n
	}
	return electoral.ParseElection(id, round)
}

func queryBounded(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: an integer from %d to %d: %w", name, lo, hi, errs.ErrInvalid)
	}
	return n, nil
}

func handleCrosstab(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, err := crosstabQuery(r)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		if _, err := authorizeScope(r, d, auth.PermDataRead, &q.Scope); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), crossTimeout)
		defer cancel()
		c, err := d.Cross.Crosstab(ctx, q)
		if err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		respondNaN(w, r, d, c)
	}
}

func crosstabQuery(r *http.Request) (crosstab.Query, error) {
	var q crosstab.Query
	var err error
	if q.Election, err = queryElection(r, "election"); err != nil {
		return q, err
	}
	m := r.URL.Query().Get("measure")
	if m == "" {
		m = "abstention"
	}
	if q.Measure, err = crosstab.ParseMeasure(m); err != nil {
		return q, err
	}
	q.Indicator = r.URL.Query().Get("indicator")
	n, err := queryBounded(r, "quantiles", 5, 2, 100)
	if err != nil {
		return q, err
	}
	q.Quantiles = int(n)
	q.AreaWeighted = r.URL.Query().Get("method") == "area"
	if q.Scope, err = queryScope(r); err != nil {
		return q, err
	}
	return q, q.Validate()
}

// scoreQuery reads favourable, reference, reference_favourable, affinity, preset and
// weights; nil params when favourable is absent.
func scoreQuery(r *http.Request) (*crosstab.ScoreParams, *electoral.Election, error) {
	v := r.URL.Query()
	fav := v.Get("favourable")
	if fav == "" {
		return nil, nil, nil
	}
	parse := func(s string) (crosstab.Measure, error) {
		if strings.HasPrefix(s, "candidate:") || strings.HasPrefix(s, "nuance:") {
			return crosstab.ParseMeasure(s)
		}
		return crosstab.ParseMeasure("nuance:" + s)
	}
	p := &crosstab.ScoreParams{}
	var err error
	if p.Favourable, err = parse(fav); err != nil {
		return nil, nil, err
	}
	if rf := v.Get("reference_favourable"); rf != "" {
		if p.RefFavourable, err = parse(rf); err != nil {
			return nil, nil, err
		}
	}
	if p.Affinity, err = crosstab.ParseAffinity(v.Get("affinity")); err != nil {
		return nil, nil, err
	}
	preset := v.Get("preset")
	if preset == "" {
		preset = "reserve"
	}
	wts, ok := crosstab.Presets[preset]
	if !ok {
		return nil, nil, fmt.Errorf("preset %q: %w", preset, errs.ErrInvalid)
	}
	if ws := v.Get("weights"); ws != "" {
		parts := strings.Split(ws, ",")
		if len(parts) != 3 {
			return nil, nil, fmt.Errorf("weights: reserve,gap,transfer: %w", errs.ErrInvalid)
		}
		var f [3]float64
		for i, s := range parts {
			if f[i], err = strconv.ParseFloat(s, 64); err != nil || f[i] < -1e6 || f[i] > 1e6 {
				return nil, nil, fmt.Errorf("weights: reserve,gap,transfer: %w", errs.ErrInvalid)
			}
		}
		wts = crosstab.ScoreWeights{Reserve: f[0], Gap: f[1], Transfer: f[2]}
	}
	p.Weights = wts
	var ref *electoral.Election
	if v.Get("reference") != "" {
		e, err := queryElection(r, "reference")
		if err != nil {
			return nil, nil, err
		}
		ref = &e
	}
	return p, ref, nil
}

func handleTargets(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q postgres.TargetQuery
		var err error
		fail := func(err error) { respondError(w, r, d.Logger, err) }
		if q.Election, err = queryElection(r, "election"); err != nil {
			fail(err)
			return
		}
		p, ref, err := scoreQuery(r)
		if err != nil {
			fail(err)
			return
		}
		if p == nil {
			fail(fmt.Errorf("favourable: name the favourable nuances or candidates: %w", errs.ErrInvalid))
			return
		}
		q.Params, q.Reference = *p, ref
		if q.Scope, err = queryScope(r); err != nil {
			fail(err)
			return
		}
		if _, err := authorizeScope(r, d, auth.PermDataRead, &q.Scope); err != nil {
			fail(err)
			return
		}
		limit, err1 := queryBounded(r, "limit", 100, 0, 100000)
		vols, err2 := queryBounded(r, "volunteers", 0, 0, 100000)
		leaf, err3 := queryBounded(r, "leaflets", 0, 0, 1e9)
		per, err4 := queryBounded(r, "per_volunteer", 400, 1, 1e6)
		for _, e := range []error{err1, err2, err3, err4} {
			if e != nil {
				fail(e)
				return
			}
		}
		q.Limit, q.Volunteers, q.Leaflets, q.PerVolunteer = int(limit), int(vols), leaf, per
		ctx, cancel := context.WithTimeout(r.Context(), crossTimeout)
		defer cancel()
		t, err := d.Cross.Targets(ctx, q)
		if err != nil {
			fail(err)
			return
		}
		respondNaN(w, r, d, t)
	}
}

func handleExportBureaux(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := auth.MemberFrom(r.Context())
		if err := refuseCrossSite(r); err != nil {
			respondError(w, r, d.Logger, err)
			return
		}
		v := r.URL.Query()
		q := export.Query{Format: v.Get("format"), MinPopulation: 0, AreaWeighted: v.Get("method") == "area"}
		if q.Format == "" {
			q.Format = "csv"
		}
		var err error
		fail := func(err error) { respondError(w, r, d.Logger, err) }
		if q.Scope, err = queryScope(r); err != nil {
			fail(err)
			return
		}
		for _, id := range strings.Split(v.Get("election"), ",") {
			if id == "" {
				continue
			}
			round := v.Get("round")
			if round == "" {
				round = "1"
			}
			if !strings.Contains(id, "/") {
				id += "/" + round
			}
			i, rs, _ := strings.Cut(id, "/")
			n, err := strconv.Atoi(rs)
			if err != nil {
				fail(fmt.Errorf("round %q: %w", rs, errs.ErrInvalid))
				return
			}
			e, err := electoral.ParseElection(i, n)
			if err != nil {
				fail(err)
				return
			}
			q.Elections = append(q.Elections, e)
		}
		if len(q.Elections) > 10 {
			fail(fmt.Errorf("at most 10 elections: %w", errs.ErrInvalid))
			return
		}
		if q.Score, q.Reference, err = scoreQuery(r); err != nil {
			fail(err)
			return
		}
		if sep := v.Get("sep"); sep == ";" {
			q.Options.Sep = ';'
		} else if sep != "" && sep != "," {
			fail(fmt.Errorf("sep: , or ;: %w", errs.ErrInvalid))
			return
		}
		q.Options.Geometry = v.Get("geometry") == "1" || v.Get("geometry") == "true"
		mp, err := queryBounded(r, "min_population", 0, 0, 1e6)
		if err != nil {
			fail(err)
			return
		}
		q.MinPopulation = float64(mp)
		if err := q.Validate(); err != nil {
			fail(err)
			return
		}
		ts, err := authorizeScope(r, d, auth.PermDataExport, &q.Scope)
		if err != nil {
			fail(err)
			return
		}
		// Audit before the first byte: once streaming starts, an error can no longer
		// become a status, and an export that leaves must be on record.
		var es []string
		for _, e := range q.Elections {
			es = append(es, e.Scope())
		}
		// One entry per territory touched, so each territory's log shows the export.
		audits := make([]auth.AuditEntry, 0, len(ts))
		for _, t := range ts {
			audits = append(audits, auth.AuditEntry{ActorID: &m.ID, Action: export.AuditAction, TerritoryID: &t.ID,
				IP: clientIP(r, d.TrustProxy), Details: map[string]any{"kind": "bureaux", "format": q.Format, "elections": es,
					"scope": q.Scope, "min_population": q.MinPopulation, "via": "api"}})
		}
		if err := d.Members.AuditEach(r.Context(), audits); err != nil {
			fail(err)
			return
		}
		f := export.Formats[q.Format]
		w.Header().Set("Content-Type", f.MediaType)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="bureaux.%s"`, f.Ext))
		if _, err := export.Bureaux(r.Context(), d.Cross, q, w); err != nil {
			d.Logger.ErrorContext(r.Context(), "export failed mid-stream", "err", err)
		}
	}
}
