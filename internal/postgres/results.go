package postgres

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/ingest"
)

// ResultsSource is a parsed results file, as internal/ingest/results.Reader gives it.
type ResultsSource interface {
	// Next returns the next row's bureau (reused by the following call) or io.EOF.
	Next() (*electoral.BureauResult, error)
	Layout() string
	// Long reports one row per bureau × candidate: a bureau's rows need merging.
	Long() bool
	HasTotals() bool
	HasCandidates() bool
}

// ResultsScope returns the dataset scope of a results load: "lg2024/1", or for the
// data.gouv tables that split an election in two files, "lg2024/1/totals" and
// "lg2024/1/votes", so loading one half does not supersede the other.
func ResultsScope(e electoral.Election, src ResultsSource) string {
	switch {
	case !src.HasCandidates():
		return e.Scope() + "/totals"
	case !src.HasTotals():
		return e.Scope() + "/votes"
	}
	return e.Scope()
}

const createResultsStageSQL = `CREATE TEMP TABLE results_stage (
	line bigint, first boolean, bureau text, commune text, code text, arrondissement text,
	commune_name text, circonscription text, canton text,
	inscrits bigint, abstentions bigint, votants bigint, blancs bigint, nuls bigint, exprimes bigint,
	panel int4[], candidate int4[], votes int4[]
) ON COMMIT DROP`

var resultsStageColumns = []string{"line", "first", "bureau", "commune", "code", "arrondissement",
	"commune_name", "circonscription", "canton",
	"inscrits", "abstentions", "votants", "blancs", "nuls", "exprimes", "panel", "candidate", "votes"}

var candidatesColumns = []string{"dataset_id", "election", "round", "candidate", "panel", "nuance", "name",
	"first_name", "sex", "list_short", "list_label", "head_of_list", "elected"}

// The data.gouv tables split an election in two files: each half clears only its own
// columns of the round, then drops the bureaux left with neither totals nor votes.
const (
	clearTotalsSQL = `UPDATE bureau_results SET inscrits = NULL, abstentions = NULL, votants = NULL,
	blancs = NULL, nuls = NULL, exprimes = NULL WHERE election = $1 AND round = $2`
	clearVotesSQL = `UPDATE bureau_results SET candidates = NULL, votes = NULL WHERE election = $1 AND round = $2`
	dropEmptySQL  = `DELETE FROM bureau_results WHERE election = $1 AND round = $2 AND candidates IS NULL
	AND inscrits IS NULL AND votants IS NULL AND exprimes IS NULL`
)

const bureauColumnsSQL = `INSERT INTO bureau_results (dataset_id, election, round, bureau, commune,
	bureau_code, arrondissement, commune_name, circonscription, canton,
	inscrits, abstentions, votants, blancs, nuls, exprimes, candidates, votes)
SELECT $1, $2, $3, s.bureau, s.commune, s.code, nullif(s.arrondissement, ''), nullif(s.commune_name, ''),
	nullif(s.circonscription, ''), nullif(s.canton, ''), s.inscrits, s.abstentions, s.votants, s.blancs, s.nuls, s.exprimes, `

// Wide layouts: one row per bureau, whose duplicate rows and panels the Go side dropped.
const insertBureauxWideSQL = bureauColumnsSQL + `s.candidate, s.votes FROM results_stage s WHERE s.first `

// Long layouts: a bureau's rows may be anywhere in the file; its votes are gathered in
// panel order, the first row of a (bureau, panel) pair winning (the others were reported
// by duplicateCandidatesSQL).
const insertBureauxLongSQL = `WITH c AS (
	SELECT DISTINCT ON (s.bureau, c.panel) s.bureau, c.panel, c.candidate, c.votes
	FROM results_stage s, unnest(s.panel, s.candidate, s.votes) AS c(panel, candidate, votes)
	ORDER BY s.bureau, c.panel, s.line),
v AS (SELECT bureau, array_agg(candidate ORDER BY panel) AS candidate, array_agg(votes ORDER BY panel) AS votes
	FROM c GROUP BY bureau)
` + bureauColumnsSQL + `v.candidate, v.votes FROM results_stage s LEFT JOIN v USING (bureau) WHERE s.first `

