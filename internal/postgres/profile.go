package postgres

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
)

// scopeArgs turns a scope into the four arguments of the scope filters below.
func scopeArgs(s crosstab.Scope) []any {
	var b any
	if len(s.Bureaux) > 0 {
		b = s.Bureaux
	}
	return []any{nullIfEmpty(s.Commune), nullIfEmpty(s.Circonscription), nullIfEmpty(s.Dept), b}
}

// scopeFilter selects rows of a table aliased t with commune, circonscription and a
// bureau key column; $1…$4 are scopeArgs.
func scopeFilter(key string) string {
	return `($1::text IS NULL OR t.commune = $1) AND ($2::text IS NULL OR t.circonscription = $2)
	AND ($3::text IS NULL OR t.commune LIKE $3 || '%') AND ($4::text[] IS NULL OR t.` + key + ` = ANY ($4))`
}

const electionsSQL = `SELECT DISTINCT election, round FROM bureau_results ORDER BY election, round`

// Elections lists the loaded election rounds.
func (db *DB) Elections(ctx context.Context) ([]electoral.Election, error) {
	rows, err := db.pool.Query(ctx, electionsSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: elections: %w", err)
	}
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (electoral.Election, error) {
		var e electoral.Election
		var round int16
		err := r.Scan(&e.ID, &round)
		e.Round = int(round)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: elections: %w", err)
	}
	return es, nil
}

const candidatesSQL = `SELECT candidate, panel, coalesce(nuance, ''), coalesce(concat_ws(' ', first_name, name), '')
FROM candidates WHERE election = $1 AND round = $2 ORDER BY candidate`

var resultsSQL = `SELECT t.bureau, coalesce(t.inscrits, -1), coalesce(t.abstentions, -1), coalesce(t.votants, -1),
	coalesce(t.blancs, -1), coalesce(t.nuls, -1), coalesce(t.exprimes, -1), coalesce(t.candidates, '{}'), coalesce(t.votes, '{}')
FROM bureau_results t WHERE t.election = $5 AND t.round = $6 AND ` + scopeFilter("bureau")

// ElectionResults returns one election round's candidates and its results by bureau
// within the scope; an election never loaded is an error wrapping errs.ErrNotFound.
func (db *DB) ElectionResults(ctx context.Context, e electoral.Election, s crosstab.Scope) (*crosstab.ElectionResults, error) {
	er := &crosstab.ElectionResults{Election: e, Candidates: map[int]crosstab.Candidate{}, ByBureau: map[string]*crosstab.Result{}}
	rows, err := db.pool.Query(ctx, candidatesSQL, e.ID, e.Round)
	if err != nil {
		return nil, fmt.Errorf("postgres: results %s: %w", e.Scope(), err)
	}
	seen := map[string]bool{}
	for rows.Next() {
		var c crosstab.Candidate
		if err := rows.Scan(&c.Number, &c.Panel, &c.Nuance, &c.Name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: results %s: %w", e.Scope(), err)
		}
		er.Candidates[c.Number] = c
		if g := c.Group(); !seen[g] {
			seen[g] = true
			er.Groups = append(er.Groups, g)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: results %s: %w", e.Scope(), err)
	}
	rows, err = db.pool.Query(ctx, resultsSQL, append(scopeArgs(s), e.ID, e.Round)...)
	if err != nil {
		return nil, fmt.Errorf("postgres: results %s: %w", e.Scope(), err)
	}
	defer rows.Close()
	fd := rows.FieldDescriptions()
	fast := binaryArray(fd, 7, pgtype.Int4ArrayOID) && binaryArray(fd, 8, pgtype.Int4ArrayOID)
	for rows.Next() {
		var code string
		var r crosstab.Result
		var cands, votes []int64
		var dc, dv any = &cands, &votes
		if fast {
			dc, dv = nil, nil // decoded below, several times faster than a Scan
		}
		if err := rows.Scan(&code, &r.Inscrits, &r.Abstentions, &r.Votants, &r.Blancs, &r.Nuls, &r.Exprimes, dc, dv); err != nil {
			return nil, fmt.Errorf("postgres: results %s: %w", e.Scope(), err)
		}
		if fast {
			raw := rows.RawValues()
			var ok1, ok2 bool
			cands, ok1 = int4s(raw[7])
			votes, ok2 = int4s(raw[8])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("postgres: results %s: %s: bad int[]", e.Scope(), code)
			}
		}
		r.Votes = make(map[int]int64, len(cands))
		for i, c := range cands {
			if i < len(votes) {
				r.Votes[int(c)] += votes[i]
			}
		}
		er.ByBureau[code] = &r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: results %s: %w", e.Scope(), err)
	}
	if len(er.Candidates) == 0 && len(er.ByBureau) == 0 {
		var n int
		_ = db.pool.QueryRow(ctx, `SELECT count(*) FROM bureau_results WHERE election = $1 AND round = $2`, e.ID, e.Round).Scan(&n)
		if n == 0 {
			return nil, fmt.Errorf("postgres: election %s round %d not loaded: %w", e.ID, e.Round, errs.ErrNotFound)
		}
	}
	return er, nil
}

