// Package insee parses INSEE, COG and BAN sources: IRIS census bases (base-ic-*),
// Filosofi income by IRIS (DISP_*), the Filosofi 200 m grid (CSV or GeoJSON), the COG
// commune lists (INSEE CSV or @etalab/decoupage-administratif JSON) and BAN addresses.
// Every reader streams: memory stays flat whatever the size of the file.
package insee

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/coopol/coopol/internal/ingest"
)

// Kinds of variables: extensive ones (counts, sums) may be summed across areas,
// intensive ones (medians, rates, shares) never.
const (
	Extensive = "extensive"
	Intensive = "intensive"
)

// Census layouts.
const (
	LayoutCensus   = "base-ic"       // INSEE IRIS census base: IRIS;COM;TYP_IRIS;…;P20_… (ids by name, every vintage since 2009)
	LayoutFiloIRIS = "filosofi-disp" // Filosofi income by IRIS: IRIS[;LIBIRIS;COM;LIBCOM];DISP_…
)

// Variable is one value column of a census file.
type Variable struct {
	Name    string // INSEE column name, P20_POP
	Vintage int    // 2020 for P20_POP, 2018 for DISP_MED18
	Kind    string // Extensive or Intensive
	Col     int    // 0-based column in the file
}

// CensusOptions override what is otherwise read from the file name and header.
type CensusOptions struct {
	Theme   string        // base-ic-<theme>-<year>; required when the name says nothing
	Vintage int           // vintage of columns without a year prefix; must agree with those that have one
	OnRows  func(n int64) // called every few thousand rows, for progress displays
}

// CensusReader streams the rows of a census or Filosofi IRIS file.
type CensusReader struct {
	Layout    string // LayoutCensus or LayoutFiloIRIS
	Theme     string
	Vintage   int
	Variables []Variable

	csv                 *ingest.CSV
	iris, com, typ, lab int
	width               int
	seen                map[string]bool
	row                 CensusRow
	pending             int64
	onRows              func(int64)
	decimal             decimalMark
	skipped             int64           // title lines before the header
	padded              map[string]bool // columns whose codes lost a leading zero, reported once
	Warnings            []ingest.Warning
}

// CensusRow is one IRIS. Values[i] belongs to Variables[i]; NaN marks a value that is
// not available (an empty field, or INSEE's ns, nd, s, nc markers), which input can
// never produce since NaN is rejected.
type CensusRow struct {
	Line    int64
	IRIS    string
	COM     string // "" in Filosofi files without a COM column
	TypIRIS string // "" in Filosofi files
	LabIRIS string
	Values  []float64
}

var (
	irisRe   = regexp.MustCompile(`^(?:[0-9]{2}|2[AB])[0-9]{7}$`)
	baseICRe = regexp.MustCompile(`(?i)^base-ic-(.+?)-((?:19|20)[0-9]{2})(?:[._-]|$)`)
	// A census variable carries its vintage in a prefix: P10_POP, C15_POP15P_CS3.
	prefixRe = regexp.MustCompile(`^[A-Z]{1,3}([0-9]{2})_`)
	// A Filosofi IRIS variable carries it in a suffix: DISP_MED15, DISP_S80S2018, DEC_MED17.
	filosofiRe = regexp.MustCompile(`^(DISP|DEC)_[A-Z0-9_]*?([0-9]{2})$`)
	// Zonings named with the year of their definition: UU2010, UU2020, REG2016, AU2010.
	zoningRe = regexp.MustCompile(`^(?:UU|AU|AAV|ZE|BV|REG|DEP)[0-9]{4}$`)
)

// idColumns are the identification columns INSEE's IRIS files have carried since 2009:
// the full set before 2017 (IRIS, REG, DEP, UU2010, COM, LIBCOM, TRIRIS, GRD_QUART,
// LIBIRIS, TYP_IRIS, MODIF_IRIS, LAB_IRIS), four of them since, and IRIS, LIBIRIS, COM,
// LIBCOM in Filosofi 2015–2017. None is a value: they are recognised by name, so a
// vintage's set needs no layout of its own.
var idColumns = map[string]bool{
	"IRIS": true, "REG": true, "DEP": true, "COM": true, "LIBCOM": true, "TRIRIS": true,
	"GRD_QUART": true, "LIBIRIS": true, "TYP_IRIS": true, "MODIF_IRIS": true, "LAB_IRIS": true,
	"LIBREG": true, "LIBDEP": true,
}