// What a load does to a bureau already there: only the halves of split loads meet one.
const (
	onConflictNothingSQL = `ON CONFLICT (election, round, bureau) DO NOTHING`
	onConflictTotalsSQL  = `ON CONFLICT (election, round, bureau) DO UPDATE SET dataset_id = excluded.dataset_id,
	commune_name = excluded.commune_name, circonscription = excluded.circonscription, canton = excluded.canton,
	inscrits = excluded.inscrits, abstentions = excluded.abstentions, votants = excluded.votants,
	blancs = excluded.blancs, nuls = excluded.nuls, exprimes = excluded.exprimes`
	onConflictVotesSQL = `ON CONFLICT (election, round, bureau) DO UPDATE SET candidates = excluded.candidates, votes = excluded.votes`
)

const duplicateCandidatesSQL = `SELECT s.bureau, min(s.line), c.panel, count(*)
FROM results_stage s, unnest(s.panel) AS c(panel)
GROUP BY s.bureau, c.panel HAVING count(*) > 1 ORDER BY 2`

// votesSumSQL compares, after the load, each bureau's exprimés with the sum of its
// votes, for layouts where a bureau's votes come from several rows or files.
const votesSumSQL = `WITH f AS (SELECT bureau, line FROM results_stage WHERE first),
v AS (SELECT b.bureau, b.exprimes, (SELECT sum(x) FROM unnest(b.votes) x) AS votes FROM bureau_results b
	WHERE b.election = $1 AND b.round = $2 AND b.votes IS NOT NULL)
SELECT v.bureau, f.line, v.exprimes, v.votes FROM v JOIN f USING (bureau)
WHERE v.exprimes <> v.votes ORDER BY f.line`

// resultsMatchSQL joins the file's bureaux with the contours of every vintage. Contours
// without results count only in the communes of the file: a national file against one
// département of contours, or the reverse, would otherwise be all noise.
const resultsMatchSQL = `WITH f AS (SELECT bureau, commune, line FROM results_stage WHERE first),
k AS (SELECT DISTINCT code FROM bureau_contours)
SELECT
	EXISTS (SELECT 1 FROM bureau_contours),
	(SELECT count(*) FROM f JOIN k ON k.code = f.bureau),
	(SELECT coalesce(array_agg(f.bureau ORDER BY f.bureau), '{}') FROM f WHERE NOT EXISTS (SELECT 1 FROM k WHERE k.code = f.bureau)),
	(SELECT coalesce(array_agg(f.line ORDER BY f.bureau), '{}') FROM f WHERE NOT EXISTS (SELECT 1 FROM k WHERE k.code = f.bureau)),
	(SELECT coalesce(array_agg(k.code ORDER BY k.code), '{}') FROM k
		WHERE split_part(k.code, '_', 1) IN (SELECT commune FROM f)
		AND NOT EXISTS (SELECT 1 FROM f WHERE f.bureau = k.code))`

// LoadResults loads one results file as the results of election e, replacing the
// previous load of the same election and round, in one transaction: a file that fails
// to parse loads nothing. Accounting problems (votes that do not sum to exprimés,
// duplicate rows, bureaux without a contour) are loaded and reported as warnings.
// l names the file; its Kind and Scope are set here.
func (db *DB) LoadResults(ctx context.Context, l Load, e electoral.Election, src ResultsSource) (*ingest.Report, error) {
	l.Kind, l.Scope = "results", ResultsScope(e, src)
	return db.load(ctx, l, func(ctx context.Context, tx pgx.Tx, datasetID int64) (Loaded, error) {
		return loadResults(ctx, tx, datasetID, l.File, e, src)
	})
}