var rowsSQL = `WITH cv AS (SELECT max(vintage) v FROM bureau_contours)
SELECT t.code, t.commune, coalesce(cm.name, ''), coalesce(t.name, ''), coalesce(t.circonscription, ''),
	coalesce(p.area_m2, 'NaN'), CASE WHEN $5 THEN p.counts_area ELSE p.counts END,
	CASE WHEN $6 THEN ST_AsBinary(t.geom) END
FROM bureau_contours t JOIN cv ON t.vintage = cv.v
LEFT JOIN bureau_profiles p ON p.contour_vintage = t.vintage AND p.bureau = t.code
LEFT JOIN communes cm ON cm.code = coalesce(t.arrondissement, t.commune)
WHERE ` + scopeFilter("code") + ` ORDER BY t.code`

// BureauRows calls fn for every bureau of the latest contour vintage in the scope, in
// code order, then for the bureaux of opt.Extra without contour. Rows stream from the
// database: a national export never holds every geometry at once.
func (db *DB) BureauRows(ctx context.Context, s crosstab.Scope, opt crosstab.RowOptions, fn func(*crosstab.Row) error) error {
	rows, err := db.pool.Query(ctx, rowsSQL, append(scopeArgs(s), opt.AreaWeighted, opt.Geometry)...)
	if err != nil {
		return fmt.Errorf("postgres: bureaux: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var r crosstab.Row
	fast := binaryArray(rows.FieldDescriptions(), 6, pgtype.Float8ArrayOID)
	for rows.Next() {
		r = crosstab.Row{HasContour: true}
		var counts any = &r.Counts
		if fast {
			counts = nil // decoded below, several times faster than a Scan
		}
		if err := rows.Scan(&r.Code, &r.Commune, &r.CommuneName, &r.Name, &r.Circonscription, &r.AreaM2, counts, &r.Geom); err != nil {
			return fmt.Errorf("postgres: bureaux: %w", err)
		}
		if fast {
			var ok bool
			if r.Counts, ok = float8s(rows.RawValues()[6]); !ok {
				return fmt.Errorf("postgres: bureaux: %s: counts: bad float8[]", r.Code)
			}
		}
		r.Dept = bureauDept(r.Commune)
		seen[r.Code] = true
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: bureaux: %w", err)
	}
	var extra []string
	for code := range opt.Extra {
		if !seen[code] {
			extra = append(extra, code)
		}
	}
	sort.Strings(extra)
	for _, code := range extra {
		key, commune, _, err := electoral.ParseBureauKey(code)
		if err != nil {
			key, commune = code, ""
		}
		r = crosstab.Row{Code: key, Commune: commune, Dept: bureauDept(commune), AreaM2: math.NaN()}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

// binaryArray reports whether column i comes as a binary array of the given type.
func binaryArray(fd []pgconn.FieldDescription, i int, oid uint32) bool {
	return i < len(fd) && fd[i].Format == pgx.BinaryFormatCode && fd[i].DataTypeOID == oid
}

// arrayElems walks a one-dimensional binary array (PostgreSQL's array_send), calling
// fn with each element's bytes (nil for NULL), and reports whether it was well formed.
func arrayElems(b []byte, size int, fn func(i int, e []byte)) (n int, ok bool) {
	if len(b) < 12 {
		return 0, false
	}
	ndim := int32(be.Uint32(b))
	if ndim == 0 {
		return 0, true
	}
	if ndim != 1 || len(b) < 20 {
		return 0, false
	}
	n = int(int32(be.Uint32(b[12:])))
	b = b[20:]
	for i := range n {
		if len(b) < 4 {
			return 0, false
		}
		l := int32(be.Uint32(b))
		b = b[4:]
		if l < 0 {
			fn(i, nil)
			continue
		}
		if int(l) != size || len(b) < size {
			return 0, false
		}
		fn(i, b[:size])
		b = b[size:]
	}
	return n, len(b) == 0
}

// float8s decodes a binary float8[]; NULL elements read as NaN, a NULL array as nil.
func float8s(b []byte) ([]float64, bool) {
	if b == nil {
		return nil, true
	}
	var out []float64
	if len(b) >= 20 {
		out = make([]float64, 0, min(int(be.Uint32(b[12:])), len(b)/12))
	}
	_, ok := arrayElems(b, 8, func(i int, e []byte) {
		if e == nil {
			out = append(out, math.NaN())
		} else {
			out = append(out, math.Float64frombits(be.Uint64(e)))
		}
	})
	if ok && out == nil {
		out = []float64{}
	}
	return out, ok
}

// int4s decodes a binary int4[] (a NULL element is refused, as a Scan into []int64 would).
func int4s(b []byte) ([]int64, bool) {
	if b == nil {
		return nil, true
	}
	var out []int64
	null := false
	_, ok := arrayElems(b, 4, func(i int, e []byte) {
		if e == nil {
			null = true
			return
		}
		out = append(out, int64(int32(be.Uint32(e))))
	})
	return out, ok && !null
}

func bureauDept(commune string) string {
	if len(commune) != 5 {
		return ""
	}
	if commune[:2] == "97" || commune[:2] == "98" {
		return commune[:3]
	}
	return commune[:2]
}

// BureauProfile is a bureau's results in every loaded election and its indicators.
type BureauProfile struct {
	Code            string              `json:"code"`
	Commune         string              `json:"commune"`
	CommuneName     string              `json:"commune_name,omitempty"`
	Name            string              `json:"name,omitempty"`
	Circonscription string              `json:"circonscription,omitempty"`
	AreaKm2         *float64            `json:"area_km2,omitempty"`
	Counts          map[string]*float64 `json:"counts"`      // apportioned through the grid population
	CountsArea      map[string]*float64 `json:"counts_area"` // apportioned by area alone
	Indicators      []ProfileIndicator  `json:"indicators"`
	Results         []ProfileResult     `json:"results"`
	// CensusShares are census shares in each vintage loaded and their change, through the
	// same IRIS weights (docs/apportionment.md, "Several census vintages").
	CensusShares []ProfileShare `json:"census_shares"`
	Method       string         `json:"method"`
}

// ProfileIndicator is an indicator's value in a profile, with its parts.
type ProfileIndicator struct {
	crosstab.Indicator
	Value *float64 `json:"value"`
	Num   *float64 `json:"numerator"`
	Den   *float64 `json:"denominator"`
}

// ProfileResult is the bureau's result in one election round.
type ProfileResult struct {
	Election    string        `json:"election"`
	Round       int           `json:"round"`
	Inscrits    int64         `json:"inscrits"`
	Abstentions int64         `json:"abstentions"`
	Votants     int64         `json:"votants"`
	Blancs      int64         `json:"blancs"`
	Nuls        int64         `json:"nuls"`
	Exprimes    int64         `json:"exprimes"`
	Candidates  []ProfileVote `json:"candidates"`
}

// ProfileVote is one candidate's votes in a bureau.
type ProfileVote struct {
	crosstab.Candidate
	Votes int64   `json:"votes"`
	Share float64 `json:"share"` // of exprimés
}

func fptr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// BureauProfile returns the profile of bureau code (canonical key), or an error
// wrapping errs.ErrNotFound when neither contour nor result knows it.
func (db *DB) BureauProfile(ctx context.Context, code string) (*BureauProfile, error) {
	s := crosstab.Scope{Bureaux: []string{code}}
	p := &BureauProfile{Code: code, Counts: map[string]*float64{}, CountsArea: map[string]*float64{},
		Method: "census counts apportioned from IRIS through the 200 m grid population (counts_area: by area); grid counts by cell area; see docs/apportionment.md"}
	found := false
	for _, area := range []bool{false, true} {
		err := db.BureauRows(ctx, s, crosstab.RowOptions{AreaWeighted: area}, func(r *crosstab.Row) error {
			found = true
			p.Commune, p.CommuneName, p.Name, p.Circonscription = r.Commune, r.CommuneName, r.Name, r.Circonscription
			if a := r.AreaM2 / 1e6; !math.IsNaN(a) {
				p.AreaKm2 = &a
			}
			if r.Counts == nil {
				return nil
			}
			dst := p.Counts
			if area {
				dst = p.CountsArea
			} else {
				for _, in := range crosstab.Indicators() {
					num, den := in.Parts(r.Counts)
					p.Indicators = append(p.Indicators, ProfileIndicator{Indicator: in, Value: fptr(in.Value(r.Counts)), Num: fptr(num), Den: fptr(den)})
				}
			}
			for i, c := range crosstab.Counts() {
				dst[c.Key] = fptr(r.Counts[i])
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	es, err := db.Elections(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		er, err := db.ElectionResults(ctx, e, s)
		if err != nil {
			return nil, err
		}
		r := er.ByBureau[code]
		if r == nil {
			continue
		}
		found = true
		pr := ProfileResult{Election: e.ID, Round: e.Round, Inscrits: r.Inscrits, Abstentions: r.Abstentions, Votants: r.Votants,
			Blancs: r.Blancs, Nuls: r.Nuls, Exprimes: r.Exprimes, Candidates: []ProfileVote{}}
		if p.Commune == "" {
			_, p.Commune, _, _ = electoral.ParseBureauKey(code)
		}
		for n, v := range r.Votes {
			c := er.Candidates[n]
			c.Number = n
			pv := ProfileVote{Candidate: c, Votes: v}
			if r.Exprimes > 0 {
				pv.Share = float64(v) / float64(r.Exprimes)
			}
			pr.Candidates = append(pr.Candidates, pv)
		}
		sort.Slice(pr.Candidates, func(i, j int) bool { return pr.Candidates[i].Votes > pr.Candidates[j].Votes })
		p.Results = append(p.Results, pr)
	}
	if p.CensusShares, err = db.bureauCensusShares(ctx, code); err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("postgres: bureau %q: %w", code, errs.ErrNotFound)
	}
	if p.Results == nil {
		p.Results = []ProfileResult{}
	}
	return p, nil
}
