// Package insee parses INSEE, COG and BAN sources: IRIS census bases (base-ic-*),
// Filosofi income by IRIS (DISP_*), the Filosofi 200 m grid (CSV or GeoJSON), the COG
// commune lists (INSEE CSV or @etalab/decoupage-administratif JSON) and BAN addresses.
// Every reader streams: memory stays flat whatever the size of the file.
package insee

import (
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
	LayoutCensus   = "base-ic"       // INSEE IRIS census base: IRIS;COM;TYP_IRIS;LAB_IRIS;P20_…
	LayoutFiloIRIS = "filosofi-disp" // Filosofi income by IRIS: IRIS;DISP_…
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
	Vintage int           // default vintage of the file; 0: from the name, else the columns
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
	Warnings            []ingest.Warning
}

// CensusRow is one IRIS. Values[i] belongs to Variables[i]; NaN marks an empty field
// (no value), which input can never produce since NaN is rejected.
type CensusRow struct {
	Line    int64
	IRIS    string
	COM     string // "" in Filosofi files
	TypIRIS string
	LabIRIS string
	Values  []float64
}

var (
	irisRe     = regexp.MustCompile(`^(?:[0-9]{2}|2[AB])[0-9]{7}$`)
	baseICRe   = regexp.MustCompile(`(?i)^base-ic-(.+?)-((?:19|20)[0-9]{2})(?:[._-]|$)`)
	prefixRe   = regexp.MustCompile(`^[A-Z]{1,3}([0-9]{2})_`)
	dispYearRe = regexp.MustCompile(`^DISP_.*?([0-9]{2})$`)
)

// ValidIRIS reports whether s is a 9-character IRIS code (commune code + 4 digits).
func ValidIRIS(s string) bool { return irisRe.MatchString(s) }

// NewCensusReader reads the header of a base-ic-* census file or of a Filosofi IRIS
// income file (header IRIS;DISP_…), detected from the header.
func NewCensusReader(file string, r io.Reader, opt CensusOptions) (*CensusReader, error) {
	c, err := ingest.NewCSV(file, r)
	if err != nil {
		return nil, err
	}
	cr := &CensusReader{csv: c, iris: -1, com: -1, typ: -1, lab: -1, width: len(c.Header), seen: map[string]bool{}, onRows: opt.OnRows}
	h := c.Header
	if len(h) >= 2 && strings.EqualFold(h[0], "IRIS") && strings.HasPrefix(strings.ToUpper(h[1]), "DISP_") {
		return cr, cr.filosofiHeader(opt)
	}
	return cr, cr.censusHeader(file, opt)
}

func (cr *CensusReader) filosofiHeader(opt CensusOptions) error {
	cr.Layout, cr.Theme, cr.iris = LayoutFiloIRIS, "filosofi-disp", 0
	if opt.Theme != "" {
		cr.Theme = opt.Theme
	}
	year := 0
	for i, name := range cr.csv.Header[1:] {
		col := i + 1
		n := strings.ToUpper(name)
		m := dispYearRe.FindStringSubmatch(n)
		if m == nil {
			return ingest.Errorf(cr.csv.File, 1, col+1, "column %q: want DISP_<indicator><yy>", name)
		}
		y, _ := strconv.Atoi(m[1])
		y += 2000
		if year == 0 {
			year = y
		} else if y != year {
			return ingest.Errorf(cr.csv.File, 1, col+1, "column %q: year %d, but the file is %d", name, y, year)
		}
		cr.Variables = append(cr.Variables, Variable{Name: n, Vintage: y, Kind: Intensive, Col: col})
	}
	if len(cr.Variables) == 0 {
		return ingest.Errorf(cr.csv.File, 1, 0, "no variable columns")
	}
	cr.Vintage = year
	if opt.Vintage != 0 {
		cr.Vintage = opt.Vintage
		for i := range cr.Variables {
			cr.Variables[i].Vintage = opt.Vintage
		}
	}
	return cr.checkNames()
}

func (cr *CensusReader) censusHeader(file string, opt CensusOptions) error {
	cr.Layout = LayoutCensus
	h := cr.csv.Header
	for i, name := range h {
		switch strings.ToUpper(name) {
		case "IRIS":
			cr.iris = i
		case "COM":
			cr.com = i
		case "TYP_IRIS":
			cr.typ = i
		case "LAB_IRIS":
			cr.lab = i
		}
	}
	for _, need := range []struct {
		name string
		col  int
	}{{"IRIS", cr.iris}, {"COM", cr.com}, {"TYP_IRIS", cr.typ}} {
		if need.col < 0 {
			return ingest.Errorf(file, 1, 0, "unknown header: no %s column (want IRIS;COM;TYP_IRIS;LAB_IRIS;<variables> or IRIS;DISP_…)", need.name)
		}
	}
	if m := baseICRe.FindStringSubmatch(filepath.Base(file)); m != nil {
		cr.Theme = strings.ToLower(m[1])
		cr.Vintage, _ = strconv.Atoi(m[2])
	}
	if opt.Theme != "" {
		cr.Theme = opt.Theme
	}
	if opt.Vintage != 0 {
		cr.Vintage = opt.Vintage
	}
	if cr.Theme == "" {
		return ingest.Errorf(file, 0, 0, "no theme: the file is not named base-ic-<theme>-<year>; give --theme")
	}
	for i, name := range h {
		if i == cr.iris || i == cr.com || i == cr.typ || i == cr.lab {
			continue
		}
		n := strings.ToUpper(name)
		if n == "" {
			return ingest.Errorf(file, 1, i+1, "empty column name")
		}
		v := Variable{Name: n, Vintage: cr.Vintage, Kind: Extensive, Col: i}
		if m := prefixRe.FindStringSubmatch(n); m != nil && opt.Vintage == 0 {
			y, _ := strconv.Atoi(m[1])
			v.Vintage = 2000 + y
		}
		if v.Vintage == 0 {
			return ingest.Errorf(file, 1, i+1, "column %q: no vintage (no P20_-style prefix); give --vintage", name)
		}
		cr.Variables = append(cr.Variables, v)
	}
	if len(cr.Variables) == 0 {
		return ingest.Errorf(file, 1, 0, "no variable columns")
	}
	if cr.Vintage == 0 { // neither name nor flag: the most common column vintage
		count := map[int]int{}
		for _, v := range cr.Variables {
			count[v.Vintage]++
			if count[v.Vintage] > count[cr.Vintage] {
				cr.Vintage = v.Vintage
			}
		}
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
	row.Line = cr.csv.Line()
	row.IRIS = strings.TrimSpace(rec[cr.iris])
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
		if len(row.COM) != 5 {
			return nil, cr.csv.Errorf(cr.com, "commune code %q: want 5 characters", row.COM)
		}
		if row.COM != row.IRIS[:5] {
			cr.Warnings = append(cr.Warnings, ingest.Warning{Line: row.Line, Code: "iris_commune", Key: row.IRIS,
				Message: fmt.Sprintf("IRIS %s does not start with its COM %s", row.IRIS, row.COM)})
		}
		row.TypIRIS = strings.Clone(strings.TrimSpace(rec[cr.typ]))
		if cr.lab >= 0 {
			row.LabIRIS = strings.Clone(strings.TrimSpace(rec[cr.lab]))
		}
	}
	for i, v := range cr.Variables {
		s := rec[v.Col]
		if s == "" {
			row.Values[i] = math.NaN()
			continue
		}
		f, err := parseFloat(s)
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