func loadResults(ctx context.Context, tx pgx.Tx, datasetID int64, file string, e electoral.Election, src ResultsSource) (Loaded, error) {
	fail := func(step string, err error) (Loaded, error) {
		return Loaded{}, fmt.Errorf("postgres: load results %s: %s: %w", file, step, err)
	}
	totals, votes := src.HasTotals(), src.HasCandidates()
	var clear []string
	switch {
	case totals && votes:
		clear = []string{`DELETE FROM bureau_results WHERE election = $1 AND round = $2`}
	case totals:
		clear = []string{clearTotalsSQL}
	default:
		clear = []string{clearVotesSQL}
	}
	if votes {
		clear = append(clear, `DELETE FROM candidates WHERE election = $1 AND round = $2`)
	}
	for _, q := range clear {
		if _, err := tx.Exec(ctx, q, e.ID, e.Round); err != nil {
			return fail("delete", err)
		}
	}
	if _, err := tx.Exec(ctx, createResultsStageSQL); err != nil {
		return fail("staging table", err)
	}
	st := newResultsStager(src)
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"results_stage"}, resultsStageColumns, st); err != nil {
		if st.err != nil { // the parser's error (a ParseError), not pgx's wrapping of it
			return Loaded{}, st.err
		}
		return fail("copy", err)
	}
	if _, err := tx.Exec(ctx, markFirstRowsSQL); err != nil {
		return fail("first rows", err)
	}
	bureaux, sw, err := stagedWarnings(ctx, tx, src.Long())
	if err != nil {
		return fail("checks", err)
	}
	warnings := append(st.warnings, sw...)
	if src.Long() && votes {
		rows, err := tx.Query(ctx, duplicateCandidatesSQL)
		if err != nil {
			return fail("duplicates", err)
		}
		var (
			key         string
			line, count int64
			panel       int32
		)
		_, err = pgx.ForEachRow(rows, []any{&key, &line, &panel, &count}, func() error {
			warnings = append(warnings, ingest.Warning{Line: line, Code: "duplicate_candidate", Key: key,
				Message: fmt.Sprintf("bureau %s: panel %d on %d rows: the first is kept", key, panel, count)})
			return nil
		})
		if err != nil {
			return fail("duplicates", err)
		}
	}
	q := insertBureauxWideSQL
	if src.Long() {
		q = insertBureauxLongSQL
	}
	switch {
	case totals && votes:
		q += onConflictNothingSQL
	case totals:
		q += onConflictTotalsSQL
	default:
		q += onConflictVotesSQL
	}
	if _, err := tx.Exec(ctx, q, datasetID, e.ID, e.Round); err != nil {
		return fail("insert bureaux", err)
	}
	if !totals || !votes {
		if _, err := tx.Exec(ctx, dropEmptySQL, e.ID, e.Round); err != nil {
			return fail("drop empty bureaux", err)
		}
	}
	if votes {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"candidates"}, candidatesColumns,
			pgx.CopyFromSlice(len(st.candidates), func(i int) ([]any, error) {
				c := st.candidates[i]
				var elected any
				if c.Elected != electoral.Unknown {
					elected = c.Elected == electoral.Yes
				}
				return []any{datasetID, e.ID, e.Round, i + 1, c.Panel, null(c.Nuance), null(c.Name), null(c.FirstName),
					null(c.Sex), null(c.ListShort), null(c.ListLabel), null(c.HeadOfList), elected}, nil
			}))
		if err != nil {
			return fail("insert candidates", err)
		}
	}
	if src.Long() || !totals || !votes {
		rows, err := tx.Query(ctx, votesSumSQL, e.ID, e.Round)
		if err != nil {
			return fail("votes sum", err)
		}
		var (
			key             string
			line, exp, sumv int64
		)
		_, err = pgx.ForEachRow(rows, []any{&key, &line, &exp, &sumv}, func() error {
			warnings = append(warnings, votesSumWarning(line, key, sumv, exp))
			return nil
		})
		if err != nil {
			return fail("votes sum", err)
		}
	}
	match, mw, err := matchResults(ctx, tx)
	if err != nil {
		return fail("match contours", err)
	}
	warnings = append(warnings, mw...)
	return Loaded{Rows: bureaux, Layout: src.Layout(), Warnings: warnings, Match: match}, nil
}

