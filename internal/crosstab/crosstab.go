package crosstab

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
)

// Candidate is one candidate, binôme or list of an election round.
type Candidate struct {
	Number int    `json:"number"`
	Panel  int    `json:"panel"`
	Nuance string `json:"nuance,omitempty"`
	Name   string `json:"name,omitempty"`
}

// Group is the column a candidate's votes go to in tables: its nuance, or c<number>
// for lists without one.
func (c Candidate) Group() string {
	if c.Nuance != "" {
		return c.Nuance
	}
	return "c" + strconv.Itoa(c.Number)
}

// Result is a bureau's result in one election round. A count missing from the source
// layout is -1.
type Result struct {
	Inscrits, Abstentions, Votants, Blancs, Nuls, Exprimes int64
	Votes                                                  map[int]int64 // candidate number → votes
}

// Measure is what a crosstab or a score counts: abstention, or the votes of a set of
// nuances or candidates.
type Measure struct {
	Kind       string   `json:"kind"` // abstention, nuance, candidate
	Nuances    []string `json:"nuances,omitempty"`
	Candidates []int    `json:"candidates,omitempty"`
}

// ParseMeasure reads "abstention", "nuance:UG,LFI" or "candidate:3,5".
func ParseMeasure(s string) (Measure, error) {
	kind, list, _ := strings.Cut(strings.TrimSpace(s), ":")
	var m Measure
	switch kind {
	case "abstention":
		m.Kind = kind
		return m, nil
	case "nuance":
		m.Kind = kind
		for _, n := range strings.Split(list, ",") {
			if n = strings.TrimSpace(n); n != "" {
				if len(n) > 40 {
					return m, fmt.Errorf("nuance %q: too long: %w", n, errs.ErrInvalid)
				}
				m.Nuances = append(m.Nuances, n)
			}
		}
	case "candidate":
		m.Kind = kind
		for _, n := range strings.Split(list, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil || v <= 0 {
				return m, fmt.Errorf("candidate %q: a number: %w", n, errs.ErrInvalid)
			}
			m.Candidates = append(m.Candidates, v)
		}
	default:
		return m, fmt.Errorf("measure %q: want abstention, nuance:X,Y or candidate:N: %w", s, errs.ErrInvalid)
	}
	if len(m.Nuances) == 0 && len(m.Candidates) == 0 {
		return m, fmt.Errorf("measure %q: name at least one nuance or candidate: %w", s, errs.ErrInvalid)
	}
	return m, nil
}

// Selects reports whether the measure counts candidate c's votes.
func (m Measure) Selects(c Candidate) bool {
	for _, n := range m.Nuances {
		if strings.EqualFold(n, c.Nuance) || strings.EqualFold(n, c.Group()) {
			return true
		}
	}
	for _, n := range m.Candidates {
		if n == c.Number {
			return true
		}
	}
	return false
}

// Parts returns the measure's numerator and denominator in r: abstentions over
// inscrits, or the selected votes over exprimés. ok is false when r lacks them.
func (m Measure) Parts(r *Result, cands map[int]Candidate) (num, den float64, ok bool) {
	if r == nil {
		return 0, 0, false
	}
	if m.Kind == "abstention" {
		if r.Abstentions < 0 || r.Inscrits <= 0 {
			return 0, 0, false
		}
		return float64(r.Abstentions), float64(r.Inscrits), true
	}
	if r.Exprimes <= 0 {
		return 0, 0, false
	}
	for n, v := range r.Votes {
		if m.Selects(cands[n]) || (cands[n].Number == 0 && m.Selects(Candidate{Number: n})) {
			num += float64(v)
		}
	}
	return num, float64(r.Exprimes), true
}

// Obs is one bureau in a crosstab: the measure's parts and the indicator's.
type Obs struct {
	Bureau         string
	Num, Den       float64 // measure
	IndNum, IndDen float64 // indicator
}

// Bin is one quantile group of a crosstab.
type Bin struct {
	Quantile     int     `json:"quantile"` // 1 = lowest indicator values
	Bureaux      int     `json:"bureaux"`
	IndicatorMin float64 `json:"indicator_min"`
	IndicatorMax float64 `json:"indicator_max"`
	Indicator    float64 `json:"indicator"` // Σ indicator numerator / Σ denominator of the group
	Num          float64 `json:"num"`       // Σ votes (or abstentions)
	Den          float64 `json:"den"`       // Σ exprimés (or inscrits)
	Share        float64 `json:"share"`     // Num / Den
}