func isIDColumn(name string) bool { return idColumns[name] || zoningRe.MatchString(name) }

// ValidIRIS reports whether s is a 9-character IRIS code (commune code + 4 digits).
func ValidIRIS(s string) bool { return irisRe.MatchString(s) }

// NewCensusReader reads the header of a base-ic-* census file or of a Filosofi IRIS
// income file, told apart by their value columns (P20_… against DISP_…18). The
// delimiter is sniffed from the header and the decimal mark from the values, so a file
// re-saved with other separators reads the same.
func NewCensusReader(file string, r io.Reader, opt CensusOptions) (*CensusReader, error) {
	br := bufio.NewReaderSize(r, titleWindow)
	skipped := skipTitleLines(br)
	cr, err := newCensusReader(file, br, opt)
	if err != nil {
		return nil, shiftLine(err, skipped)
	}
	cr.skipped = skipped
	for i := range cr.Warnings {
		cr.Warnings[i].Line += skipped
	}
	return cr, nil
}

// Title rows: INSEE published the census before 2017 (and every vintage's full set of
// identification columns) as spreadsheets whose first rows hold a title, the source,
// notes and long labels; saved as CSV they come first. They are looked for in the first
// titleWindow bytes, at most maxTitleLines of them.
const (
	titleWindow   = 64 << 10
	maxTitleLines = 20
)

// skipTitleLines discards the lines before the header, which is the line just before the
// first one starting with an IRIS code, and returns how many it discarded: none when the
// header is the first line or no IRIS code starts a line of the window.
func skipTitleLines(br *bufio.Reader) int64 {
	buf, _ := br.Peek(titleWindow)
	var starts []int
	for pos, line := 0, 0; line <= maxTitleLines && pos < len(buf); line++ {
		starts = append(starts, pos)
		end := bytes.IndexByte(buf[pos:], '\n')
		if end < 0 {
			break
		}
		if f := firstField(buf[pos : pos+end]); line >= 1 && (irisRe.Match(f) || len(f) == 8 && f[0] != '0' && irisRe.MatchString("0"+string(f))) {
			header := line - 1
			br.Discard(starts[header])
			return int64(header)
		}
		pos += end + 1
	}
	return 0
}

// firstField returns the first field of a delimited line, without quotes and spaces.
func firstField(line []byte) []byte {
	if i := bytes.IndexAny(line, ";,\t"); i >= 0 {
		line = line[:i]
	}
	return bytes.Trim(line, "\"' \r")
}

// shiftLine moves the line of a ParseError past the title lines discarded.
func shiftLine(err error, skipped int64) error {
	if pe, ok := ingest.AsParseError(err); ok && pe.Line > 0 {
		pe.Line += skipped
	}
	return err
}

func newCensusReader(file string, r io.Reader, opt CensusOptions) (*CensusReader, error) {
	c, err := ingest.NewCSV(file, r)
	if err != nil {
		return nil, err
	}
	cr := &CensusReader{csv: c, iris: -1, com: -1, typ: -1, lab: -1, width: len(c.Header), seen: map[string]bool{}, onRows: opt.OnRows}
	var values []int // columns that are not identification
	filosofi, census := 0, 0
	for i, name := range c.Header {
		n := strings.ToUpper(name)
		switch {
		case n == "":
			return nil, ingest.Errorf(file, 1, i+1, "empty column name")
		case n == "IRIS":
			cr.iris = i
		case n == "COM":
			cr.com = i
		case n == "TYP_IRIS":
			cr.typ = i
		case n == "LAB_IRIS":
			cr.lab = i
		case isIDColumn(n):
		default:
			values = append(values, i)
			if filosofiRe.MatchString(n) {
				filosofi++
			} else {
				census++
			}
		}
	}
	if cr.iris < 0 {
		return nil, ingest.Errorf(file, 1, 0, "unknown header: no IRIS column (want IRIS;COM;TYP_IRIS;…;<P20_… variables> or IRIS;…;DISP_…)")
	}
	if len(values) == 0 {
		return nil, ingest.Errorf(file, 1, 0, "no variable columns")
	}
	if filosofi > 0 {
		if census > 0 {
			for _, i := range values {
				if !filosofiRe.MatchString(strings.ToUpper(c.Header[i])) {
					return nil, ingest.Errorf(file, 1, i+1, "column %q: want DISP_<indicator><yy> beside the other DISP_ columns", c.Header[i])
				}
			}
		}
		return cr, cr.filosofiHeader(values, opt)
	}
	return cr, cr.censusHeader(file, values, opt)
}

