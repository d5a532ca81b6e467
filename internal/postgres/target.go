package postgres

import (
	"context"
	"fmt"

	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
)

// TargetQuery asks for bureaux ranked by a score, and optionally a plan.
type TargetQuery struct {
	Election  electoral.Election
	Reference *electoral.Election // for the mobilisation gap
	Params    crosstab.ScoreParams
	Scope     crosstab.Scope
	Limit     int // 0: every bureau
	// A plan, when Volunteers > 0.
	Volunteers   int
	Leaflets     int64
	PerVolunteer int64
}

// Targets is the ranking and the plan.
type Targets struct {
	Election  string               `json:"election"`
	Round     int                  `json:"round"`
	Reference string               `json:"reference,omitempty"`
	Params    crosstab.ScoreParams `json:"params"`
	Bureaux   int                  `json:"bureaux"`
	Scores    []crosstab.Score     `json:"scores"`
	Plan      *crosstab.Plan       `json:"plan,omitempty"`
	Method    string               `json:"method"`
}

// Targets scores every bureau of the territory with results in q.Election, ranks them
// and, when asked, plans which to cover first.
func (db *DB) Targets(ctx context.Context, q TargetQuery) (*Targets, error) {
	if err := q.Scope.Validate(); err != nil {
		return nil, err
	}
	if q.Params.Favourable.Kind == "" || q.Params.Favourable.Kind == "abstention" {
		return nil, fmt.Errorf("targets: name the favourable nuances or candidates: %w", errs.ErrInvalid)
	}
	er, err := db.ElectionResults(ctx, q.Election, q.Scope)
	if err != nil {
		return nil, err
	}
	var ref *crosstab.ElectionResults
	t := &Targets{Election: q.Election.ID, Round: q.Election.Round, Params: q.Params,
		Method: "reserve = inscrits × abstention rate × favourable share of exprimés; gap = reference favourable votes per inscrit × inscrits − favourable votes; " +
			"transfer = Σ votes of other candidates × affinity of their nuance; score = weights · components; leaflets = households (census résidences principales, else grid households), rounded up"}
	if q.Reference != nil {
		if ref, err = db.ElectionResults(ctx, *q.Reference, q.Scope); err != nil {
			return nil, err
		}
		t.Reference = fmt.Sprintf("%s/%d", q.Reference.ID, q.Reference.Round)
	}
	err = db.BureauRows(ctx, q.Scope, crosstab.RowOptions{Extra: er.ByBureau}, func(r *crosstab.Row) error {
		res := er.ByBureau[r.Code]
		if res == nil {
			return nil
		}
		in := crosstab.ScoreInput{Result: res, Households: r.Households()}
		var refCands map[int]crosstab.Candidate
		if ref != nil {
			in.Reference, refCands = ref.ByBureau[r.Code], ref.Candidates
		}
		s := crosstab.ComputeScore(in, q.Params, er.Candidates, refCands)
		s.Bureau, s.Name, s.Commune = r.Code, r.Name, r.Commune
		t.Scores = append(t.Scores, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	crosstab.Rank(t.Scores)
	t.Bureaux = len(t.Scores)
	if q.Volunteers > 0 || q.Leaflets > 0 {
		if q.PerVolunteer == 0 {
			q.PerVolunteer = 400
		}
		p, err := crosstab.MakePlan(t.Scores, q.Volunteers, q.Leaflets, q.PerVolunteer)
		if err != nil {
			return nil, err
		}
		t.Plan = &p
	}
	if q.Limit > 0 && len(t.Scores) > q.Limit {
		t.Scores = t.Scores[:q.Limit]
	}
	if t.Scores == nil {
		t.Scores = []crosstab.Score{}
	}
	return t, nil
}
