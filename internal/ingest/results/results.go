// Package results parses election results by bureau de vote in every layout the
// Ministère de l'Intérieur and its re-publishers use (data-formats.md §3): the layout
// is recognised from the header, rows are read one at a time, codes are normalised
// with internal/electoral, and percentages are dropped.
package results

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/ingest"
)

// The layouts NewReader recognises, as reported by Reader.Layout.
const (
	LayoutLegacyWide        = "legacy-wide"        // MI 2017–2022: presidential, legislative, European 2019
	LayoutDep2021           = "dep2021"            // MI departmental 2021: Binôme blocks of 6, canton
	LayoutMun2020           = "mun2020"            // MI municipal 2020: Code B.Vote, blocks of 9
	Layout2024              = "2024-blocks"        // MI 2024: numbered blocks, fixed width
	LayoutLongODS           = "long-ods"           // OpenDataSoft: MI columns, one candidate per row, extras after
	LayoutLongMun2014       = "long-mun2014"       // municipal 2014: No bureau vote, one list per row
	LayoutDataGouvGeneral   = "datagouv-general"   // data.gouv aggregates: bureau totals only
	LayoutDataGouvCandidats = "datagouv-candidats" // data.gouv aggregates: candidates only
)

// Options tells the reader which rows belong to the election being loaded.
type Options struct {
	// Election filters rows of files holding several elections or rounds: data.gouv's
	// id_election ("2022_pres_t1") and municipal 2014's "No tour". Zero: no filter.
	Election electoral.Election
}

// Reader streams the bureau results of one file. Memory does not grow with the file.
type Reader struct {
	c      *ingest.CSV
	opts   Options
	layout string
	long   bool // one row per bureau × candidate: a bureau's rows repeat its totals
	fx     fixedCols
	bk     blockCols
	minLen int // fields a row needs for the fixed part (wide) or every used column (long)
	rec    electoral.BureauResult
	rows   int64 // records returned
	seen   int64 // data rows read, filtered or not
}

// fixedCols holds the positions of the bureau-level columns, -1 when absent.
type fixedCols struct {
	dept, commune, communeName, bureau, circo, canton, idBrut, idElection, tour int
	inscrits, abstentions, votants, blancs, nuls, exprimes                      int
}

// blockCols describes the candidate blocks: the first starts at start, the next one
// stride fields later; the role offsets are relative to a block's start, -1 when the
// layout lacks the field. Long layouts have exactly one block per row.
type blockCols struct {
	start, stride                                                           int
	panel, sex, name, binome, first, nuance, short, label, head, votes, elu int
	none                                                                    bool // no candidates at all (datagouv-general)
}

// norm folds a header name for comparison: lower case, no accents, "_" as a space.
func norm(h string) string {
	return ingest.FoldName(strings.ReplaceAll(h, "_", " "))
}

var fixedNames = map[string]func(*fixedCols) *int{
	"code du departement":              func(f *fixedCols) *int { return &f.dept },
	"code departement":                 func(f *fixedCols) *int { return &f.dept },
	"code de la commune":               func(f *fixedCols) *int { return &f.commune },
	"code commune":                     func(f *fixedCols) *int { return &f.commune },
	"libelle de la commune":            func(f *fixedCols) *int { return &f.communeName },
	"libelle commune":                  func(f *fixedCols) *int { return &f.communeName },
	"nom commune":                      func(f *fixedCols) *int { return &f.communeName },
	"code du b.vote":                   func(f *fixedCols) *int { return &f.bureau },
	"code b.vote":                      func(f *fixedCols) *int { return &f.bureau },
	"code bv":                          func(f *fixedCols) *int { return &f.bureau },
	"no bureau vote":                   func(f *fixedCols) *int { return &f.bureau },
	"code de la circonscription":       func(f *fixedCols) *int { return &f.circo },
	"code circonscription":             func(f *fixedCols) *int { return &f.circo },
	"code circonscription legislative": func(f *fixedCols) *int { return &f.circo },
	"code du canton":                   func(f *fixedCols) *int { return &f.canton },
	"code canton":                      func(f *fixedCols) *int { return &f.canton },
	"id brut miom":                     func(f *fixedCols) *int { return &f.idBrut },
	"id election":                      func(f *fixedCols) *int { return &f.idElection },
	"no tour":                          func(f *fixedCols) *int { return &f.tour },
	"inscrits":                         func(f *fixedCols) *int { return &f.inscrits },
	"abstentions":                      func(f *fixedCols) *int { return &f.abstentions },
	"votants":                          func(f *fixedCols) *int { return &f.votants },
	"blancs":                           func(f *fixedCols) *int { return &f.blancs },
	"nuls":                             func(f *fixedCols) *int { return &f.nuls },
	"exprimes":                         func(f *fixedCols) *int { return &f.exprimes },
}