// yearOf reads a two-digit year: INSEE's IRIS files start in 2009, and a 99 is 1999.
func yearOf(yy string) int {
	y, _ := strconv.Atoi(yy)
	if y >= 90 {
		return 1900 + y
	}
	return 2000 + y
}

func (cr *CensusReader) filosofiHeader(values []int, opt CensusOptions) error {
	cr.Layout, cr.Theme = LayoutFiloIRIS, "filosofi-disp"
	h := cr.csv.Header
	if strings.HasPrefix(strings.ToUpper(h[values[0]]), "DEC_") {
		cr.Theme = "filosofi-dec"
	}
	if opt.Theme != "" {
		cr.Theme = opt.Theme
	}
	first := -1
	for _, col := range values {
		n := strings.ToUpper(h[col])
		y := yearOf(filosofiRe.FindStringSubmatch(n)[2])
		if first < 0 {
			first, cr.Vintage = col, y
		} else if y != cr.Vintage {
			return twoVintages(cr.csv.File, col, n, y, h[first], cr.Vintage)
		}
		cr.Variables = append(cr.Variables, Variable{Name: n, Vintage: y, Kind: Intensive, Col: col})
	}
	if opt.Vintage != 0 && opt.Vintage != cr.Vintage {
		return ingest.Errorf(cr.csv.File, 1, first+1, "column %q is %d, but --vintage says %d", h[first], cr.Vintage, opt.Vintage)
	}
	return cr.checkNames()
}

func twoVintages(file string, col int, name string, y int, firstName string, first int) error {
	return ingest.Errorf(file, 1, col+1, "column %q is %d, but column %q is %d: a file holds one vintage; split it into one file per vintage", name, y, firstName, first)
}

func (cr *CensusReader) censusHeader(file string, values []int, opt CensusOptions) error {
	cr.Layout = LayoutCensus
	h := cr.csv.Header
	for _, need := range []struct {
		name string
		col  int
	}{{"COM", cr.com}, {"TYP_IRIS", cr.typ}} {
		if need.col < 0 {
			return ingest.Errorf(file, 1, 0, "unknown header: no %s column (want IRIS;COM;TYP_IRIS;…;<P20_… variables> or IRIS;…;DISP_…)", need.name)
		}
	}
	nameYear := 0
	if m := baseICRe.FindStringSubmatch(filepath.Base(file)); m != nil {
		cr.Theme = strings.ToLower(m[1])
		nameYear, _ = strconv.Atoi(m[2])
	}
	if opt.Theme != "" {
		cr.Theme = opt.Theme
	}
	if cr.Theme == "" {
		return ingest.Errorf(file, 0, 0, "no theme: the file is not named base-ic-<theme>-<year>; give --theme")
	}
	// The prefixes say the vintage; --vintage (or else the name's year) only dates the
	// columns without one, and may not contradict them.
	first := -1
	for _, col := range values {
		n := strings.ToUpper(h[col])
		if m := prefixRe.FindStringSubmatch(n); m != nil {
			y := yearOf(m[1])
			if first < 0 {
				first, cr.Vintage = col, y
			} else if y != cr.Vintage {
				return twoVintages(file, col, n, y, h[first], cr.Vintage)
			}
		}
	}
	if first >= 0 && opt.Vintage != 0 && opt.Vintage != cr.Vintage {
		return ingest.Errorf(file, 1, first+1, "column %q is %d, but --vintage says %d", h[first], cr.Vintage, opt.Vintage)
	}
	if cr.Vintage == 0 {
		cr.Vintage = opt.Vintage
	}
	if cr.Vintage == 0 {
		cr.Vintage = nameYear
	}
	for _, col := range values {
		n := strings.ToUpper(h[col])
		if cr.Vintage == 0 {
			return ingest.Errorf(file, 1, col+1, "column %q: no vintage (no P20_-style prefix); give --vintage", h[col])
		}
		// Beside prefixed variables, a column without a prefix is an identification
		// column of a set not listed here (its values would be names or codes): left
		// out and reported, unless --vintage says the unprefixed columns are variables.
		if first >= 0 && opt.Vintage == 0 && !prefixRe.MatchString(n) {
			cr.Warnings = append(cr.Warnings, ingest.Warning{Line: 1, Code: "column_ignored", Key: h[col],
				Message: fmt.Sprintf("column %d %q has no year prefix (P%02d_…): read as identification and not loaded; give --vintage to load it as a variable", col+1, h[col], cr.Vintage%100)})
			continue
		}
		cr.Variables = append(cr.Variables, Variable{Name: n, Vintage: cr.Vintage, Kind: Extensive, Col: col})
	}
	return cr.checkNames()
}

