package crosstab

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/coopol/coopol/internal/errs"
)

// ScoreWeights combine the three components into one score.
type ScoreWeights struct {
	Reserve  float64 `json:"reserve"`
	Gap      float64 `json:"gap"`
	Transfer float64 `json:"transfer"`
}

// Presets are the named score weightings.
var Presets = map[string]ScoreWeights{
	"reserve":        {Reserve: 1},              // abstainers where the favourable vote is strong
	"mobilisation":   {Gap: 1},                  // favourable voters lost since the reference election
	"transfer":       {Transfer: 1},             // votes of eliminated candidates, by affinity
	"between-rounds": {Reserve: 1, Transfer: 1}, // the second round: abstainers plus transfers
}

// ParseAffinity reads "LFI:0.9,ECO:0.7" into nuance → weight in [0, 1].
func ParseAffinity(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, ":")
		w, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || w < 0 || w > 1 || k == "" || len(k) > 40 {
			return nil, fmt.Errorf("affinity %q: want NUANCE:weight with a weight in [0, 1]: %w", part, errs.ErrInvalid)
		}
		out[k] = w
	}
	return out, nil
}

// ScoreInput is what a bureau's score is computed from.
type ScoreInput struct {
	Result     *Result
	Reference  *Result // the same bureau in the reference election, if any
	Households float64 // NaN when unknown
}

// ScoreParams configure the scores: the favourable measure, in the election and in
// the reference election, affinity weights of the other nuances, and the weighting.
type ScoreParams struct {
	Favourable    Measure
	RefFavourable Measure // defaults to Favourable
	Affinity      map[string]float64
	Weights       ScoreWeights
}

// Score is one bureau's score with every component, so a ranking can be checked by
// hand.
type Score struct {
	Bureau         string             `json:"bureau"`
	Name           string             `json:"name,omitempty"`
	Commune        string             `json:"commune"`
	Inscrits       int64              `json:"inscrits"`
	Abstentions    int64              `json:"abstentions"`
	Exprimes       int64              `json:"exprimes"`
	Favourable     float64            `json:"favourable_votes"`
	FavShare       float64            `json:"favourable_share"` // of exprimés
	AbstentionRate float64            `json:"abstention_rate"`
	Reserve        float64            `json:"reserve"` // inscrits × abstention rate × favourable share
	RefFavRate     float64            `json:"reference_favourable_rate,omitempty"`
	Gap            float64            `json:"gap"` // reference favourable votes per inscrit × inscrits − favourable votes now
	Transfer       float64            `json:"transfer"`
	TransferParts  map[string]float64 `json:"transfer_parts,omitempty"` // nuance → votes × affinity
	Score          float64            `json:"score"`
	Households     float64            `json:"households"`
	Leaflets       int64              `json:"leaflets"` // one per household, rounded up
	Rank           int                `json:"rank"`
}

// ComputeScore scores one bureau. Components a bureau lacks data for are 0.
func ComputeScore(in ScoreInput, p ScoreParams, cands, refCands map[int]Candidate) Score {
	var s Score
	r := in.Result
	if r == nil {
		return s
	}
	s.Inscrits, s.Abstentions, s.Exprimes = r.Inscrits, r.Abstentions, r.Exprimes
	fav, den, ok := p.Favourable.Parts(r, cands)
	if ok {
		s.Favourable = fav
		s.FavShare = fav / den
	}
	if r.Inscrits > 0 && r.Abstentions >= 0 {
		s.AbstentionRate = float64(r.Abstentions) / float64(r.Inscrits)
		s.Reserve = float64(r.Inscrits) * s.AbstentionRate * s.FavShare
	}
	if in.Reference != nil && in.Reference.Inscrits > 0 {
		rm := p.RefFavourable
		if rm.Kind == "" {
			rm = p.Favourable
		}
		if rf, _, ok := rm.Parts(in.Reference, refCands); ok {
			s.RefFavRate = rf / float64(in.Reference.Inscrits)
			s.Gap = s.RefFavRate*float64(r.Inscrits) - s.Favourable
		}
	}
	for n, v := range r.Votes {
		c := cands[n]
		if c.Number == 0 {
			c.Number = n
		}
		if p.Favourable.Selects(c) {
			continue
		}
		if w, ok := p.Affinity[c.Group()]; ok && w > 0 {
			if s.TransferParts == nil {
				s.TransferParts = map[string]float64{}
			}
			s.TransferParts[c.Group()] += float64(v) * w
			s.Transfer += float64(v) * w
		}
	}
	s.Score = p.Weights.Reserve*s.Reserve + p.Weights.Gap*s.Gap + p.Weights.Transfer*s.Transfer
	s.Households = in.Households
	if !math.IsNaN(in.Households) && in.Households > 0 {
		s.Leaflets = int64(math.Ceil(in.Households - 1e-9))
	}
	return s
}

// Rank sorts scores by decreasing score (ties by bureau code) and numbers them.
func Rank(ss []Score) {
	sort.SliceStable(ss, func(i, j int) bool {
		if ss[i].Score != ss[j].Score {
			return ss[i].Score > ss[j].Score
		}
		return ss[i].Bureau < ss[j].Bureau
	})
	for i := range ss {
		ss[i].Rank = i + 1
	}
}

// PlanStep is one bureau of a plan.
type PlanStep struct {
	Score
	Volunteers    int   `json:"volunteers"`
	CumLeaflets   int64 `json:"cumulative_leaflets"`
	CumVolunteers int   `json:"cumulative_volunteers"`
}

// Plan is which bureaux to cover first with the means at hand.
type Plan struct {
	Volunteers        int        `json:"volunteers"`
	Leaflets          int64      `json:"leaflets"`
	PerVolunteer      int64      `json:"leaflets_per_volunteer"`
	Budget            int64      `json:"budget"` // min(leaflets, volunteers × per volunteer)
	Steps             []PlanStep `json:"steps"`
	LeafletsUsed      int64      `json:"leaflets_used"`
	Skipped           []string   `json:"skipped,omitempty"` // ranked above a chosen bureau but too big for what was left
	WithoutHouseholds int        `json:"without_households"`
}

// MakePlan walks the ranked scores and takes each bureau whose leaflets fit in what is
// left of the budget; a bureau needs ceil(leaflets / per volunteer) volunteers.
func MakePlan(ranked []Score, volunteers int, leaflets, perVolunteer int64) (Plan, error) {
	if volunteers <= 0 || leaflets <= 0 || perVolunteer <= 0 {
		return Plan{}, fmt.Errorf("plan: volunteers, leaflets and leaflets per volunteer must be positive: %w", errs.ErrInvalid)
	}
	p := Plan{Volunteers: volunteers, Leaflets: leaflets, PerVolunteer: perVolunteer}
	p.Budget = min(leaflets, int64(volunteers)*perVolunteer)
	left := p.Budget
	vols := volunteers
	for _, s := range ranked {
		if s.Leaflets <= 0 {
			p.WithoutHouseholds++
			continue
		}
		need := int((s.Leaflets + perVolunteer - 1) / perVolunteer)
		if s.Leaflets > left || need > vols {
			p.Skipped = append(p.Skipped, s.Bureau)
			continue
		}
		left -= s.Leaflets
		vols -= need
		p.LeafletsUsed += s.Leaflets
		p.Steps = append(p.Steps, PlanStep{Score: s, Volunteers: need, CumLeaflets: p.LeafletsUsed, CumVolunteers: volunteers - vols})
		if left == 0 || vols == 0 {
			break
		}
	}
	return p, nil
}