var blockNames = map[string]func(*blockCols) *int{
	"npanneau":                func(b *blockCols) *int { return &b.panel },
	"n.pan.":                  func(b *blockCols) *int { return &b.panel },
	"nliste":                  func(b *blockCols) *int { return &b.panel },
	"numero de panneau":       func(b *blockCols) *int { return &b.panel },
	"no panneau":              func(b *blockCols) *int { return &b.panel },
	"no liste":                func(b *blockCols) *int { return &b.panel },
	"sexe":                    func(b *blockCols) *int { return &b.sex },
	"sexe candidat":           func(b *blockCols) *int { return &b.sex },
	"nom":                     func(b *blockCols) *int { return &b.name },
	"nom candidat":            func(b *blockCols) *int { return &b.name },
	"binome":                  func(b *blockCols) *int { return &b.binome },
	"prenom":                  func(b *blockCols) *int { return &b.first },
	"prenom candidat":         func(b *blockCols) *int { return &b.first },
	"nuance":                  func(b *blockCols) *int { return &b.nuance },
	"code nuance":             func(b *blockCols) *int { return &b.nuance },
	"nuance candidat":         func(b *blockCols) *int { return &b.nuance },
	"nuance liste":            func(b *blockCols) *int { return &b.nuance },
	"libelle abrege liste":    func(b *blockCols) *int { return &b.short },
	"libelle abrege de liste": func(b *blockCols) *int { return &b.short },
	"liste":                   func(b *blockCols) *int { return &b.label },
	"libelle etendu liste":    func(b *blockCols) *int { return &b.label },
	"libelle de liste":        func(b *blockCols) *int { return &b.label },
	"nom tete de liste":       func(b *blockCols) *int { return &b.head },
	"nom tete liste":          func(b *blockCols) *int { return &b.head },
	"voix":                    func(b *blockCols) *int { return &b.votes },
	"elu":                     func(b *blockCols) *int { return &b.elu },
}

// isBlockName reports whether a folded header name belongs to a candidate block,
// including the columns we drop (percentages, the European national seat count).
func isBlockName(n string) bool {
	if _, ok := blockNames[n]; ok {
		return true
	}
	return strings.HasPrefix(n, "%") || strings.HasPrefix(n, "ratio ") || n == "sieges"
}