// Table is a crosstab: the groups, the whole territory, and what was left out.
type Table struct {
	Bins      []Bin   `json:"bins"`
	Total     Bin     `json:"total"`
	Excluded  int     `json:"excluded"`  // bureaux without result or indicator
	Pearson   float64 `json:"pearson"`   // weighted by Den, between the bureau share and indicator
	Weighting string  `json:"weighting"` // how the groups were cut, for the record
}

// Quantiles cuts bureaux into q groups of equal weight (the measure's denominator:
// exprimés or inscrits) by increasing indicator value, ties broken by bureau code; a
// bureau goes to the group holding the middle of its weight. Each group's share and
// indicator are ratios of sums, so the table can be recomputed from an export.
func Quantiles(obs []Obs, q int) Table {
	t := Table{Weighting: "groups of equal Σ den by increasing indicator; a bureau falls in the group of its weight's midpoint; shares and indicators are ratios of sums"}
	var keep []Obs
	for _, o := range obs {
		if o.Den > 0 && o.IndDen > 0 && !math.IsNaN(o.IndNum) && !math.IsNaN(o.Num) {
			keep = append(keep, o)
		} else {
			t.Excluded++
		}
	}
	slices.SortStableFunc(keep, func(a, b Obs) int {
		va, vb := a.IndNum/a.IndDen, b.IndNum/b.IndDen
		switch {
		case va < vb:
			return -1
		case va > vb:
			return 1
		}
		return strings.Compare(a.Bureau, b.Bureau)
	})
	var total float64
	for _, o := range keep {
		total += o.Den
	}
	q = max(q, 1)
	t.Bins = make([]Bin, q)
	indNum := make([]float64, q)
	indDen := make([]float64, q)
	for i := range t.Bins {
		t.Bins[i] = Bin{Quantile: i + 1, IndicatorMin: math.NaN(), IndicatorMax: math.NaN()}
	}
	var cum float64
	var tn, td float64
	for _, o := range keep {
		k := int((cum + o.Den/2) / total * float64(q))
		k = min(k, q-1)
		cum += o.Den
		b := &t.Bins[k]
		v := o.IndNum / o.IndDen
		if b.Bureaux == 0 || v < b.IndicatorMin {
			b.IndicatorMin = v
		}
		if b.Bureaux == 0 || v > b.IndicatorMax {
			b.IndicatorMax = v
		}
		b.Bureaux++
		b.Num += o.Num
		b.Den += o.Den
		indNum[k] += o.IndNum
		indDen[k] += o.IndDen
		tn += o.IndNum
		td += o.IndDen
		t.Total.Num += o.Num
		t.Total.Den += o.Den
	}
	for i := range t.Bins {
		b := &t.Bins[i]
		b.Share = ratio(b.Num, b.Den)
		b.Indicator = ratio(indNum[i], indDen[i])
	}
	t.Total.Bureaux = len(keep)
	t.Total.Share = ratio(t.Total.Num, t.Total.Den)
	t.Total.Indicator = ratio(tn, td)
	xs := make([]float64, len(keep))
	ys := make([]float64, len(keep))
	ws := make([]float64, len(keep))
	for i, o := range keep {
		xs[i], ys[i], ws[i] = o.IndNum/o.IndDen, o.Num/o.Den, o.Den
	}
	t.Pearson = Pearson(xs, ys, ws)
	if len(keep) > 0 {
		t.Total.IndicatorMin, t.Total.IndicatorMax = xs[0], xs[len(xs)-1]
	}
	return t
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// Pearson is the weighted correlation coefficient of x and y; NaN when undefined.
func Pearson(x, y, w []float64) float64 {
	var sw, mx, my float64
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			continue
		}
		sw += w[i]
		mx += w[i] * x[i]
		my += w[i] * y[i]
	}
	if sw == 0 {
		return math.NaN()
	}
	mx, my = mx/sw, my/sw
	var cxy, cxx, cyy float64
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			continue
		}
		dx, dy := x[i]-mx, y[i]-my
		cxy += w[i] * dx * dy
		cxx += w[i] * dx * dx
		cyy += w[i] * dy * dy
	}
	if cxx == 0 || cyy == 0 {
		return math.NaN()
	}
	return cxy / math.Sqrt(cxx*cyy)
}

// Correlation is one line of a correlation table.
type Correlation struct {
	Indicator string  `json:"indicator"`
	Label     string  `json:"label"`
	Pearson   float64 `json:"pearson"`
	Bureaux   int     `json:"bureaux"`
}

