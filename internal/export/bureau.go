package export

import (
	"fmt"
	"math"
	"strings"

	"github.com/coopol/coopol/internal/crosstab"
)

// BureauTable lays out the bureau table: identity columns, then per election round its
// counts and votes by nuance (or list), then the apportioned counts and indicators,
// then the scores when asked. Counts are exported with the rates, so every crosstab
// figure can be recomputed from the file.
type BureauTable struct {
	Elections []*crosstab.ElectionResults
	// Score, when set, adds the targeting components computed on Elections[0].
	Score     *crosstab.ScoreParams
	Reference *crosstab.ElectionResults
	// MinPopulation blanks the counts and indicators of bureaux with fewer inhabitants
	// (small-cell suppression); 0 keeps everything.
	MinPopulation float64
}

// Columns returns the table's columns.
func (t *BureauTable) Columns() []Column {
	cols := []Column{{"bureau", String}, {"commune", String}, {"commune_name", String}, {"name", String},
		{"circonscription", String}, {"dept", String}, {"has_contour", Int}, {"area_km2", Float}}
	for _, er := range t.Elections {
		p := prefix(er)
		for _, n := range []string{"inscrits", "abstentions", "votants", "blancs", "nuls", "exprimes"} {
			cols = append(cols, Column{p + n, Int})
		}
		for _, g := range er.Groups {
			cols = append(cols, Column{p + "votes_" + safe(g), Int})
		}
	}
	for _, c := range crosstab.Counts() {
		cols = append(cols, Column{c.Key, Float})
	}
	for _, in := range crosstab.Indicators() {
		cols = append(cols, Column{in.Key, Float})
	}
	if t.Score != nil {
		for _, n := range []string{"favourable_votes", "favourable_share", "abstention_rate", "reserve", "gap", "transfer", "score", "households"} {
			cols = append(cols, Column{"score_" + n, Float})
		}
		cols = append(cols, Column{"score_leaflets", Int})
	}
	return cols
}

func prefix(er *crosstab.ElectionResults) string {
	return fmt.Sprintf("%s_t%d_", er.Election.ID, er.Election.Round)
}

// safe keeps column names to letters, digits and underscores.
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// Values fills dst with the row's cells.
func (t *BureauTable) Values(r *crosstab.Row, dst []Value) []Value {
	dst = dst[:0]
	str := func(s string) { dst = append(dst, Value{S: s, Null: s == ""}) }
	num := func(f float64) { dst = append(dst, Value{F: f, Null: math.IsNaN(f)}) }
	cnt := func(i int64) { dst = append(dst, Value{I: i, Null: i < 0}) }
	str(r.Code)
	str(r.Commune)
	str(r.CommuneName)
	str(r.Name)
	str(r.Circonscription)
	str(r.Dept)
	if r.HasContour {
		cnt(1)
	} else {
		cnt(0)
	}
	num(r.AreaM2 / 1e6)
	for _, er := range t.Elections {
		res := er.ByBureau[r.Code]
		if res == nil {
			for range 6 + len(er.Groups) {
				cnt(-1)
			}
			continue
		}
		for _, v := range []int64{res.Inscrits, res.Abstentions, res.Votants, res.Blancs, res.Nuls, res.Exprimes} {
			cnt(v)
		}
		for _, g := range er.Groups {
			var v int64
			for n, votes := range res.Votes {
				if c, ok := er.Candidates[n]; ok && c.Group() == g {
					v += votes
				}
			}
			cnt(v)
		}
	}
	counts := r.Counts
	if counts != nil && t.MinPopulation > 0 {
		if p := r.Population(); math.IsNaN(p) || p < t.MinPopulation {
			counts = nil
		}
	}
	for i := range crosstab.Counts() {
		if counts == nil {
			num(math.NaN())
		} else {
			num(counts[i])
		}
	}
	for _, in := range crosstab.Indicators() {
		if counts == nil {
			num(math.NaN())
		} else {
			num(in.Value(counts))
		}
	}
	if t.Score != nil {
		er := t.Elections[0]
		in := crosstab.ScoreInput{Result: er.ByBureau[r.Code], Households: r.Households()}
		var refCands map[int]crosstab.Candidate
		if t.Reference != nil {
			in.Reference, refCands = t.Reference.ByBureau[r.Code], t.Reference.Candidates
		}
		if in.Result == nil {
			for range 8 {
				num(math.NaN())
			}
			cnt(-1)
			return dst
		}
		s := crosstab.ComputeScore(in, *t.Score, er.Candidates, refCands)
		for _, v := range []float64{s.Favourable, s.FavShare, s.AbstentionRate, s.Reserve, s.Gap, s.Transfer, s.Score, s.Households} {
			num(v)
		}
		cnt(s.Leaflets)
	}
	return dst
}