func newFixed() fixedCols {
	return fixedCols{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
}

func newBlock() blockCols {
	return blockCols{panel: -1, sex: -1, name: -1, binome: -1, first: -1, nuance: -1, short: -1, label: -1, head: -1, votes: -1, elu: -1}
}

// NewReader reads the header of a results file and recognises its layout. A header
// no layout recognises is a ParseError at line 1.
func NewReader(file string, r io.Reader, opts Options) (*Reader, error) {
	c, err := ingest.NewCSV(file, r)
	if err != nil {
		return nil, err
	}
	rd := &Reader{c: c, opts: opts, fx: newFixed(), bk: newBlock()}
	if err := rd.detect(); err != nil {
		return nil, err
	}
	return rd, nil
}

// Layout returns the name of the recognised layout.
func (r *Reader) Layout() string { return r.layout }

// Long reports whether the layout has one row per bureau × candidate, so a bureau's
// rows repeat its totals and need merging.
func (r *Reader) Long() bool { return r.long }

// HasTotals reports whether rows carry bureau totals (inscrits, votants, …).
func (r *Reader) HasTotals() bool {
	return r.fx.inscrits >= 0 || r.fx.votants >= 0 || r.fx.exprimes >= 0
}

// HasCandidates reports whether rows carry candidate or list votes.
func (r *Reader) HasCandidates() bool { return !r.bk.none }

func (r *Reader) headerError(format string, args ...any) error {
	return ingest.Errorf(r.c.File, 1, 1, format, args...)
}

func (r *Reader) detect() error {
	h := make([]string, len(r.c.Header))
	for i, s := range r.c.Header {
		h[i] = norm(s)
	}
	find := func(names ...string) int {
		for _, n := range names {
			for i, x := range h {
				if x == n {
					return i
				}
			}
		}
		return -1
	}
	// Bureau-level columns: the first occurrence of each name, as they come first.
	for i, n := range h {
		if f, ok := fixedNames[n]; ok && *f(&r.fx) < 0 {
			*f(&r.fx) = i
		}
	}
	switch {
	case find("code du b.vote", "code b.vote") >= 0:
		return r.detectMI(h, find("code b.vote") >= 0)
	case find("numero de panneau 1") >= 0:
		return r.detect2024(h, find("numero de panneau 1"), find("numero de panneau 2"))
	case find("no bureau vote") >= 0:
		r.layout, r.long = LayoutLongMun2014, true
		return r.detectByName(h)
	case r.fx.idElection >= 0 || r.fx.idBrut >= 0:
		r.long = true
		if find("voix") >= 0 {
			r.layout = LayoutDataGouvCandidats
			return r.detectByName(h)
		}
		if r.fx.inscrits >= 0 {
			r.layout = LayoutDataGouvGeneral
			r.bk.none = true
			return r.checkFixed(len(h))
		}
	}
	return r.headerError("unknown results layout: no parser recognises a header starting %q", headStart(r.c.Header))
}

func headStart(h []string) string {
	s := strings.Join(h, ";")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// detectMI handles the Ministère's pre-2024 headers, where only the first block is
// named (or, in some municipal 2020 copies, every block under the same names): the
// block template runs from the first panel column to the first name that is empty,
// repeats the template's first name, or is not a block name. Unknown names after the
// block mean an OpenDataSoft-style long re-export.
func (r *Reader) detectMI(h []string, mun2020 bool) error {
	start := -1
	for i, n := range h {
		if isPanel(n) {
			start = i
			break
		}
	}
	if start < 0 {
		return r.headerError("results header has a bureau column but no candidate block (N°Panneau, N.Pan., N°Liste)")
	}
	j := start + 1
	for j < len(h) && h[j] != "" && h[j] != h[start] && isBlockName(h[j]) {
		j++
	}
	r.bk.start, r.bk.stride = start, j-start
	r.setRoles(h[start:j])
	for _, n := range h[j:] {
		if n != "" && !isBlockName(n) {
			r.long = true
			break
		}
	}
	switch {
	case r.long:
		r.layout = LayoutLongODS
	case mun2020:
		r.layout = LayoutMun2020
	case r.bk.binome >= 0:
		r.layout = LayoutDep2021
	default:
		r.layout = LayoutLegacyWide
	}
	if err := r.checkBlock(); err != nil {
		return err
	}
	if r.long {
		return r.checkFixed(start + r.bk.stride)
	}
	return r.checkFixed(start)
}

func isPanel(n string) bool {
	switch n {
	case "npanneau", "n.pan.", "nliste", "numero de panneau", "no panneau", "no liste":
		return true
	}
	return false
}

// detect2024 handles the numbered blocks of 2024: every column of block k ends in
// " k". The stride is the distance between blocks 1 and 2; roles come from block 1
// only, and later blocks are read by position.
func (r *Reader) detect2024(h []string, first, second int) error {
	end := len(h)
	if second > first {
		end = second
	}
	names := make([]string, end-first)
	for i, n := range h[first:end] {
		names[i] = strings.TrimSuffix(n, " 1")
	}
	r.layout = Layout2024
	r.bk.start, r.bk.stride = first, end-first
	r.setRoles(names)
	if err := r.checkBlock(); err != nil {
		return err
	}
	return r.checkFixed(first)
}

// detectByName handles long layouts whose columns are all named: one block at offset 0.
func (r *Reader) detectByName(h []string) error {
	r.bk.start, r.bk.stride = 0, len(h)
	r.setRoles(h)
	if err := r.checkBlock(); err != nil {
		return err
	}
	return r.checkFixed(len(h))
}

func (r *Reader) setRoles(names []string) {
	for i, n := range names {
		if f, ok := blockNames[n]; ok && *f(&r.bk) < 0 {
			*f(&r.bk) = i
		}
	}
}

func (r *Reader) checkBlock() error {
	if r.bk.votes < 0 {
		return r.headerError("results header: candidate block without a Voix column")
	}
	if r.bk.stride <= 0 {
		return r.headerError("results header: empty candidate block")
	}
	return nil
}

// checkFixed verifies that the bureau can be identified, and records how many fields
// a row needs: fixed is the width of the fixed part (wide) or of the whole row (long).
func (r *Reader) checkFixed(fixed int) error {
	if (r.fx.commune < 0 || r.fx.bureau < 0) && r.fx.idBrut < 0 {
		return r.headerError("results header: no commune and bureau columns (Code commune, Code BV, id_brut_miom)")
	}
	r.minLen = 0
	for _, i := range []int{r.fx.dept, r.fx.commune, r.fx.communeName, r.fx.bureau, r.fx.circo, r.fx.canton,
		r.fx.idBrut, r.fx.idElection, r.fx.tour, r.fx.inscrits, r.fx.abstentions, r.fx.votants, r.fx.blancs,
		r.fx.nuls, r.fx.exprimes} {
		r.minLen = max(r.minLen, i+1)
	}
	if r.long && !r.bk.none {
		for _, o := range r.bk.offsets() {
			if o >= 0 {
				r.minLen = max(r.minLen, r.bk.start+o+1)
			}
		}
	}
	if !r.long {
		r.minLen = max(r.minLen, fixed)
	}
	return nil
}

func (b *blockCols) offsets() []int {
	return []int{b.panel, b.sex, b.name, b.binome, b.first, b.nuance, b.short, b.label, b.head, b.votes, b.elu}
}

// Next returns the next bureau result, or io.EOF. The result and its Candidates are
// reused by the following call. Long layouts return one candidate per result (none for
// datagouv-general); the caller merges the rows of a bureau.
func (r *Reader) Next() (*electoral.BureauResult, error) {
	for {
		rec, err := r.c.Read()
		if err == io.EOF {
			if r.rows == 0 {
				if r.seen > 0 && r.opts.Election.ID != "" {
					return nil, ingest.Errorf(r.c.File, 0, 0, "no row of %s round %d among %d data rows", r.opts.Election.ID, r.opts.Election.Round, r.seen)
				}
				return nil, ingest.Errorf(r.c.File, 0, 0, "no data rows after the header")
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		r.seen++
		keep, err := r.parse(rec)
		if err != nil {
			return nil, err
		}
		if keep {
			r.rows++
			return &r.rec, nil
		}
	}
}

func field(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

func (r *Reader) parse(rec []string) (bool, error) {
	if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
		return false, nil // a line of spaces
	}
	if len(rec) < r.minLen {
		what := "the fixed part needs"
		if r.long {
			what = "the layout needs"
		}
		return false, r.c.Errorf(len(rec), "row has %d fields, %s %d (%s layout)", len(rec), what, r.minLen, r.layout)
	}
	e := r.opts.Election
	if r.fx.idElection >= 0 && e.ID != "" && !e.MatchesDataGouvID(field(rec, r.fx.idElection)) {
		return false, nil
	}
	if r.fx.tour >= 0 && e.Round != 0 {
		if t, err := strconv.Atoi(field(rec, r.fx.tour)); err == nil && t != e.Round {
			return false, nil
		}
	}
	b := &r.rec
	*b = electoral.BureauResult{Line: r.c.Line(), Candidates: b.Candidates[:0]}
	if err := r.parseBureau(rec, b); err != nil {
		return false, err
	}
	if err := r.parseTotals(rec, b); err != nil {
		return false, err
	}
	if r.bk.none {
		return true, nil
	}
	if r.long {
		c, present, err := r.parseBlock(rec, r.bk.start, 0)
		if err != nil {
			return false, err
		}
		if present {
			b.Candidates = append(b.Candidates, c)
		}
		return true, nil
	}
	for k, off := 0, r.bk.start; off < len(rec); k, off = k+1, off+r.bk.stride {
		if off+r.bk.stride > len(rec) {
			// Ragged rows end after their last block; a partial block with content was cut.
			for i := off; i < len(rec); i++ {
				if strings.TrimSpace(rec[i]) != "" {
					return false, r.c.Errorf(len(rec), "truncated block %d: %d of %d fields", k+1, len(rec)-off, r.bk.stride)
				}
			}
			break
		}
		c, present, err := r.parseBlock(rec, off, k)
		if err != nil {
			return false, err
		}
		if present {
			b.Candidates = append(b.Candidates, c)
		}
	}
	return true, nil
}

func (r *Reader) parseBureau(rec []string, b *electoral.BureauResult) error {
	if r.fx.commune >= 0 && r.fx.bureau >= 0 {
		commune, err := electoral.CommuneCode(field(rec, r.fx.dept), field(rec, r.fx.commune))
		if err != nil {
			return r.c.Errorf(r.fx.commune, "%v", err)
		}
		bureau, err := electoral.BureauCode(field(rec, r.fx.bureau))
		if err != nil {
			return r.c.Errorf(r.fx.bureau, "%v", err)
		}
		b.Commune, b.Bureau = commune, bureau
	} else {
		_, commune, bureau, err := electoral.ParseBureauKey(field(rec, r.fx.idBrut))
		if err != nil {
			return r.c.Errorf(r.fx.idBrut, "%v", err)
		}
		b.Commune, b.Bureau = commune, bureau
	}
	b.Key = electoral.BureauKey(b.Commune, b.Bureau)
	b.Arrondissement = electoral.Arrondissement(b.Commune, b.Bureau)
	b.CommuneName = field(rec, r.fx.communeName)
	b.Circonscription = district(b.Commune, field(rec, r.fx.circo))
	b.Canton = district(b.Commune, field(rec, r.fx.canton))
	return nil
}

// district writes a circonscription or canton number as the contours do, département
// then two digits ("13" in 92 → "9213"); a code that already carries it is kept.
func district(commune, raw string) string {
	raw = strings.Trim(raw, "\"' ")
	if raw == "" {
		return ""
	}
	dept := commune[:2]
	if dept == "97" || dept == "98" {
		dept = commune[:3]
	}
	if len(raw) >= len(dept)+2 && strings.HasPrefix(raw, dept) {
		return raw
	}
	if len(raw) < 2 {
		raw = "0" + raw
	}
	return dept + raw
}

func (r *Reader) count(rec []string, i int) (electoral.Count, error) {
	if i < 0 {
		return electoral.Count{}, nil
	}
	s := field(rec, i)
	if s == "" {
		return electoral.Count{}, nil
	}
	n, err := ingest.ParseCount(s)
	if err != nil {
		return electoral.Count{}, r.c.Errorf(i, "%q (%s): %v", s, r.c.Header[i], err)
	}
	return electoral.Known(n), nil
}

func (r *Reader) parseTotals(rec []string, b *electoral.BureauResult) error {
	var err error
	for _, t := range []struct {
		dst *electoral.Count
		col int
	}{
		{&b.Inscrits, r.fx.inscrits}, {&b.Abstentions, r.fx.abstentions}, {&b.Votants, r.fx.votants},
		{&b.Blancs, r.fx.blancs}, {&b.Nuls, r.fx.nuls}, {&b.Exprimes, r.fx.exprimes},
	} {
		if *t.dst, err = r.count(rec, t.col); err != nil {
			return err
		}
	}
	// Municipal 2014 has no Abstentions column: inscrits − votants is the same figure
	// (identity Inscrits = Abstentions + Votants, data-formats.md §3.6).
	if r.fx.abstentions < 0 && b.Inscrits.Valid && b.Votants.Valid && b.Inscrits.N >= b.Votants.N {
		b.Abstentions = electoral.Known(b.Inscrits.N - b.Votants.N)
	}
	return nil
}

// parseBlock reads the block starting at field off; present is false for the empty
// blocks that pad fixed-width rows.
func (r *Reader) parseBlock(rec []string, off, k int) (c electoral.CandidateResult, present bool, err error) {
	bk := &r.bk
	get := func(o int) string {
		if o < 0 {
			return ""
		}
		return field(rec, off+o)
	}
	panel, votes := get(bk.panel), get(bk.votes)
	c.Name, c.FirstName = get(bk.name), get(bk.first)
	if c.Name == "" {
		c.Name = get(bk.binome)
	}
	c.Nuance, c.ListShort, c.ListLabel, c.HeadOfList = get(bk.nuance), get(bk.short), get(bk.label), get(bk.head)
	if panel == "" && votes == "" && c.Name == "" && c.Nuance == "" && c.ListShort == "" && c.ListLabel == "" && c.HeadOfList == "" {
		return c, false, nil
	}
	if bk.panel >= 0 {
		n, err := ingest.ParseCount(panel)
		if err != nil || n > math.MaxInt32 {
			return c, false, r.c.Errorf(off+bk.panel, "block %d: panel number: not a count: %q", k+1, panel)
		}
		c.Panel = int32(n)
	} else {
		c.Panel = int32(k + 1)
	}
	n, err := ingest.ParseCount(votes)
	if err != nil {
		return c, false, r.c.Errorf(off+bk.votes, "block %d: votes: %v", k+1, err)
	}
	c.Votes = n
	c.Sex = electoral.NormSex(get(bk.sex))
	if bk.elu >= 0 {
		switch ingest.FoldName(get(bk.elu)) {
		case "elu", "elue", "oui", "1", "true", "x":
			c.Elected = electoral.Yes
		default:
			c.Elected = electoral.No
		}
	}
	return c, true, nil
}

// IsParseError reports whether err is (or wraps) an ingest.ParseError.
func IsParseError(err error) bool {
	var pe *ingest.ParseError
	return errors.As(err, &pe)
}

// String describes the reader for logs: "lg2024_t1.csv (2024-blocks)".
func (r *Reader) String() string { return fmt.Sprintf("%s (%s)", r.c.File, r.layout) }