func matchResults(ctx context.Context, tx pgx.Tx) (*ingest.Match, []ingest.Warning, error) {
	var (
		hasContours bool
		m           = ingest.Match{Against: "contours"}
		onlyLines   []int64
	)
	err := tx.QueryRow(ctx, resultsMatchSQL).Scan(&hasContours, &m.Matched, &m.OnlyHere, &onlyLines, &m.OnlyOther)
	if err != nil {
		return nil, nil, err
	}
	if !hasContours { // nothing to match against: one warning rather than one per bureau
		return nil, []ingest.Warning{{Code: "no_contours", Message: "no bureau contours loaded: results not matched"}}, nil
	}
	ws := make([]ingest.Warning, len(m.OnlyHere))
	for i, k := range m.OnlyHere {
		ws[i] = ingest.Warning{Line: onlyLines[i], Code: "no_contour", Key: k,
			Message: fmt.Sprintf("bureau %s has results but no contour", k)}
	}
	return &m, ws, nil
}

// markFirstRowsSQL marks each bureau's first row in the file: the one whose totals are
// kept. Found here rather than while streaming, so the loader holds nothing per bureau.
const markFirstRowsSQL = `UPDATE results_stage s SET first = true
FROM (SELECT DISTINCT ON (bureau) bureau, line FROM results_stage ORDER BY bureau, line) f
WHERE s.bureau = f.bureau AND s.line = f.line`

// repeatedRowsSQL lists the rows of a bureau after its first, and whether their totals
// differ from the first's (long layouts repeat them on every candidate row).
const repeatedRowsSQL = `SELECT s.line, s.bureau, f.line,
	(s.inscrits, s.abstentions, s.votants, s.blancs, s.nuls, s.exprimes) IS DISTINCT FROM
	(f.inscrits, f.abstentions, f.votants, f.blancs, f.nuls, f.exprimes)
FROM results_stage s JOIN results_stage f ON f.bureau = s.bureau AND f.first
WHERE NOT s.first ORDER BY s.line`

// identitiesSQL lists the bureaux breaking the accounting identities of data-formats.md
// §3.6; they hold in every real file checked, so a break is worth a look. A missing count
// (NULL) breaks nothing.
const identitiesSQL = `SELECT line, bureau, inscrits, abstentions, votants, blancs, nuls, exprimes,
	inscrits <> abstentions + votants, votants <> blancs + nuls + exprimes
FROM results_stage WHERE first AND (inscrits <> abstentions + votants OR votants <> blancs + nuls + exprimes)
ORDER BY line`