// Correlations returns the weighted correlation of the measure's share with every
// indicator, strongest first. counts[i] are bureau i's profile counts.
func Correlations(shares, weights []float64, counts [][]float64) []Correlation {
	var out []Correlation
	xs := make([]float64, len(shares))
	for _, in := range indicators {
		num, den := in.indices()
		n := 0
		for i := range shares {
			xs[i] = math.NaN()
			if counts[i] != nil {
				xs[i] = valueAt(num, den, counts[i])
			}
			if !math.IsNaN(xs[i]) && !math.IsNaN(shares[i]) {
				n++
			}
		}
		out = append(out, Correlation{Indicator: in.Key, Label: in.Label, Pearson: Pearson(xs, shares, weights), Bureaux: n})
	}
	// Strongest first, NaN last.
	slices.SortStableFunc(out, func(x, y Correlation) int {
		a, b := math.Abs(x.Pearson), math.Abs(y.Pearson)
		switch {
		case math.IsNaN(a) && math.IsNaN(b):
			return 0
		case math.IsNaN(a):
			return 1
		case math.IsNaN(b), a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	return out
}

// Query is a crosstab request: over a territory, in one election round, the measure's
// share by quantile of an indicator.
type Query struct {
	Election     electoral.Election `json:"-"`
	Measure      Measure            `json:"measure"`
	Indicator    string             `json:"indicator"`
	Quantiles    int                `json:"quantiles"`
	Scope        Scope              `json:"scope"`
	AreaWeighted bool               `json:"area_weighted"`
}

// Validate checks the query.
func (q Query) Validate() error {
	if _, err := LookupIndicator(q.Indicator); err != nil {
		return err
	}
	if q.Quantiles < 2 || q.Quantiles > 100 {
		return fmt.Errorf("quantiles: 2 to 100: %w", errs.ErrInvalid)
	}
	return q.Scope.Validate()
}

// Crosstab is a crosstab's answer.
type Crosstab struct {
	Election     string        `json:"election"`
	Round        int           `json:"round"`
	Query        Query         `json:"query"`
	Indicator    Indicator     `json:"indicator"`
	Table        Table         `json:"table"`
	Correlations []Correlation `json:"correlations"`
	Method       string        `json:"method"`
}

// BuildCrosstab computes the crosstab of q from an election's results and the bureau
// rows of the territory.
func BuildCrosstab(q Query, er *ElectionResults, rows []Row) Crosstab {
	in, _ := LookupIndicator(q.Indicator)
	var obs []Obs
	var shares, weights []float64
	var counts [][]float64
	for i := range rows {
		r := &rows[i]
		num, den, ok := q.Measure.Parts(er.ByBureau[r.Code], er.Candidates)
		if !ok {
			continue
		}
		o := Obs{Bureau: r.Code, Num: num, Den: den, IndNum: math.NaN(), IndDen: math.NaN()}
		if r.Counts != nil {
			o.IndNum, o.IndDen = in.Parts(r.Counts)
		}
		obs = append(obs, o)
		shares = append(shares, num/den)
		weights = append(weights, den)
		counts = append(counts, r.Counts)
	}
	// Bureaux with results but no row (no contour) count as excluded.
	excluded := 0
	have := make(map[string]bool, len(rows))
	for i := range rows {
		have[rows[i].Code] = true
	}
	for code := range er.ByBureau {
		if !have[code] {
			excluded++
		}
	}
	t := Quantiles(obs, q.Quantiles)
	t.Excluded += excluded
	return Crosstab{Election: er.Election.ID, Round: er.Election.Round, Query: q, Indicator: in, Table: t,
		Correlations: Correlations(shares, weights, counts),
		Method: "share = Σ num / Σ den per group (num: the measure's votes or abstentions; den: exprimés or inscrits); " +
			"indicator = Σ numerator counts / Σ denominator counts; correlations weighted by den. " +
			"Every count is a column of coopol export bureaux for the same election."}
}

// MarshalJSON encodes v as JSON with NaN and infinite floats as null: groups without
// bureaux and indicators without denominator are NaN, which encoding/json refuses.
func MarshalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err == nil {
		return b, nil
	}
	return json.Marshal(nanFree(reflect.ValueOf(v)))
}

// nanFree rebuilds v as maps, slices and scalars, with NaN floats as nil.
func nanFree(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return nanFree(v.Elem())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = nanFree(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = nanFree(v.MapIndex(k))
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				if m, ok := nanFree(v.Field(i)).(map[string]any); ok {
					for k, x := range m {
						out[k] = x
					}
					continue
				}
			}
			if name == "" {
				name = f.Name
			}
			x := nanFree(v.Field(i))
			if strings.Contains(opts, "omitempty") && v.Field(i).IsZero() {
				continue
			}
			out[name] = x
		}
		return out
	}
	return v.Interface()
}
