package insee

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/ingest"
)

// COG layouts.
const (
	LayoutCOGCSV          = "insee-csv"           // v_commune_YYYY.csv
	LayoutCOGJSON         = "etalab-json"         // @etalab/decoupage-administratif communes.json
	LayoutDepartementJSON = "etalab-departements" // @etalab/decoupage-administratif departements.json
)

// Commune types, as INSEE's TYPECOM.
const (
	TypeCommune        = "COM"  // commune-actuelle
	TypeArrondissement = "ARM"  // arrondissement-municipal
	TypeDeleguee       = "COMD" // commune-deleguee
	TypeAssociee       = "COMA" // commune-associee
)

var etalabTypes = map[string]string{
	"commune-actuelle":         TypeCommune,
	"arrondissement-municipal": TypeArrondissement,
	"commune-deleguee":         TypeDeleguee,
	"commune-associee":         TypeAssociee,
}

// Commune is one record of a COG list. Current communes and arrondissements have unique
// codes; a delegated or associated commune may share its code with its parent.
type Commune struct {
	Line        int64 // CSV line, or record number in a JSON array
	Code        string
	Name        string
	Type        string // TypeCommune, TypeArrondissement, TypeDeleguee, TypeAssociee
	Dept        string
	Region      string
	Zone        string // metro, drom, com
	Parent      string // the city of an arrondissement, the commune of a delegated one
	Population  int64  // -1 when not given
	FormerCodes []string
	Postcodes   []string
}

// Departement is one record of departements.json.
type Departement struct {
	Code, Name, Region, Zone, ChefLieu string
}

// COGReader streams a COG commune list (INSEE CSV or etalab JSON) or an etalab
// departements.json, detected from the content.
type COGReader struct {
	Layout string
	file   string
	csv    *ingest.CSV
	cols   map[string]int
	dec    *json.Decoder
	n      int64
	first  *etalabRecord
	done   bool
}

type etalabRecord struct {
	Code         string   `json:"code"`
	Nom          string   `json:"nom"`
	Type         *string  `json:"type"`
	Zone         string   `json:"zone"`
	Departement  *string  `json:"departement"`
	Region       *string  `json:"region"`
	Commune      string   `json:"commune"`
	ChefLieu     string   `json:"chefLieu"`
	Population   *int64   `json:"population"`
	AnciensCodes []string `json:"anciensCodes"`
	CodesPostaux []string `json:"codesPostaux"`
}

// NewCOGReader detects the layout of a COG file and reads its header or first record.
func NewCOGReader(file string, r io.Reader) (*COGReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(64)
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	c := &COGReader{file: file}
	if len(head) > 0 && head[0] == '[' {
		return c, c.openJSON(br)
	}
	csv, err := ingest.NewCSV(file, br)
	if err != nil {
		return nil, err
	}
	c.Layout, c.csv, c.cols = LayoutCOGCSV, csv, map[string]int{}
	for _, name := range []string{"TYPECOM", "COM", "REG", "DEP", "LIBELLE", "NCCENR", "COMPARENT"} {
		c.cols[name] = csv.Index(name)
	}
	if c.cols["TYPECOM"] < 0 || c.cols["COM"] < 0 || (c.cols["LIBELLE"] < 0 && c.cols["NCCENR"] < 0) {
		return nil, ingest.Errorf(file, 1, 0, "unknown header: want TYPECOM, COM and LIBELLE columns (INSEE v_commune) or a JSON array")
	}
	return c, nil
}

func (c *COGReader) openJSON(r io.Reader) error {
	c.dec = json.NewDecoder(r)
	if t, err := c.dec.Token(); err != nil || t != json.Delim('[') {
		return c.jsonErr("want a JSON array: %v", err)
	}
	if !c.dec.More() {
		return c.jsonErr("empty array")
	}
	rec, err := c.decode()
	if err != nil {
		return err
	}
	switch {
	case rec.Type != nil:
		c.Layout = LayoutCOGJSON
	case rec.Departement == nil && rec.Region != nil:
		c.Layout = LayoutDepartementJSON
	default:
		return c.jsonErr("unknown layout: records have neither type (communes.json) nor region (departements.json)")
	}
	c.first = rec
	return nil
}

func (c *COGReader) decode() (*etalabRecord, error) {
	c.n++
	var rec etalabRecord
	if err := c.dec.Decode(&rec); err != nil {
		return nil, c.jsonErr("%v", err)
	}
	return &rec, nil
}

func (c *COGReader) jsonErr(format string, args ...any) error {
	return &ingest.ParseError{File: c.file, Line: c.n, Err: fmt.Errorf("record %d: "+format, append([]any{c.n}, args...)...)}
}

