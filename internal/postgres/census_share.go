package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/tiles"
)

// Census shares by vintage (crosstab.CensusShare): a share mapped for one census vintage,
// or its change between two. Every vintage goes through the same IRIS → bureau weights
// (those of the latest apportionment), so a change compares the same bureaux.

const censusNamesSQL = `SELECT DISTINCT vintage, name FROM census_variables WHERE kind = 'extensive'`

// CensusNames returns the names of the census variables loaded, by vintage.
func (db *DB) CensusNames(ctx context.Context) (map[int]map[string]bool, error) {
	rows, err := db.pool.Query(ctx, censusNamesSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: census names: %w", err)
	}
	out := map[int]map[string]bool{}
	var vintage int
	var name string
	_, err = pgx.ForEachRow(rows, []any{&vintage, &name}, func() error {
		if out[vintage] == nil {
			out[vintage] = map[string]bool{}
		}
		out[vintage][name] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: census names: %w", err)
	}
	return out, nil
}

// censusSharePartsSQL sums, per IRIS, the numerator ($1) and denominator ($2) variables
// of one vintage ($3), of the IRIS of bureau $5 when it is given. A name is read from its newest load only, so a variable published
// in two themes is not counted twice; an IRIS lacking one of the values is left out
// rather than undercounted.
const censusSharePartsSQL = `WITH vars AS (
	SELECT DISTINCT ON (name) name, dataset_id, idx FROM census_variables
	WHERE vintage = $3 AND (name = ANY($1) OR name = ANY($2)) ORDER BY name, dataset_id DESC),
parts AS (
	SELECT r.iris,
		sum(r.vals[v.idx]) FILTER (WHERE v.name = ANY($1)) AS num,
		sum(r.vals[v.idx]) FILTER (WHERE v.name = ANY($2)) AS den
	FROM vars v JOIN census_rows r ON r.dataset_id = v.dataset_id
	WHERE ($5 = '' OR r.iris IN (SELECT iris FROM iris_weights WHERE run_id = ` + latestIRISRunSQL + ` AND bureau = $5))
	GROUP BY r.iris
	HAVING count(r.vals[v.idx]) = (SELECT count(*) FROM vars))
`

// The weights of the latest IRIS apportionment: the run onto the newest bureau contours.
const latestIRISRunSQL = `(SELECT id FROM apportion_runs WHERE source = 'iris'
	ORDER BY contour_vintage DESC, source_vintage DESC, id DESC LIMIT 1)`

// censusShareLayers groups the IRIS parts into the features of a layer, $4 filtering on
// a département. Bureaux take each IRIS's counts through its population weights, as the
// bureau profiles do.
var censusShareLayers = map[string]string{
	"iris": `SELECT iris, num, den FROM parts WHERE ($4 = '' OR ` + fmt.Sprintf(deptOf, "iris") + ` = $4)`,
	// Communes as the communes layer keys them: Paris, Lyon and Marseille whole, while
	// their IRIS carry arrondissement codes.
	"communes": `SELECT ` + fmt.Sprintf(plmParent, "left(iris, 5)") + `, sum(num), sum(den) FROM parts
	WHERE ($4 = '' OR ` + fmt.Sprintf(deptOf, "iris") + ` = $4) GROUP BY 1`,
	"departements": `SELECT ` + fmt.Sprintf(deptOf, "iris") + `, sum(num), sum(den) FROM parts
	WHERE ($4 = '' OR ` + fmt.Sprintf(deptOf, "iris") + ` = $4) GROUP BY 1`,
	"bureaux": `SELECT w.bureau, sum(p.num * w.pop_weight), sum(p.den * w.pop_weight)
	FROM parts p JOIN iris_weights w ON w.iris = p.iris
	WHERE w.run_id = ` + latestIRISRunSQL + ` AND ($4 = '' OR ` + fmt.Sprintf(deptOf, "w.bureau") + ` = $4)
		AND ($5 = '' OR w.bureau = $5)
	GROUP BY 1`,
}

// ShareParts are a share's numerator and denominator for one feature.
type ShareParts struct{ Num, Den float64 }

// Value is Num/Den, NaN without a denominator.
func (p ShareParts) Value() float64 {
	if p.Den == 0 {
		return math.NaN()
	}
	return p.Num / p.Den
}

// CensusShareParts returns a census share's parts in one vintage for every feature of a
// layer (iris, communes, departements, bureaux), optionally within a département.
func (db *DB) CensusShareParts(ctx context.Context, layer, dept string, s crosstab.CensusShare, vintage int) (map[string]ShareParts, error) {
	sql, ok := censusShareLayers[layer]
	if !ok {
		return nil, fmt.Errorf("postgres: census share %s on layer %q: want iris, communes, departements or bureaux: %w", s.Key, layer, errs.ErrInvalid)
	}
	names, err := db.CensusNames(ctx)
	if err != nil {
		return nil, err
	}
	num, den, ok := s.Resolve(vintage, func(n string) bool { return names[vintage][n] })
	if !ok {
		return nil, fmt.Errorf("postgres: census share %s: vintage %d not loaded (loaded: %v): %w", s.Key, vintage, s.Vintages(names), errs.ErrNotFound)
	}
	return db.shareParts(ctx, sql, dept, "", s, num, den, vintage)
}

func (db *DB) shareParts(ctx context.Context, sql, dept, bureau string, s crosstab.CensusShare, num, den []string, vintage int) (map[string]ShareParts, error) {
	rows, err := db.pool.Query(ctx, censusSharePartsSQL+sql, num, den, vintage, dept, bureau)
	if err != nil {
		return nil, fmt.Errorf("postgres: census share %s %d: %w", s.Key, vintage, err)
	}
	out := map[string]ShareParts{}
	var id string
	var p ShareParts
	_, err = pgx.ForEachRow(rows, []any{&id, &p.Num, &p.Den}, func() error { out[id] = p; return nil })
	if err != nil {
		return nil, fmt.Errorf("postgres: census share %s %d: %w", s.Key, vintage, err)
	}
	return out, nil
}

// censusShareIndicator answers share:KEY (the share in q.Vintage, default the latest
// vintage loaded) and change:KEY (q.From → q.Vintage in points, default the earliest
// and the latest).
func (db *DB) censusShareIndicator(ctx context.Context, q tiles.IndicatorQuery) (map[string]float64, error) {
	kind, key, _ := strings.Cut(q.Indicator, ":")
	s, err := crosstab.LookupCensusShare(key)
	if err != nil {
		return nil, err
	}
	names, err := db.CensusNames(ctx)
	if err != nil {
		return nil, err
	}
	vintages := s.Vintages(names)
	if len(vintages) == 0 {
		return nil, fmt.Errorf("postgres: census share %s: no vintage loaded has its variables: %w", key, errs.ErrNotFound)
	}
	to, from := q.Vintage, q.From
	if to == 0 {
		to = vintages[len(vintages)-1]
	}
	if kind == "change" && from == 0 {
		from = vintages[0]
	}
	if kind == "change" && from == to {
		return nil, fmt.Errorf("postgres: census share change %s: %d → %d: want two different vintages (loaded: %v): %w", key, from, to, vintages, errs.ErrInvalid)
	}
	later, err := db.CensusShareParts(ctx, q.Layer, q.Dept, s, to)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(later))
	if kind == "share" {
		for id, p := range later {
			if v := p.Value(); !math.IsNaN(v) {
				out[id] = math.Round(v*1e4) / 1e4
			}
		}
		return out, nil
	}
	earlier, err := db.CensusShareParts(ctx, q.Layer, q.Dept, s, from)
	if err != nil {
		return nil, err
	}
	for id, p := range later {
		if v := crosstab.ShareChange(earlier[id].Value(), p.Value()); !math.IsNaN(v) {
			out[id] = math.Round(v*100) / 100
		}
	}
	return out, nil
}