func (cr *CensusReader) checkNames() error {
	seen := map[string]int{}
	for _, v := range cr.Variables {
		if j, dup := seen[v.Name]; dup {
			return ingest.Errorf(cr.csv.File, 1, v.Col+1, "column %q repeats column %d", v.Name, j+1)
		}
		seen[v.Name] = v.Col
	}
	cr.row.Values = make([]float64, len(cr.Variables))
	return nil
}

// Scope is what a later load of the same theme and vintage replaces: "evol-struct-pop/2020".
func (cr *CensusReader) Scope() string { return fmt.Sprintf("%s/%d", cr.Theme, cr.Vintage) }

// Next returns the next IRIS row (reused between calls) or io.EOF. A malformed row is a
// ParseError naming its line and column.
func (cr *CensusReader) Next() (*CensusRow, error) {
	row, err := cr.next()
	if err != nil {
		return nil, shiftLine(err, cr.skipped)
	}
	return row, nil
}

func (cr *CensusReader) next() (*CensusRow, error) {
	rec, err := cr.csv.Read()
	if err == io.EOF {
		cr.flush()
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	if len(rec) != cr.width {
		return nil, cr.csv.Errorf(min(len(rec), cr.width), "%d fields, the header has %d", len(rec), cr.width)
	}
	row := &cr.row
	row.Line = cr.csv.Line() + cr.skipped
	row.IRIS = strings.TrimSpace(rec[cr.iris])
	if padded, ok := restoreZero(row.IRIS, 9); ok {
		row.IRIS = padded
		cr.warnPadded(row.Line, "IRIS", row.IRIS)
	}
	if !irisRe.MatchString(row.IRIS) {
		return nil, cr.csv.Errorf(cr.iris, "IRIS code %q: want 9 characters, commune code + 4 digits", row.IRIS)
	}
	if cr.seen[row.IRIS] {
		return nil, cr.csv.Errorf(cr.iris, "IRIS %s listed twice", row.IRIS)
	}
	// A clone: the field shares the memory of its whole line, which the map would
	// otherwise keep alive for every IRIS of the file.
	row.IRIS = strings.Clone(row.IRIS)
	cr.seen[row.IRIS] = true
	row.COM, row.TypIRIS, row.LabIRIS = "", "", ""
	if cr.com >= 0 {
		row.COM = strings.Clone(strings.TrimSpace(rec[cr.com]))
		if padded, ok := restoreZero(row.COM, 5); ok {
			row.COM = padded
			cr.warnPadded(row.Line, "COM", row.IRIS)
		}
		if len(row.COM) != 5 {
			return nil, cr.csv.Errorf(cr.com, "commune code %q: want 5 characters", row.COM)
		}
		if row.COM != row.IRIS[:5] {
			cr.Warnings = append(cr.Warnings, ingest.Warning{Line: row.Line, Code: "iris_commune", Key: row.IRIS,
				Message: fmt.Sprintf("IRIS %s does not start with its COM %s", row.IRIS, row.COM)})
		}
	}
	if cr.typ >= 0 {
		row.TypIRIS = strings.Clone(strings.TrimSpace(rec[cr.typ]))
	}
	if cr.lab >= 0 {
		row.LabIRIS = strings.Clone(strings.TrimSpace(rec[cr.lab]))
	}
	for i, v := range cr.Variables {
		s := rec[v.Col]
		if notAvailable(s) {
			row.Values[i] = math.NaN()
			continue
		}
		f, err := cr.decimal.parse(s)
		if err != nil {
			return nil, cr.csv.Errorf(v.Col, "%s: %v", v.Name, err)
		}
		row.Values[i] = f
	}
	cr.pending++
	if cr.pending == 4096 {
		cr.flush()
	}
	return row, nil
}

func (cr *CensusReader) flush() {
	if cr.onRows != nil && cr.pending > 0 {
		cr.onRows(cr.pending)
	}
	cr.pending = 0
}

// restoreZero puts back the leading zero a spreadsheet drops from the codes of the
// départements 01 to 09 when it reads them as numbers: 10010000 for IRIS 010010000,
// 1001 for commune 01001. ok is false for anything but a code one digit short whose
// first digit is not 0 (01002000 is a truncated code, not a lost zero).
func restoreZero(code string, width int) (string, bool) {
	if len(code) != width-1 || code[0] == '0' {
		return code, false
	}
	for i := range len(code) {
		if code[i] < '0' || code[i] > '9' {
			return code, false
		}
	}
	return "0" + code, true
}

// warnPadded reports, once per column, that codes lost their leading zero.
func (cr *CensusReader) warnPadded(line int64, column, iris string) {
	if cr.padded[column] {
		return
	}
	if cr.padded == nil {
		cr.padded = map[string]bool{}
	}
	cr.padded[column] = true
	cr.Warnings = append(cr.Warnings, ingest.Warning{Line: line, Code: "code_zero_restored", Key: iris,
		Message: fmt.Sprintf("%s codes one digit short (a spreadsheet read them as numbers): leading zero restored, first at this line", column)})
}

// notAvailable reports whether a field holds no value: empty, or one of INSEE's
// markers for a figure withheld (s: secret, ns: not significant, nd: not available,
// nc: not computed). They are NULL when stored, never zero.
func notAvailable(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) > 2 {
		return false
	}
	switch strings.ToLower(s) {
	case "", "s", "ns", "nd", "nc":
		return true
	}
	return false
}

// decimalMark is the decimal separator of a file, sniffed from its first value with a
// fraction: INSEE writes "1234.5", French re-saves "1234,5" (quoted when the delimiter
// is a comma). A file mixing both is refused rather than read half wrong.
type decimalMark byte

func (d *decimalMark) parse(s string) (float64, error) {
	f, err := parseFloat(s)
	if err != nil {
		return 0, err
	}
	var mark decimalMark
	if strings.IndexByte(s, ',') >= 0 {
		mark = ','
	} else if strings.IndexByte(s, '.') >= 0 {
		mark = '.'
	}
	switch {
	case mark == 0:
	case *d == 0:
		*d = mark
	case *d != mark:
		return 0, fmt.Errorf("%q has a decimal %q, but the file's first decimal value has %q", s, rune(mark), rune(*d))
	}
	return f, nil
}

// parseFloat reads INSEE's dot decimals fast, falling back to the French forms
// ("1 234,5") other re-exports use. Empty, NaN and infinities are errors.
func parseFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return f, nil
	}
	if err == nil || !errors.Is(err, strconv.ErrRange) {
		if g, err2 := ingest.ParseDecimal(s); err2 == nil {
			return g, nil
		}
	}
	return 0, fmt.Errorf("not a number: %q", s)
}