// Departements reports whether the file is a departements.json.
func (c *COGReader) Departements() bool { return c.Layout == LayoutDepartementJSON }

func (c *COGReader) nextJSON() (*etalabRecord, error) {
	if rec := c.first; rec != nil {
		c.first = nil
		return rec, nil
	}
	if c.done || !c.dec.More() {
		c.done = true
		return nil, io.EOF
	}
	return c.decode()
}

// NextDepartement returns the next département of a departements.json, or io.EOF.
func (c *COGReader) NextDepartement() (*Departement, error) {
	if !c.Departements() {
		return nil, fmt.Errorf("insee: %s is not a departements file", c.file)
	}
	rec, err := c.nextJSON()
	if err != nil {
		return nil, err
	}
	code, err := electoral.DeptCode(rec.Code)
	if err != nil || code != rec.Code || code == "ZX" || code == "ZZ" {
		return nil, c.jsonErr("département code %q", rec.Code)
	}
	if rec.Nom == "" {
		return nil, c.jsonErr("département %s has no nom", rec.Code)
	}
	d := &Departement{Code: code, Name: rec.Nom, Zone: rec.Zone, ChefLieu: rec.ChefLieu}
	if rec.Region != nil {
		d.Region = *rec.Region
	}
	return d, nil
}

// Next returns the next commune record, or io.EOF.
func (c *COGReader) Next() (*Commune, error) {
	if c.Departements() {
		return nil, fmt.Errorf("insee: %s is a departements file", c.file)
	}
	if c.csv != nil {
		return c.nextCSV()
	}
	rec, err := c.nextJSON()
	if err != nil {
		return nil, err
	}
	typ, ok := "", false
	if rec.Type != nil {
		typ, ok = etalabTypes[*rec.Type]
	}
	if !ok {
		return nil, c.jsonErr("unknown type %v", deref(rec.Type))
	}
	m := &Commune{Line: c.n, Code: rec.Code, Name: rec.Nom, Type: typ, Zone: rec.Zone,
		Dept: deref(rec.Departement), Region: deref(rec.Region), Population: -1,
		FormerCodes: rec.AnciensCodes, Postcodes: rec.CodesPostaux}
	if rec.Population != nil {
		m.Population = *rec.Population
	}
	switch typ {
	case TypeArrondissement:
		m.Parent = rec.Commune
	case TypeDeleguee, TypeAssociee:
		m.Parent = rec.ChefLieu
	}
	if err := m.check(); err != nil {
		return nil, c.jsonErr("%v", err)
	}
	return m, nil
}

func (c *COGReader) nextCSV() (*Commune, error) {
	rec, err := c.csv.Read()
	if err != nil {
		return nil, err
	}
	if len(rec) != len(c.csv.Header) {
		return nil, c.csv.Errorf(min(len(rec), len(c.csv.Header)), "%d fields, the header has %d", len(rec), len(c.csv.Header))
	}
	get := func(name string) string {
		if i := c.cols[name]; i >= 0 {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	m := &Commune{Line: c.csv.Line(), Code: get("COM"), Name: get("LIBELLE"), Dept: get("DEP"),
		Region: get("REG"), Parent: get("COMPARENT"), Population: -1}
	if m.Name == "" {
		m.Name = get("NCCENR")
	}
	switch t := strings.ToUpper(get("TYPECOM")); t {
	case TypeCommune, TypeArrondissement, TypeDeleguee, TypeAssociee:
		m.Type = t
	default:
		return nil, c.csv.Errorf(c.cols["TYPECOM"], "TYPECOM %q: want COM, ARM, COMD or COMA", t)
	}
	if m.Type == TypeCommune {
		m.Parent = ""
	}
	m.Zone = "metro" // v_commune lists France: metropolitan and the five DROM
	if len(m.Dept) == 3 || strings.HasPrefix(m.Code, "97") {
		m.Zone = "drom"
	}
	if err := m.check(); err != nil {
		return nil, c.csv.Errorf(c.cols["COM"], "%v", err)
	}
	return m, nil
}

func (m *Commune) check() error {
	if !validCommune(m.Code) {
		return fmt.Errorf("commune code %q: want 5 characters", m.Code)
	}
	if m.Name == "" {
		return fmt.Errorf("commune %s has no name", m.Code)
	}
	if m.Type != TypeCommune && !validCommune(m.Parent) {
		return fmt.Errorf("%s %s: parent %q is not a commune code", m.Type, m.Code, m.Parent)
	}
	return nil
}

func validCommune(s string) bool {
	c, err := electoral.CommuneCode("", s)
	return err == nil && c == s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