// ProfileShare is a census share of one bureau in every vintage loaded, and its change
// between the first and the last.
type ProfileShare struct {
	crosstab.CensusShare
	Vintages []ProfileShareVintage `json:"vintages"`
	Change   *ProfileShareChange   `json:"change,omitempty"`
}

// ProfileShareVintage is a share's value in one vintage, with its apportioned parts.
type ProfileShareVintage struct {
	Vintage int      `json:"vintage"`
	Value   *float64 `json:"value"`
	Num     *float64 `json:"numerator"`
	Den     *float64 `json:"denominator"`
}

// ProfileShareChange is the change of a share between two vintages, in points.
type ProfileShareChange struct {
	From   int      `json:"from"`
	To     int      `json:"to"`
	Points *float64 `json:"points"`
}

// bureauCensusShares returns the census shares of a bureau through the latest IRIS
// weights, for every vintage loaded that has their variables.
func (db *DB) bureauCensusShares(ctx context.Context, code string) ([]ProfileShare, error) {
	names, err := db.CensusNames(ctx)
	if err != nil {
		return nil, err
	}
	out := []ProfileShare{}
	for _, s := range crosstab.CensusShares() {
		ps := ProfileShare{CensusShare: s, Vintages: []ProfileShareVintage{}}
		for _, v := range s.Vintages(names) {
			num, den, _ := s.Resolve(v, func(n string) bool { return names[v][n] })
			parts, err := db.shareParts(ctx, censusShareLayers["bureaux"], "", code, s, num, den, v)
			if err != nil {
				return nil, err
			}
			p, ok := parts[code]
			if !ok {
				continue
			}
			ps.Vintages = append(ps.Vintages, ProfileShareVintage{Vintage: v, Value: fptr(p.Value()), Num: fptr(p.Num), Den: fptr(p.Den)})
		}
		if len(ps.Vintages) == 0 {
			continue
		}
		if n := len(ps.Vintages); n > 1 {
			first, last := ps.Vintages[0], ps.Vintages[n-1]
			ch := &ProfileShareChange{From: first.Vintage, To: last.Vintage}
			if first.Value != nil && last.Value != nil {
				ch.Points = fptr(crosstab.ShareChange(*first.Value, *last.Value))
			}
			ps.Change = ch
		}
		out = append(out, ps)
	}
	return out, nil
}