// stagedWarnings counts the staged bureaux and reports repeated rows and broken
// identities.
func stagedWarnings(ctx context.Context, tx pgx.Tx, long bool) (int64, []ingest.Warning, error) {
	var bureaux int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM results_stage WHERE first`).Scan(&bureaux); err != nil {
		return 0, nil, err
	}
	var ws []ingest.Warning
	rows, err := tx.Query(ctx, repeatedRowsSQL)
	if err != nil {
		return 0, nil, err
	}
	var (
		line, firstLine int64
		key             string
		differ          bool
	)
	_, err = pgx.ForEachRow(rows, []any{&line, &key, &firstLine, &differ}, func() error {
		switch {
		case !long:
			ws = append(ws, ingest.Warning{Line: line, Code: "duplicate_bureau", Key: key,
				Message: fmt.Sprintf("bureau %s already on line %d: this row is ignored", key, firstLine)})
		case differ:
			ws = append(ws, ingest.Warning{Line: line, Code: "totals_differ", Key: key,
				Message: fmt.Sprintf("bureau %s: totals differ from line %d, whose are kept", key, firstLine)})
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	rows, err = tx.Query(ctx, identitiesSQL)
	if err != nil {
		return 0, nil, err
	}
	var (
		ins, abs, vot, bla, nul, exp *int64
		badIns, badVot               *bool
	)
	_, err = pgx.ForEachRow(rows, []any{&line, &key, &ins, &abs, &vot, &bla, &nul, &exp, &badIns, &badVot}, func() error {
		if badIns != nil && *badIns {
			ws = append(ws, ingest.Warning{Line: line, Code: "inscrits_identity", Key: key,
				Message: fmt.Sprintf("bureau %s: inscrits %d ≠ abstentions %d + votants %d", key, *ins, *abs, *vot)})
		}
		if badVot != nil && *badVot {
			ws = append(ws, ingest.Warning{Line: line, Code: "votants_identity", Key: key,
				Message: fmt.Sprintf("bureau %s: votants %d ≠ blancs %d + nuls %d + exprimés %d", key, *vot, *bla, *nul, *exp)})
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return bureaux, ws, nil
}

func votesSumWarning(line int64, key string, sum, exprimes int64) ingest.Warning {
	return ingest.Warning{Line: line, Code: "votes_sum", Key: key,
		Message: fmt.Sprintf("bureau %s: votes sum to %d, exprimés %d", key, sum, exprimes)}
}

// resultsStager feeds CopyFrom from the parser, one staging row per source row, and
// checks on the way what one row can tell. It keeps nothing per bureau: repeated bureaux
// and the accounting identities are found in SQL once staged (see markFirstRows), so
// memory stays flat whatever the file's size.
type resultsStager struct {
	src      ResultsSource
	long     bool
	cur      *electoral.BureauResult
	err      error
	warnings []ingest.Warning
	panels   map[int32]bool

	// candidates numbers each distinct candidate (every field but the votes) from 1;
	// a few thousand at most, even for a national legislative file.
	ids        map[electoral.CandidateResult]int32
	candidates []electoral.CandidateResult

	// Reused between rows: CopyFrom encodes a row before asking for the next one.
	panel, cand []int32
	votes       []int32
}

func newResultsStager(src ResultsSource) *resultsStager {
	return &resultsStager{src: src, long: src.Long(), panels: map[int32]bool{},
		ids: map[electoral.CandidateResult]int32{}}
}

func (s *resultsStager) Next() bool {
	b, err := s.src.Next()
	if err == io.EOF {
		return false
	}
	if err != nil {
		s.err = err
		return false
	}
	s.cur = b
	return true
}

func count(c electoral.Count) any {
	if !c.Valid {
		return nil
	}
	return c.N
}

func (s *resultsStager) Values() ([]any, error) {
	b := s.cur
	s.panel, s.cand, s.votes = s.panel[:0], s.cand[:0], s.votes[:0]
	clear(s.panels)
	var sum int64
	for _, c := range b.Candidates {
		if s.panels[c.Panel] && !s.long { // long layouts: reported and merged in SQL
			s.warnings = append(s.warnings, ingest.Warning{Line: b.Line, Code: "duplicate_candidate", Key: b.Key,
				Message: fmt.Sprintf("bureau %s: panel %d twice on the row: the first is kept", b.Key, c.Panel)})
			continue
		}
		s.panels[c.Panel] = true
		sum += c.Votes
		v := c.Votes
		c.Votes = 0
		id, ok := s.ids[c]
		if !ok {
			s.candidates = append(s.candidates, c)
			id = int32(len(s.candidates))
			s.ids[c] = id
		}
		s.panel = append(s.panel, c.Panel)
		s.cand = append(s.cand, id)
		s.votes = append(s.votes, int32(min(v, math.MaxInt32)))
	}
	// Wide rows hold the whole bureau: check the votes here; long layouts are checked
	// in SQL once merged.
	if !s.long && s.src.HasCandidates() && b.Exprimes.Valid && sum != b.Exprimes.N {
		s.warnings = append(s.warnings, votesSumWarning(b.Line, b.Key, sum, b.Exprimes.N))
	}
	return []any{b.Line, false, b.Key, b.Commune, b.Bureau, b.Arrondissement,
		b.CommuneName, b.Circonscription, b.Canton,
		count(b.Inscrits), count(b.Abstentions), count(b.Votants), count(b.Blancs), count(b.Nuls), count(b.Exprimes),
		s.panel, s.cand, s.votes}, nil
}

func (s *resultsStager) Err() error { return s.err }

func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const resultsTotalsSQL = `SELECT count(*), coalesce(sum(inscrits), 0), coalesce(sum(votants), 0),
	coalesce(sum(exprimes), 0), coalesce(sum(blancs), 0), coalesce(sum(nuls), 0)
FROM bureau_results WHERE election = $1 AND round = $2`

// ResultsTotals sums the stored results of an election round: bureaux, inscrits,
// votants, exprimés, blancs, nuls.
type ResultsTotals struct {
	Bureaux, Inscrits, Votants, Exprimes, Blancs, Nuls int64
}

// ResultsTotals returns the totals stored for election e.
func (db *DB) ResultsTotals(ctx context.Context, e electoral.Election) (ResultsTotals, error) {
	var t ResultsTotals
	err := db.pool.QueryRow(ctx, resultsTotalsSQL, e.ID, e.Round).Scan(&t.Bureaux, &t.Inscrits, &t.Votants, &t.Exprimes, &t.Blancs, &t.Nuls)
	if err != nil {
		return t, fmt.Errorf("postgres: results totals %s: %w", e.Scope(), err)
	}
	return t, nil
}

// NuanceVotes is the total of one nuance (or one candidate) over an election round.
type NuanceVotes struct {
	Nuance  string
	Name    string
	Panel   int32
	Votes   int64
	Bureaux int64
}

const candidateTotalsSQL = `SELECT coalesce(nuance, ''), coalesce(name, ''), panel, sum(votes), count(*)
FROM candidate_results WHERE election = $1 AND round = $2
GROUP BY 1, 2, 3 ORDER BY 4 DESC, 3`

// CandidateTotals returns the votes of each (nuance, name, panel) over election e,
// largest first.
func (db *DB) CandidateTotals(ctx context.Context, e electoral.Election) ([]NuanceVotes, error) {
	rows, err := db.pool.Query(ctx, candidateTotalsSQL, e.ID, e.Round)
	if err != nil {
		return nil, fmt.Errorf("postgres: candidate totals %s: %w", e.Scope(), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (NuanceVotes, error) {
		var n NuanceVotes
		err := r.Scan(&n.Nuance, &n.Name, &n.Panel, &n.Votes, &n.Bureaux)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: candidate totals %s: %w", e.Scope(), err)
	}
	return out, nil
}

// The nuance's candidates come from their small index; each bureau of the round is then
// read once, by primary key, and its votes array scanned.
const nuanceShareSQL = `WITH n AS (SELECT coalesce(array_agg(candidate), '{}') AS ids FROM candidates
	WHERE election = $1 AND round = $2 AND nuance = $3)
SELECT b.bureau, coalesce((SELECT sum(v.votes) FROM unnest(b.candidates, b.votes) AS v(candidate, votes)
	WHERE v.candidate = ANY (n.ids)), 0), b.exprimes
FROM bureau_results b, n
WHERE b.election = $1 AND b.round = $2 AND b.exprimes > 0 ORDER BY b.bureau`

// NuanceShares returns, per bureau, the share of exprimés that went to nuance, computed
// from the stored counts (the files' rounded percentages are never stored).
func (db *DB) NuanceShares(ctx context.Context, e electoral.Election, nuance string) (map[string]float64, error) {
	rows, err := db.pool.Query(ctx, nuanceShareSQL, e.ID, e.Round, nuance)
	if err != nil {
		return nil, fmt.Errorf("postgres: nuance %s shares %s: %w", nuance, e.Scope(), err)
	}
	out := map[string]float64{}
	var (
		key        string
		votes, exp int64
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &votes, &exp}, func() error {
		out[key] = float64(votes) / float64(exp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: nuance %s shares %s: %w", nuance, e.Scope(), err)
	}
	return out, nil
}
